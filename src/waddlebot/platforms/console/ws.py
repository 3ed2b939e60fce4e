"""The console over a WebSocket, for ``waddlebot chat --url``.

Client → server: ``{"text": "..."}``. Server → client: ``{"type": "ready"}`` once,
``{"type": "message", "text": ..., "private": bool, "event_id": ...}`` for every bot message
shown to this session, and ``{"type": "done", "event_id": ...}`` after the replies to each
text sent (so scripted clients know when to send the next line), or
``{"type": "error", "detail": ...}`` for a frame that is not such an object.

A client that goes away, even in the middle of an answer, ends its session at once.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from typing import Any, TypeVar

import structlog
from fastapi import APIRouter, Query, WebSocket, WebSocketDisconnect, status

from waddlebot.platforms import CONSOLE
from waddlebot.platforms.console.collector import ROLES, ConsoleSession
from waddlebot.platforms.platform import running_collector
from waddlebot.web.deps import websocket_api_key

log = structlog.get_logger("waddlebot.console")

router = APIRouter(prefix="/collectors/console", tags=["console"])

MAX_TEXT = 2000
USAGE = f'send {{"text": ...}} of 1-{MAX_TEXT} chars'
_T = TypeVar("_T")


class _ClientGone(Exception):
    """Forwarding to the client failed: it is gone."""


@router.websocket("/ws")
async def console_socket(
    websocket: WebSocket,
    user: str = Query(min_length=1, max_length=64),
    role: str = Query("everyone"),
    channel: str = Query("local", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$"),
) -> None:
    if await websocket_api_key(websocket) is None:
        await websocket.close(code=status.WS_1008_POLICY_VIOLATION, reason="API key required")
        return
    console = running_collector(websocket, CONSOLE)
    if role not in ROLES or console is None:
        reason = f"role must be one of {', '.join(ROLES)}" if role not in ROLES else "no console"
        await websocket.close(code=status.WS_1008_POLICY_VIOLATION, reason=reason)
        return
    await websocket.accept()
    session = console.open(user, role, channel)
    forward = asyncio.create_task(_forward(websocket, session))
    try:
        await websocket.send_json({"type": "ready"})
        while True:
            message = await _receive(websocket)
            text = str(message.get("text", "")) if isinstance(message, dict) else ""
            if not text.strip() or len(text) > MAX_TEXT:
                await websocket.send_json({"type": "error", "detail": USAGE})
                continue
            event_id = await _unless_gone(forward, console.send(session, text))
            # everything for this text went out before "done"
            await _unless_gone(forward, session.lines.join())
            await websocket.send_json({"type": "done", "event_id": event_id})
    except (WebSocketDisconnect, _ClientGone):
        pass
    finally:
        console.close(session)
        forward.cancel()
        await asyncio.wait([forward])  # never raises what ended it (the client leaving)
        if not forward.cancelled() and forward.exception() is not None:
            log.info("console client went away", user=user, channel=channel)


async def _receive(websocket: WebSocket) -> Any:
    """The next frame as JSON; a frame that is not JSON comes back as None."""
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000), message.get("reason"))
    data = message.get("text")
    if data is None:
        data = message.get("bytes") or b""
    try:
        return json.loads(data)
    except ValueError:  # also bytes that are not UTF-8
        return None


async def _unless_gone(forward: asyncio.Task[None], work: Awaitable[_T]) -> _T:
    """``await work``, unless forwarding to the client ends first (it failed: the client is
    gone), which raises :class:`_ClientGone`."""
    task = asyncio.ensure_future(work)
    try:
        await asyncio.wait([task, forward], return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not task.done():
            task.cancel()
            await asyncio.wait([task])
    if task.cancelled():
        raise _ClientGone
    return task.result()


async def _forward(websocket: WebSocket, session: ConsoleSession) -> None:
    while True:
        line = await session.lines.get()
        try:
            await websocket.send_json(
                {
                    "type": "message",
                    "text": line.text,
                    "private": line.private,
                    "event_id": line.event_id,
                }
            )
        finally:
            session.lines.task_done()
