"""The console over a WebSocket, for ``waddlebot chat --url``.

Client → server: ``{"text": "..."}``. Server → client: ``{"type": "ready"}`` once,
``{"type": "message", "text": ..., "private": bool, "event_id": ...}`` for every bot message
shown to this session, and ``{"type": "done", "event_id": ...}`` after the replies to each
text sent (so scripted clients know when to send the next line).
"""

from __future__ import annotations

import asyncio
import contextlib

from fastapi import APIRouter, Query, WebSocket, WebSocketDisconnect, status

from waddlebot.collectors.console.collector import ROLES, ConsoleSession
from waddlebot.runtime import Runtime
from waddlebot.web.deps import websocket_api_key

router = APIRouter(prefix="/collectors/console", tags=["console"])

MAX_TEXT = 2000


@router.websocket("/ws")
async def console_socket(
    websocket: WebSocket,
    user: str = Query(min_length=1, max_length=64),
    role: str = Query("everyone"),
    channel: str = Query("local", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$"),
) -> None:
    runtime: Runtime = websocket.app.state.runtime
    if await websocket_api_key(websocket) is None:
        await websocket.close(code=status.WS_1008_POLICY_VIOLATION, reason="API key required")
        return
    if role not in ROLES or runtime.console is None:
        reason = f"role must be one of {', '.join(ROLES)}" if role not in ROLES else "no console"
        await websocket.close(code=status.WS_1008_POLICY_VIOLATION, reason=reason)
        return
    await websocket.accept()
    console = runtime.console
    session = console.open(user, role, channel)
    forward = asyncio.create_task(_forward(websocket, session))
    try:
        await websocket.send_json({"type": "ready"})
        while True:
            message = await websocket.receive_json()
            text = str(message.get("text", "")) if isinstance(message, dict) else ""
            if not text.strip() or len(text) > MAX_TEXT:
                await websocket.send_json(
                    {"type": "error", "detail": f'send {{"text": ...}} of 1-{MAX_TEXT} chars'}
                )
                continue
            event_id = await console.send(session, text)
            await session.lines.join()  # everything for this text went out before "done"
            await websocket.send_json({"type": "done", "event_id": event_id})
    except WebSocketDisconnect:
        pass
    finally:
        console.close(session)
        forward.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await forward


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
