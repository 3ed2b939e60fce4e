"""Socket Mode, for a workspace without a public URL: slack-sdk's client keeps the WebSocket
(``apps.connections.open`` with the app-level token, hello, reconnecting on a ``disconnect``
such as ``refresh_requested``); each envelope is handled like the HTTP delivery it replaces
and acknowledged by its ``envelope_id`` once its event is on the bus. A slash command's
acknowledgement carries its answer when the router gave it in time."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import structlog
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from waddlebot.platforms.slack.translate import MalformedPayload

if TYPE_CHECKING:
    from waddlebot.platforms.slack.collector import SlackCollector

log = structlog.get_logger("waddlebot.slack.socket")


class SocketModeReceiver:
    def __init__(self, app_token: str, api_url: str, collector: SlackCollector) -> None:
        self._collector = collector
        self.client = SocketModeClient(
            app_token=app_token, web_client=AsyncWebClient(base_url=api_url)
        )
        self.client.socket_mode_request_listeners.append(self._on_request)

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
