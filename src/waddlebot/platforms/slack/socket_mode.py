"""Socket Mode, for a workspace without a public URL: slack-sdk's client keeps the WebSocket
(``apps.connections.open`` with the app-level token, hello, reconnecting on a ``disconnect``
such as ``refresh_requested``); each envelope is handled like the HTTP delivery it replaces
and acknowledged by its ``envelope_id`` once its event is on the bus. A slash command's
acknowledgement carries its answer when the router gave it in time."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson
import structlog
from aiohttp import WSMessage
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from waddlebot.infra.connections import Link, Watch
from waddlebot.platforms.slack.translate import MalformedPayload

if TYPE_CHECKING:
    from waddlebot.platforms.slack.collector import SlackCollector

log = structlog.get_logger("waddlebot.slack.socket")


class SocketModeReceiver:
    def __init__(
        self, app_token: str, api_url: str, collector: SlackCollector, watch: Watch
    ) -> None:
        self._collector = collector
        self.watch = watch
        self.client = SocketModeClient(
            app_token=app_token, web_client=AsyncWebClient(base_url=api_url)
        )
        self.client.socket_mode_request_listeners.append(self._on_request)
        self.client.on_message_listeners.append(self._on_message)

    async def _on_message(self, message: WSMessage) -> None:
        """``hello`` opens a connection; ``disconnect`` asks for a new one."""
        try:
            frame = orjson.loads(message.data)
        except orjson.JSONDecodeError:
            return
        kind = frame.get("type") if isinstance(frame, dict) else None
        if kind == "hello":
            self.watch.enter("ready", await self.client.session_id())
        elif kind == "disconnect":
            self.watch.enter("resuming")

    def link(self) -> Link:
        """The connection as it stands: one that closed without a word (no ``disconnect``)
        is seen here, until slack-sdk's monitor opens the next."""
        session = self.client.current_session
        if self.watch.state == "ready" and (session is None or session.closed):
            self.watch.enter("disconnected")
        return self.watch.link()

    async def start(self) -> None:
        await self.client.connect()

    async def stop(self) -> None:
        with contextlib.suppress(Exception):  # closing a socket that is already gone
            await self.client.close()

    async def _on_request(
        self, client: AsyncBaseSocketModeClient, request: SocketModeRequest
    ) -> None:
        payload: Mapping[str, Any] = request.payload if isinstance(request.payload, dict) else {}
        answer: dict[str, Any] | None = None
        try:
            if request.type == "events_api":
                await self._collector.accept_event(payload)
            elif request.type == "slash_commands":
                answer = await self._collector.answer_command(payload)
            else:
                log.info("slack socket envelope ignored", type=request.type)
        except MalformedPayload as exc:  # acknowledged all the same: a retry would not fit either
            log.warning("slack envelope refused", type=request.type, error=str(exc))
        await client.send_socket_mode_response(
            SocketModeResponse(envelope_id=request.envelope_id, payload=answer)
        )
