"""Slash commands after they are sent: the app's direct answer (the HTTP reply, or the Socket
Mode ack's payload) and its ``response_url``, served at ``/commands/<team>/<id>/<secret>``
like ``hooks.slack.com``: JSON posts, at most 5 within 30 minutes. Each answer becomes a message
in the conversation, visible to everyone (``in_channel``) or only to the invoking user
(``ephemeral``, the default)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from typing import Any, Literal

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import wire
from .model import Channel, PostedMessage, SlackState, SlashCommand, Team, User

RESPONSE_URL_LIFETIME = 1800.0
RESPONSE_URL_USES = 5


class Commands:
    def __init__(self, state: SlackState, on_posted: Callable[[PostedMessage], None]) -> None:
        self.state = state
        self.on_posted = on_posted
        self.base_url = ""  # http://127.0.0.1:PORT once serving
        self._secrets: dict[str, str] = {}

    def routes(self) -> list[Route]:
        return [Route("/commands/{team_id}/{command_id}/{secret}", self.respond, methods=["POST"])]

    def issue(
        self,
        team: Team,
        channel: Channel,
        user: User,
        command: str,
        text: str,
        transport: Literal["http", "socket"],
    ) -> SlashCommand:
        command_id, secret = wire.digits(13), secrets.token_hex(12)
        self._secrets[command_id] = secret
        issued = SlashCommand(
            id=command_id,
            team_id=team.id,
            channel_id=channel.id,
            user_id=user.id,
            command=command,
            text=text,
            response_url=f"{self.base_url}/commands/{team.id}/{command_id}/{secret}",
            trigger_id=wire.trigger_id(),
            issued_at=self.state.clock(),
            transport=transport,
        )
        self.state.commands[command_id] = issued
        return issued

    def answered(self, command: SlashCommand, answer: dict[str, Any] | str) -> None:
        """The app's direct answer; plain text counts as an ephemeral message."""
        command.immediate = answer
        body = {"text": answer} if isinstance(answer, str) else answer
        self._show(command, body, "command_reply")

    async def respond(self, request: Request) -> Response:
        command_id = request.path_params["command_id"]
        command = self.state.commands.get(command_id)
        if command is None or self._secrets.get(command_id) != request.path_params["secret"]:
            return _failure(404, "no_service")
        body: Any = None
        try:
            body = json.loads(await request.body())
        except ValueError:
            return self._refuse(command, 400, "invalid_payload", body)
        if self.state.clock() - command.issued_at > RESPONSE_URL_LIFETIME:
            return self._refuse(command, 404, "expired_url", body)
        if len(command.responses) >= RESPONSE_URL_USES:
            return self._refuse(command, 404, "used_url", body)
        if not isinstance(body, dict):
            return self._refuse(command, 400, "invalid_payload", body)
        if not body.get("text") and not body.get("blocks") and not body.get("delete_original"):
            return self._refuse(command, 400, "no_text", body)
        command.responses.append(body)
        self.state.changes.notify()
        if not body.get("delete_original"):
            self._show(command, body, "response_url")
        return JSONResponse({"ok": True})

    def _refuse(self, command: SlashCommand, status: int, error: str, body: Any) -> Response:
        command.refused.append((error, body))
        self.state.changes.notify()
        return _failure(status, error)

    def _show(self, command: SlashCommand, body: dict[str, Any], source: str) -> None:
        if not body.get("text") and not body.get("blocks"):
            return  # an empty answer only acknowledges the command
        team = self.state.teams[command.team_id]
        in_channel = body.get("response_type") == "in_channel"
        message = PostedMessage(
            channel=command.channel_id,
            team_id=team.id,
            ts=self.state.next_ts(),
            text=str(body.get("text", "")),
            user=team.bot_user_id,
            bot_id=team.bot_id,
            thread_ts=body.get("thread_ts"),
            ephemeral_to=None if in_channel else command.user_id,
            blocks=body.get("blocks"),
            source=source,
            command_id=command.id,
        )
        self.state.record_posted(message)
        if in_channel:
            self.on_posted(message)


def _failure(status: int, error: str) -> Response:
    return JSONResponse({"ok": False, "error": error}, status_code=status)
