"""The EventSub WebSocket server (``/ws``): welcome, keepalives, notifications, revocations,
reconnects and Twitch's close codes.

Reconnects never lose a notification. A session has one *current* connection, and every
notification goes to whichever connection is current when it is written. On ``ws_reconnect()``
the old connection stays current while the client moves; when the client opens the
``reconnect_url``, the fake takes the new connection's send lock, makes it current and writes the
welcome, all before any other message can be written to it. So each notification lands on exactly
one connection: the old one (before the welcome) or the new one (after it). The old connection is
closed only after its in-flight writes, so a client that reads it until it closes misses nothing.
If a write to the old connection fails because the client already dropped it, the message is kept
and written to the new connection right after its welcome.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.websockets import WebSocket

from .wire import new_session_id, new_uuid, rfc3339_ns

CLOSE_INTERNAL_ERROR = 4000
CLOSE_INBOUND_TRAFFIC = 4001
CLOSE_PING_PONG = 4002
CLOSE_UNUSED = 4003
CLOSE_RECONNECT_GRACE = 4004
CLOSE_NETWORK_TIMEOUT = 4005
CLOSE_NETWORK_ERROR = 4006
CLOSE_INVALID_RECONNECT = 4007

# Subscription status after a session ends for each reason.
STATUS_FOR_CLOSE = {
    CLOSE_INTERNAL_ERROR: "websocket_internal_error",
    CLOSE_INBOUND_TRAFFIC: "websocket_received_inbound_traffic",
    CLOSE_PING_PONG: "websocket_failed_ping_pong",
    CLOSE_UNUSED: "websocket_connection_unused",
    CLOSE_RECONNECT_GRACE: "websocket_failed_to_reconnect",
    CLOSE_NETWORK_TIMEOUT: "websocket_network_timeout",
    CLOSE_NETWORK_ERROR: "websocket_network_error",
}


class ConnectionGone(Exception):
    pass


class Connection:
    def __init__(self, ws: WebSocket, now_ns: Callable[[], int]) -> None:
        self.ws = ws
        self.lock = asyncio.Lock()
        self.closed = False
        self.connected_at = rfc3339_ns(now_ns())
        self.last_sent = time.monotonic()

    async def write(self, message: dict[str, Any]) -> None:
        """Write while already holding ``lock``."""
        if self.closed:
            raise ConnectionGone
        try:
            await self.ws.send_json(message)
        except Exception as exc:  # whatever the server layer raises for a gone peer
            self.closed = True
            raise ConnectionGone from exc
        self.last_sent = time.monotonic()

    async def send(self, message: dict[str, Any]) -> None:
        async with self.lock:
            await self.write(message)

    async def close(self, code: int, reason: str = "") -> None:
        async with self.lock:
            if self.closed:
                return
            self.closed = True
            with contextlib.suppress(Exception):
                await self.ws.close(code=code, reason=reason)


@dataclass
class Session:
    id: str
    keepalive_timeout: int
    connection: Connection
    status: str = "connected"  # or "reconnecting"
    owner: tuple[str, str] | None = None  # (client id, user id) of its first subscription
    subscribed: asyncio.Event = field(default_factory=asyncio.Event)
    reconnect_id: str | None = None
    backlog: list[dict[str, Any]] = field(default_factory=list)
    keepalives_paused: bool = False
    ended: bool = False
    tasks: set[asyncio.Task[None]] = field(default_factory=set)


class WsHub:
    def __init__(
        self,
        *,
        now_ns: Callable[[], int],
        on_session_end: Callable[[str, str], None],
        keepalive_interval: float | None = None,
        unused_timeout: float | None = None,
        reconnect_grace: float = 30.0,
        keepalive_bounds: tuple[int, int] = (10, 600),
    ) -> None:
        self.now_ns = now_ns
        self.on_session_end = on_session_end
        self.keepalive_interval = keepalive_interval
        self.unused_timeout = unused_timeout
        self.reconnect_grace = reconnect_grace
        self.keepalive_bounds = keepalive_bounds
        self.url = ""  # ws://host:port/ws, set once the server listens
        self.sessions: dict[str, Session] = {}
        self._reconnecting: dict[str, Session] = {}

    # --- messages ----------------------------------------------------------------------------

    def _metadata(
        self, message_type: str, subscription: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        metadata = {
            "message_id": new_uuid(),
            "message_type": message_type,
            "message_timestamp": rfc3339_ns(self.now_ns()),
        }
        if subscription is not None:
            metadata["subscription_type"] = subscription["type"]
            metadata["subscription_version"] = subscription["version"]
        return metadata

    def _session_message(
        self, message_type: str, session: Session, connection: Connection
    ) -> dict[str, Any]:
        reconnecting = message_type == "session_reconnect"
        return {
            "metadata": self._metadata(message_type),
            "payload": {
                "session": {
                    "id": session.id,
                    "status": "reconnecting" if reconnecting else "connected",
                    "connected_at": connection.connected_at,
                    "keepalive_timeout_seconds": None
                    if reconnecting
                    else session.keepalive_timeout,
                    "reconnect_url": (
                        f"{self.url}?reconnect_id={session.reconnect_id}" if reconnecting else None
                    ),
                }
            },
        }

    # --- the endpoint ------------------------------------------------------------------------

    def _keepalive_seconds(self, raw: str | None) -> int | None:
        low, high = self.keepalive_bounds
        try:
            wanted = 10 if raw is None else round(float(raw))  # Twitch's default is 10 s
        except ValueError:
            return None
        return min(high, max(low, wanted))

    async def endpoint(self, ws: WebSocket) -> None:
        reconnect_id = ws.query_params.get("reconnect_id")
        keepalive = self._keepalive_seconds(ws.query_params.get("keepalive_timeout_seconds"))
        if keepalive is None:
            await ws.close(code=1008)  # refuses the handshake: not a number
            return
        await ws.accept()
        connection = Connection(ws, self.now_ns)
        if reconnect_id is not None:
            found = self._reconnecting.pop(reconnect_id, None)
            if found is None:
                await connection.close(CLOSE_INVALID_RECONNECT, "invalid reconnect")
                return
            session = found
        else:
            session = Session(new_session_id(), keepalive, connection)
            self.sessions[session.id] = session
        try:
            if reconnect_id is not None:
                await self._adopt(session, connection)
            else:
                await connection.send(self._session_message("session_welcome", session, connection))
                self._spawn(session, self._close_if_unused(session))
        except ConnectionGone:  # the client left before its welcome
            self._finish(session, "websocket_disconnected")
            return
        await self._serve(session, connection)

    async def _serve(self, session: Session, connection: Connection) -> None:
        keepalives = asyncio.create_task(self._keepalives(session, connection))
        try:
            while True:
                message = await connection.ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
                # The client may send nothing but pongs (answered below the ASGI layer).
                await self.end(session, CLOSE_INBOUND_TRAFFIC)
                await connection.close(CLOSE_INBOUND_TRAFFIC)
        finally:
            keepalives.cancel()
            connection.closed = True
            if session.connection is connection and session.status == "connected":
                self._finish(session, "websocket_disconnected")

    async def _keepalives(self, session: Session, connection: Connection) -> None:
        interval = self.keepalive_interval or session.keepalive_timeout * 0.9
        with contextlib.suppress(ConnectionGone):
            while not connection.closed:
                idle = time.monotonic() - connection.last_sent
                if idle < interval:
                    await asyncio.sleep(interval - idle)
                    continue
                if session.keepalives_paused:
                    await asyncio.sleep(interval)
                    continue
                await connection.send(
                    {"metadata": self._metadata("session_keepalive"), "payload": {}}
                )

    async def _close_if_unused(self, session: Session) -> None:
        timeout = self.unused_timeout or session.keepalive_timeout
        try:
            await asyncio.wait_for(session.subscribed.wait(), timeout)
        except TimeoutError:
            await self.end(session, CLOSE_UNUSED)

    def _spawn(self, session: Session, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coro)
        session.tasks.add(task)
        task.add_done_callback(session.tasks.discard)

    def _finish(self, session: Session, status: str) -> None:
        if session.ended:
            return
        session.ended = True
        self.sessions.pop(session.id, None)
        if session.reconnect_id:
            self._reconnecting.pop(session.reconnect_id, None)
        for task in session.tasks:
            if task is not asyncio.current_task():
                task.cancel()
        self.on_session_end(session.id, status)

    async def end(self, session: Session, code: int) -> None:
        """Close a session's connection with ``code`` and disable its subscriptions."""
        connection = session.connection
        self._finish(session, STATUS_FOR_CLOSE.get(code, "websocket_disconnected"))
        await connection.close(code)

    # --- reconnect ---------------------------------------------------------------------------

    async def reconnect(self, session_id: str | None = None) -> list[str]:
        """Ask the session (default: every connected one) to move; returns the reconnect URLs."""
        targets = [self.sessions[session_id]] if session_id else list(self.sessions.values())
        urls = []
        for session in targets:
            if session.status != "connected":
                continue
            session.status = "reconnecting"
            session.reconnect_id = secrets.token_urlsafe(16)
            self._reconnecting[session.reconnect_id] = session
            message = self._session_message("session_reconnect", session, session.connection)
            urls.append(message["payload"]["session"]["reconnect_url"])
            with contextlib.suppress(ConnectionGone):
                await session.connection.send(message)
            self._spawn(session, self._reconnect_deadline(session, session.connection))
        return urls

    async def _reconnect_deadline(self, session: Session, old: Connection) -> None:
        await asyncio.sleep(self.reconnect_grace)
        if session.connection is old:
            await self.end(session, CLOSE_RECONNECT_GRACE)

    async def _adopt(self, session: Session, new: Connection) -> None:
        old = session.connection
        async with new.lock:
            session.connection = new
            session.status = "connected"
            session.reconnect_id = None
            await new.write(self._session_message("session_welcome", session, new))
            while session.backlog:
                await new.write(session.backlog.pop(0))
        for task in list(session.tasks):
            if task is not asyncio.current_task():
                task.cancel()
        await old.close(1000, "reconnected")

    # --- delivery ----------------------------------------------------------------------------

    async def deliver(
        self, session_id: str, message_type: str, payload: dict[str, Any]
    ) -> str | None:
        """Write a notification or revocation; returns its message id, or None if the session
        is gone."""
        session = self.sessions.get(session_id)
        if session is None:
            return None
        message = {
            "metadata": self._metadata(message_type, payload["subscription"]),
            "payload": payload,
        }
        while not session.ended:
            connection = session.connection
            try:
                await connection.send(message)
                return str(message["metadata"]["message_id"])
            except ConnectionGone:
                if session.connection is not connection:
                    continue  # moved while we wrote: use the new connection
                if session.status == "reconnecting":
                    session.backlog.append(message)  # written after the new welcome
                    return str(message["metadata"]["message_id"])
                return None
        return None

    def subscribed(self, session_id: str) -> None:
        session = self.sessions.get(session_id)
        if session is not None:
            session.subscribed.set()

    async def close_all(self) -> None:
        for session in list(self.sessions.values()):
            await self.end(session, 1001)
