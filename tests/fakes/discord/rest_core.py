"""REST resources other than commands and interactions: the bot user, the gateway URL, the
application, guilds, channels, messages, DMs and reactions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from starlette.responses import Response

from . import wire
from .messages import apply_edit, build_message, check_body
from .model import Channel, DiscordState, Message, Reaction, User
from .rest import Call, RestApi, no_content, ok

MessageHook = Callable[[str, Message], None]  # (event name, message)


class CoreApi:
    def __init__(
        self,
        state: DiscordState,
        gateway_info: Callable[[], dict[str, Any]],
        on_message: MessageHook,
    ) -> None:
        self.state = state
        self.gateway_info = gateway_info
        self.on_message = on_message

    def register(self, api: RestApi) -> None:
        api.add("GET", "/users/@me", self.get_me)
        api.add("GET", "/users/{user_id}", self.get_user)
        api.add("POST", "/users/@me/channels", self.open_dm)
        api.add("GET", "/gateway", self.get_gateway, auth=False)
        api.add("GET", "/gateway/bot", self.get_gateway_bot)
        api.add("GET", "/applications/@me", self.get_application)
        api.add("GET", "/oauth2/applications/@me", self.get_application)
        api.add("GET", "/soundboard-default-sounds", self.default_sounds)
        api.add("GET", "/guilds/{guild_id}", self.get_guild)
        api.add("GET", "/guilds/{guild_id}/channels", self.get_guild_channels)
        api.add("GET", "/guilds/{guild_id}/roles", self.get_guild_roles)
        api.add("GET", "/guilds/{guild_id}/members/{user_id}", self.get_member)
        api.add("GET", "/channels/{channel_id}", self.get_channel)
        api.add("POST", "/channels/{channel_id}/messages", self.create_message)
        api.add("GET", "/channels/{channel_id}/messages/{message_id}", self.get_message)
        api.add("PATCH", "/channels/{channel_id}/messages/{message_id}", self.edit_message)
        api.add("DELETE", "/channels/{channel_id}/messages/{message_id}", self.delete_message)
        api.add("POST", "/channels/{channel_id}/typing", self.typing)
        reaction = "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me"
        api.add("PUT", reaction, self.add_reaction)
        api.add("DELETE", reaction, self.remove_reaction)

    # --- users, gateway, application ---------------------------------------------------------

    async def get_me(self, call: Call) -> Response:
        person = self.state.bearer_user(call.request.headers.get("authorization", ""))
        if person is not None:  # a person's OAuth2 token: them
            return ok(self.state.users[person].payload())
        body = self.state.bot.payload()
        body.update(verified=True, mfa_enabled=False, email=None, locale="en-US")
        return ok(body)

    async def get_user(self, call: Call) -> Response:
        user = self.state.users.get(call.params["user_id"])
        if user is None:
            return wire.discord_error(404, "Unknown User", wire.UNKNOWN_USER)
        return ok(user.payload())

    async def get_gateway(self, call: Call) -> Response:
        return ok({"url": self.gateway_info()["url"]})

    async def get_gateway_bot(self, call: Call) -> Response:
        return ok(self.gateway_info())

    async def get_application(self, call: Call) -> Response:
        return ok(self.state.application.payload(self.state.bot))

    async def default_sounds(self, call: Call) -> Response:
        return ok([])

    # --- guilds and channels -----------------------------------------------------------------

    def _guild(self, guild_id: str) -> Any:
        guild = self.state.guilds.get(guild_id)
        if guild is None or self.state.bot.id not in guild.members:
            return None
        return guild

    async def get_guild(self, call: Call) -> Response:
        guild = self._guild(call.params["guild_id"])
        if guild is None:
            return wire.discord_error(404, "Unknown Guild", wire.UNKNOWN_GUILD)
        return ok(guild.payload())

    async def get_guild_channels(self, call: Call) -> Response:
        guild = self._guild(call.params["guild_id"])
        if guild is None:
            return wire.discord_error(404, "Unknown Guild", wire.UNKNOWN_GUILD)
        return ok([c.payload() for c in guild.channels.values() if not c.is_thread])

    async def get_guild_roles(self, call: Call) -> Response:
        guild = self._guild(call.params["guild_id"])
        if guild is None:
            return wire.discord_error(404, "Unknown Guild", wire.UNKNOWN_GUILD)
        return ok([r.payload() for r in guild.roles.values()])

    async def get_member(self, call: Call) -> Response:
        guild = self._guild(call.params["guild_id"])
        if guild is None:
            return wire.discord_error(404, "Unknown Guild", wire.UNKNOWN_GUILD)
        member = guild.members.get(call.params["user_id"])
        if member is None:
            return wire.discord_error(404, "Unknown Member", wire.UNKNOWN_MEMBER)
        return ok(member.payload())

    def _visible_channel(self, channel_id: str) -> tuple[Channel | None, Response | None]:
        channel = self.state.channel(channel_id)
        if channel is None:
            return None, wire.discord_error(404, "Unknown Channel", wire.UNKNOWN_CHANNEL)
        if channel.guild_id is not None:
            guild = self.state.guilds[channel.guild_id]
            if self.state.bot.id not in guild.members:
                return None, wire.discord_error(403, "Missing Access", wire.MISSING_ACCESS)
            if not guild.permissions_in(self.state.bot.id, channel.id) & wire.VIEW_CHANNEL:
                return None, wire.discord_error(403, "Missing Access", wire.MISSING_ACCESS)
        return channel, None

    def _permits(self, channel: Channel, permission: int) -> bool:
        if channel.guild_id is None:
            return True
        guild = self.state.guilds[channel.guild_id]
        return bool(guild.permissions_in(self.state.bot.id, channel.id) & permission)

    async def get_channel(self, call: Call) -> Response:
        channel, refused = self._visible_channel(call.params["channel_id"])
        if refused is not None or channel is None:
            return refused or wire.discord_error(404, "Unknown Channel", wire.UNKNOWN_CHANNEL)
        return ok(channel.payload())

    # --- messages ----------------------------------------------------------------------------

    async def create_message(self, call: Call) -> Response:
        channel, refused = self._visible_channel(call.params["channel_id"])
        if refused is not None or channel is None:
            return refused or wire.discord_error(404, "Unknown Channel", wire.UNKNOWN_CHANNEL)
        if channel.is_dm:
            recipient = channel.recipients[0].id if channel.recipients else ""
            if recipient in self.state.dm_closed:
                return wire.discord_error(
                    403, "Cannot send messages to this user", wire.CANNOT_SEND_MESSAGES_TO_USER
                )
        needed = wire.SEND_MESSAGES_IN_THREADS if channel.is_thread else wire.SEND_MESSAGES
        if not self._permits(channel, needed):
            return wire.discord_error(403, "Missing Permissions", wire.MISSING_PERMISSIONS)
        body = call.json_object()
        checked = check_body(self.state, body, channel)
        if checked.errors:
            return wire.invalid_form_body(checked.errors)
        if checked.empty:
            return wire.discord_error(
                400, "Cannot send an empty message", wire.CANNOT_SEND_EMPTY_MESSAGE
            )
        if checked.reference is not None and not self._permits(channel, wire.READ_MESSAGE_HISTORY):
            return wire.discord_error(403, "Missing Permissions", wire.MISSING_PERMISSIONS)
        message = build_message(self.state, checked, channel, source="rest")
        self._store(message)
        return ok(message.payload(self.state.user))

    def _store(self, message: Message) -> None:
        self.state.messages[message.id] = message
        self.state.sent.append(message)
        channel = self.state.channel(message.channel_id)
        if channel is not None:
            channel.last_message_id = message.id
        self.on_message("MESSAGE_CREATE", message)

    def _message(self, call: Call) -> tuple[Message | None, Response | None]:
        channel, refused = self._visible_channel(call.params["channel_id"])
        if refused is not None or channel is None:
            return None, refused
        message = self.state.messages.get(call.params["message_id"])
        if message is None or message.channel_id != channel.id or message.deleted:
            return None, wire.discord_error(404, "Unknown Message", wire.UNKNOWN_MESSAGE)
        return message, None

    async def get_message(self, call: Call) -> Response:
        message, refused = self._message(call)
        if message is None:
            return refused or wire.discord_error(404, "Unknown Message", wire.UNKNOWN_MESSAGE)
        return ok(message.payload(self.state.user))

    async def edit_message(self, call: Call) -> Response:
        message, refused = self._message(call)
        if message is None:
            return refused or wire.discord_error(404, "Unknown Message", wire.UNKNOWN_MESSAGE)
        if message.author.id != self.state.bot.id:
            return wire.discord_error(403, "Cannot edit a message authored by another user", 50005)
        errors = apply_edit(self.state, message, call.json_object())
        if errors:
            return wire.invalid_form_body(errors)
        self.on_message("MESSAGE_UPDATE", message)
        return ok(message.payload(self.state.user))

    async def delete_message(self, call: Call) -> Response:
        message, refused = self._message(call)
        if message is None:
            return refused or wire.discord_error(404, "Unknown Message", wire.UNKNOWN_MESSAGE)
        channel = self.state.channel(message.channel_id)
        own = message.author.id == self.state.bot.id
        if not own and channel is not None and not self._permits(channel, wire.MANAGE_MESSAGES):
            return wire.discord_error(403, "Missing Permissions", wire.MISSING_PERMISSIONS)
        message.deleted = True
        self.on_message("MESSAGE_DELETE", message)
        return no_content()

    async def typing(self, call: Call) -> Response:
        channel, refused = self._visible_channel(call.params["channel_id"])
        if refused is not None or channel is None:
            return refused or wire.discord_error(404, "Unknown Channel", wire.UNKNOWN_CHANNEL)
        return no_content()

    async def add_reaction(self, call: Call) -> Response:
        return self._react(call, removed=False)

    async def remove_reaction(self, call: Call) -> Response:
        return self._react(call, removed=True)

    def _react(self, call: Call, *, removed: bool) -> Response:
        message, refused = self._message(call)
        if message is None:
            return refused or wire.discord_error(404, "Unknown Message", wire.UNKNOWN_MESSAGE)
        channel = self.state.channel(message.channel_id)
        if not removed and channel is not None and not self._permits(channel, wire.ADD_REACTIONS):
            return wire.discord_error(403, "Missing Permissions", wire.MISSING_PERMISSIONS)
        self.state.reactions.append(
            Reaction(
                message.channel_id,
                message.id,
                unquote(call.params["emoji"]),
                self.state.bot.id,
                self.state.clock(),
                removed,
            )
        )
        return no_content()

    # --- DMs -----------------------------------------------------------------------------------

    async def open_dm(self, call: Call) -> Response:
        body = call.json_object()
        recipient_id = str(body.get("recipient_id") or "")
        if not recipient_id:
            return wire.invalid_form_body(
                wire.field_errors("recipient_id", "BASE_TYPE_REQUIRED", "This field is required")
            )
        user: User | None = self.state.users.get(recipient_id)
        if user is None:
            return wire.discord_error(404, "Unknown User", wire.UNKNOWN_USER)
        channel = self.state.dm_channels.get(recipient_id)
        if channel is None:
            channel = Channel(wire.snowflake(self.state.clock()), None, wire.DM, recipients=[user])
            self.state.dm_channels[recipient_id] = channel
        return ok(channel.payload())
