"""Interaction responses: the callback endpoint (``POST /interactions/{id}/{token}/callback``,
with or without ``?with_response=true``), and the interaction webhook (follow-ups, and the
original response's GET/PATCH/DELETE). Neither needs the bot token nor counts against the global
limit. The first response is due within the deadline (3 s) and only once; the token lives 15
minutes. The first follow-up after a deferred response replaces the "thinking" message, as on
Discord."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.responses import Response

from . import wire
from .messages import apply_edit, build_message, check_body
from .model import Callback, Channel, DiscordState, Interaction, Message
from .rest import Call, RestApi, no_content, ok

MessageHook = Callable[[str, Message], None]

# Which callback types answer which interaction types.
ALLOWED_CALLBACKS = {
    wire.PING: {wire.PONG},
    wire.APPLICATION_COMMAND: {
        wire.CHANNEL_MESSAGE_WITH_SOURCE,
        wire.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE,
        wire.MODAL,
        wire.LAUNCH_ACTIVITY,
    },
    wire.MESSAGE_COMPONENT: {4, 5, 6, 7, 9, 12},
    wire.APPLICATION_COMMAND_AUTOCOMPLETE: {wire.APPLICATION_COMMAND_AUTOCOMPLETE_RESULT},
    wire.MODAL_SUBMIT: {4, 5, 6, 7},
}


class InteractionsApi:
    def __init__(
        self,
        state: DiscordState,
        on_message: MessageHook,
        *,
        response_deadline: float = 3.0,
        token_lifetime: float = 900.0,
    ) -> None:
        self.state = state
        self.on_message = on_message
        self.response_deadline = response_deadline
        self.token_lifetime = token_lifetime
        self.callbacks: list[Callback] = []  # every response, accepted or refused

    def register(self, api: RestApi) -> None:
        api.add(
            "POST",
            "/interactions/{interaction_id}/{interaction_token}/callback",
            self.callback,
            auth=False,
        )
        hook = "/webhooks/{webhook_id}/{webhook_token}"
        api.add("POST", hook, self.followup, auth=False)
        for target in ("@original", "{message_id}"):
            path = f"{hook}/messages/{target}"
            api.add("GET", path, self.get_message, auth=False)
            api.add("PATCH", path, self.edit_message, auth=False)
            api.add("DELETE", path, self.delete_message, auth=False)

    # --- the initial response ----------------------------------------------------------------

    def _channel(self, interaction: Interaction) -> Channel:
        found = self.state.channel(interaction.channel_id or "")
        if found is not None:
            return found
        return Channel(interaction.channel_id or "0", None, guild_id=interaction.guild_id)

    def respond(
        self, interaction: Interaction, body: Any, via: str
    ) -> tuple[int, dict[str, Any] | None, Message | None]:
        """Apply one interaction response; returns (HTTP status, error body or None, the
        message it made or None). ``via``: ``rest`` or ``http``."""
        now = self.state.clock()
        type_ = body.get("type") if isinstance(body, dict) else None
        data = body.get("data") if isinstance(body, dict) else None
        data = data if isinstance(data, dict) else {}
        callback = Callback(interaction.id, type_ if isinstance(type_, int) else -1, data, now, via)
        self.callbacks.append(callback)

        def refuse(status: int, error: dict[str, Any]) -> tuple[int, dict[str, Any], None]:
            callback.accepted = False
            callback.status = status
            return status, error, None

        if interaction.acknowledged:
            return refuse(
                400,
                {
                    "message": "Interaction has already been acknowledged.",
                    "code": wire.INTERACTION_ALREADY_ACKNOWLEDGED,
                },
            )
        if now - interaction.created_at > self.response_deadline:
            return refuse(404, {"message": "Unknown interaction", "code": wire.UNKNOWN_INTERACTION})
        allowed = ALLOWED_CALLBACKS.get(interaction.type, set())
        if type_ not in allowed:
            return refuse(
                400,
                {
                    "code": wire.INVALID_FORM_BODY,
                    "errors": wire.field_errors(
                        "type",
                        "INTERACTION_CALLBACK_TYPE_INVALID",
                        f"Value must be one of {sorted(allowed)}.",
                    ),
                    "message": "Invalid Form Body",
                },
            )
        message = None
        if type_ in (wire.CHANNEL_MESSAGE_WITH_SOURCE, wire.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE):
            checked = check_body(self.state, data, None, allow_reference=False)
            if checked.errors:
                return refuse(
                    400,
                    {
                        "code": wire.INVALID_FORM_BODY,
                        "errors": {"data": checked.errors},
                        "message": "Invalid Form Body",
                    },
                )
            if type_ == wire.CHANNEL_MESSAGE_WITH_SOURCE and checked.empty:
                return refuse(
                    400,
                    {
                        "message": "Cannot send an empty message",
                        "code": wire.CANNOT_SEND_EMPTY_MESSAGE,
                    },
                )
            if type_ == wire.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE:
                checked.content = ""
                checked.flags = wire.LOADING | (checked.flags & wire.EPHEMERAL)
            message = build_message(
                self.state,
                checked,
                self._channel(interaction),
                source="interaction",
                type_=wire.MESSAGE_CHAT_INPUT_COMMAND,
                interaction_id=interaction.id,
            )
            interaction.original_message_id = message.id
            self._store(message)
        interaction.callbacks.append(callback)
        callback.status = 204
        return 204, None, message

    def with_response(
        self, interaction: Interaction, type_: int, message: Message | None
    ) -> dict[str, Any]:
        """The ``?with_response=true`` answer (an interaction callback response object)."""
        info: dict[str, Any] = {"id": interaction.id, "type": interaction.type}
        resource: dict[str, Any] = {"type": type_}
        if message is not None:
            info.update(
                response_message_id=message.id,
                response_message_loading=bool(message.flags & wire.LOADING),
                response_message_ephemeral=message.ephemeral,
            )
            resource["message"] = message.payload(self.state.user)
        return {"interaction": info, "resource": resource}

    def _store(self, message: Message) -> None:
        self.state.messages[message.id] = message
        self.state.sent.append(message)
        self.on_message("MESSAGE_CREATE", message)

    async def callback(self, call: Call) -> Response:
        interaction = self.state.interactions.get(call.params["interaction_id"])
        if interaction is None or interaction.token != call.params["interaction_token"]:
            return wire.discord_error(404, "Unknown interaction", wire.UNKNOWN_INTERACTION)
        body = call.json()
        status, error, message = self.respond(interaction, body, "rest")
        if error is not None:
            return ok(error, status)
        if call.query.get("with_response", "").lower() == "true":
            self.callbacks[-1].status = 200
            return ok(self.with_response(interaction, int(body["type"]), message))
        return no_content()

    # --- the interaction webhook ---------------------------------------------------------------

    def _interaction(self, call: Call) -> tuple[Interaction | None, Response | None]:
        if call.params["webhook_id"] != self.state.application.id:
            return None, wire.discord_error(404, "Unknown Webhook", wire.UNKNOWN_WEBHOOK)
        interaction = self.state.interaction_by_token(call.params["webhook_token"])
        if interaction is None:
            return None, wire.discord_error(404, "Unknown Webhook", wire.UNKNOWN_WEBHOOK)
        if self.state.clock() - interaction.created_at > self.token_lifetime:
            return None, wire.discord_error(401, "Invalid Webhook Token", 50027)
        return interaction, None

    def _target(
        self, call: Call, interaction: Interaction
    ) -> tuple[Message | None, Response | None]:
        wanted = call.params.get("message_id")
        message_id = interaction.original_message_id if wanted is None else wanted
        mine = {interaction.original_message_id, *interaction.followup_ids}
        message = self.state.messages.get(message_id or "")
        if message is None or message.id not in mine or message.deleted:
            return None, wire.discord_error(404, "Unknown Message", wire.UNKNOWN_MESSAGE)
        return message, None

    async def followup(self, call: Call) -> Response:
        interaction, refused = self._interaction(call)
        if interaction is None:
            return refused or wire.discord_error(404, "Unknown Webhook", wire.UNKNOWN_WEBHOOK)
        if not interaction.acknowledged:
            return wire.discord_error(404, "Unknown Webhook", wire.UNKNOWN_WEBHOOK)
        body = call.json_object()
        checked = check_body(self.state, body, None, allow_reference=False)
        if checked.errors:
            return wire.invalid_form_body(checked.errors)
        if checked.empty:
            return wire.discord_error(
                400, "Cannot send an empty message", wire.CANNOT_SEND_EMPTY_MESSAGE
            )
        original = self.state.messages.get(interaction.original_message_id or "")
        if original is not None and original.flags & wire.LOADING and not original.deleted:
            # The first follow-up after a deferred response replaces the "thinking" message.
            apply_edit(self.state, original, body)
            interaction.followup_ids.append(original.id)
            self.on_message("MESSAGE_UPDATE", original)
            return ok(original.payload(self.state.user))
        message = build_message(
            self.state,
            checked,
            self._channel(interaction),
            source="followup",
            interaction_id=interaction.id,
        )
        interaction.followup_ids.append(message.id)
        self._store(message)
        return ok(message.payload(self.state.user))

    async def get_message(self, call: Call) -> Response:
        interaction, refused = self._interaction(call)
        if interaction is None:
            return refused or wire.discord_error(404, "Unknown Webhook", wire.UNKNOWN_WEBHOOK)
        message, missing = self._target(call, interaction)
        if message is None:
            return missing or wire.discord_error(404, "Unknown Message", wire.UNKNOWN_MESSAGE)
        return ok(message.payload(self.state.user))

    async def edit_message(self, call: Call) -> Response:
        interaction, refused = self._interaction(call)
        if interaction is None:
            return refused or wire.discord_error(404, "Unknown Webhook", wire.UNKNOWN_WEBHOOK)
        message, missing = self._target(call, interaction)
        if message is None:
            return missing or wire.discord_error(404, "Unknown Message", wire.UNKNOWN_MESSAGE)
        errors = apply_edit(self.state, message, call.json_object())
        if errors:
            return wire.invalid_form_body(errors)
        self.on_message("MESSAGE_UPDATE", message)
        return ok(message.payload(self.state.user))

    async def delete_message(self, call: Call) -> Response:
        interaction, refused = self._interaction(call)
        if interaction is None:
            return refused or wire.discord_error(404, "Unknown Webhook", wire.UNKNOWN_WEBHOOK)
        message, missing = self._target(call, interaction)
        if message is None:
            return missing or wire.discord_error(404, "Unknown Message", wire.UNKNOWN_MESSAGE)
        message.deleted = True
        self.on_message("MESSAGE_DELETE", message)
        return no_content()
