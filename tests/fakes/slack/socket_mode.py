"""Socket Mode: ``apps.connections.open`` (app-level token) hands out one-time WebSocket URLs;
each connection gets a ``hello``, then envelopes the app must ack with ``{"envelope_id": ...}``
(plus a ``payload`` where ``accepts_response_payload``). An ``events_api`` envelope not acked in
time is delivered again with ``retry_attempt`` + 1 (slash commands and interactions are not).
``disconnect`` frames ask the app to move to a fresh URL."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from . import payloads, wire
from .model import SlackState
from .web_api import ApiRequest, WebApi

MAX_CONNECTIONS = 10  # per app; one more is told too_many_websockets
ACK_DEADLINE = 3.0  # Slack's limit for acknowledging an envelope
RETRY_REASON = "timeout"


class ConnectionGone(Exception):
    pass


class SocketConnection:
    def __init__(self, number: int, ws: WebSocket) -> None:
        self.number = number
        self.ws = ws
        self.host = f"applink-{secrets.token_hex(5)}-{secrets.token_hex(3)}"
        self.open = True
        self.sent: list[dict[str, Any]] = []
        self._lock = asyncio.Lock()

    async def send(self, frame: dict[str, Any]) -> None:
        async with self._lock:
            if not self.open:
                raise ConnectionGone
            try:
                await self.ws.send_text(json.dumps(frame))
            except Exception as exc:  # whatever the server layer raises for a gone peer
                self.open = False
                raise ConnectionGone from exc
            self.sent.append(frame)

    async def close(self, code: int = 1000) -> None:
        async with self._lock:
            if self.open:
                self.open = False
                with contextlib.suppress(Exception):
                    await self.ws.close(code)


@dataclass
class Ack:
    envelope_id: str
    payload: dict[str, Any] | None
    raw: dict[str, Any]
    attempt: int  # retry_attempt of the latest delivery when it came
    seconds: float  # since that delivery
    connection: int

    @property
    def late(self) -> bool:
        return self.seconds > ACK_DEADLINE


@dataclass
class Envelope:
    id: str
    type: str  # events_api, slash_commands, interactive
    payload: dict[str, Any]
    accepts_response_payload: bool
    deliveries: list[tuple[int, dict[str, Any]]] = field(default_factory=list)  # (conn, frame)
    acks: list[Ack] = field(default_factory=list)
    last_sent: float = 0.0  # monotonic
    redelivery: asyncio.Task[None] | None = None


class SocketMode:
    def __init__(
        self,
        state: SlackState,
        *,
        ack_timeout: float = ACK_DEADLINE,
        max_retries: int = 3,
        on_ack: Callable[[Envelope, Ack], None] = lambda envelope, ack: None,
    ) -> None:
        self.state = state
        self.ack_timeout = ack_timeout  # before an events_api envelope is delivered again
        self.max_retries = max_retries
        self.on_ack = on_ack
        self.url = ""  # ws://127.0.0.1:PORT/link/ once serving
        self.connections: list[SocketConnection] = []  # open ones
        self.connects = 0  # connections that got their hello, ever
        self.envelopes: dict[str, Envelope] = {}
        self.acks: list[Ack] = []
        self.stray_frames: list[str] = []  # what the app sent that acked nothing
        self._tickets: set[str] = set()
        self._numbers = itertools.count(1)
        self._turn = itertools.count()

    def register(self, api: WebApi) -> None:
        api.register("apps.connections.open", self.open_connection, tokens=("app",))

    def routes(self) -> list[WebSocketRoute]:
        return [WebSocketRoute("/link/", self.endpoint)]

    async def open_connection(self, request: ApiRequest) -> dict[str, Any]:
        ticket = wire.new_uuid()
        self._tickets.add(ticket)
        return {"url": f"{self.url}?ticket={ticket}&app_id={self.state.app.id}"}

    # --- connections --------------------------------------------------------------------

    async def endpoint(self, ws: WebSocket) -> None:
        ticket = ws.query_params.get("ticket", "")
        if ticket not in self._tickets:
            await ws.close(1008)  # before accept: the handshake is refused
            return
        self._tickets.discard(ticket)
        await ws.accept()
        connection = SocketConnection(next(self._numbers), ws)
        try:
            if len(self.connections) >= MAX_CONNECTIONS:
                frame = payloads.socket_disconnect("too_many_websockets", connection.host)
                await connection.send(frame)
                return
            self.connections.append(connection)
            hello = payloads.socket_hello(self.state.app.id, len(self.connections), connection.host)
            await connection.send(hello)
            self.connects += 1
            self.state.changes.notify()
            while True:
                message = await ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
                text = message.get("text") or (message.get("bytes") or b"").decode()
                self._received(connection, text)
        except ConnectionGone:
            pass
        finally:
            await connection.close()
            self._forget(connection)

    def _forget(self, connection: SocketConnection) -> None:
        connection.open = False
        if connection in self.connections:
            self.connections.remove(connection)
        self.state.changes.notify()

    def _received(self, connection: SocketConnection, text: str) -> None:
        try:
            frame = json.loads(text)
        except ValueError:
            frame = None
        if not isinstance(frame, dict) or frame.get("envelope_id") not in self.envelopes:
            self.stray_frames.append(text)
            return
        envelope = self.envelopes[frame["envelope_id"]]
        payload = frame.get("payload")
        ack = Ack(
            envelope.id,
            payload if isinstance(payload, dict) else None,
            frame,
            len(envelope.deliveries) - 1,
            time.monotonic() - envelope.last_sent,
            connection.number,
        )
        envelope.acks.append(ack)
        self.acks.append(ack)
        if envelope.redelivery is not None and len(envelope.acks) == 1:
            envelope.redelivery.cancel()
        self.on_ack(envelope, ack)
        self.state.changes.notify()

    async def wait_for_connections(self, count: int, timeout: float) -> int:
        return await self.state.changes.wait_until(
            lambda: len(self.connections) if len(self.connections) >= count else None,
            timeout,
            f"{count} open Socket Mode connection(s)",
        )

    async def disconnect(self, reason: str, close_after: float = 0.0) -> None:
        """Send ``disconnect`` on every open connection, then close them."""
        targets = list(self.connections)
        for connection in targets:
            with contextlib.suppress(ConnectionGone):
                await connection.send(payloads.socket_disconnect(reason, connection.host))
        if close_after:
            await asyncio.sleep(close_after)
        for connection in targets:
            self._forget(connection)
            await connection.close()

    async def close_all(self) -> None:
        for envelope in self.envelopes.values():
            if envelope.redelivery is not None:
                envelope.redelivery.cancel()
        for connection in list(self.connections):
            self._forget(connection)
            await connection.close(1001)

    # --- envelopes ----------------------------------------------------------------------

    async def deliver(
        self,
        type_: str,
        payload: dict[str, Any],
        *,
        accepts_response_payload: bool,
        envelope_id: str | None = None,
        timeout: float = 5.0,
    ) -> Envelope:
        envelope_id = envelope_id or wire.new_uuid()
        envelope = Envelope(envelope_id, type_, payload, accepts_response_payload)
        self.envelopes[envelope.id] = envelope
        await self._send(envelope, timeout)
        if type_ == "events_api" and self.max_retries:
            envelope.redelivery = asyncio.create_task(self._redeliver(envelope))
        return envelope

    async def _send(self, envelope: Envelope, timeout: float) -> None:
        """Write the envelope to one open connection (taking turns), waiting for one if none."""
        attempt = len(envelope.deliveries)
        frame = payloads.socket_envelope(
            envelope.type,
            envelope.id,
            envelope.payload,
            accepts_response_payload=envelope.accepts_response_payload,
            retry_attempt=attempt,
            retry_reason=RETRY_REASON if attempt else "",
        )
        while True:
            await self.wait_for_connections(1, timeout)
            connection = self.connections[next(self._turn) % len(self.connections)]
            # Recorded first: the app may ack before the write returns.
            envelope.deliveries.append((connection.number, frame))
            envelope.last_sent = time.monotonic()
            try:
                await connection.send(frame)
            except ConnectionGone:
                envelope.deliveries.pop()
                self._forget(connection)
                continue
            self.state.changes.notify()
            return

    async def _redeliver(self, envelope: Envelope) -> None:
        with contextlib.suppress(TimeoutError):
            for _ in range(self.max_retries):
                await asyncio.sleep(self.ack_timeout)
                if envelope.acks:
                    return
                await self._send(envelope, timeout=3600.0)  # Slack holds it until the app is back
