"""The gateway WebSocket (``/gateway``, JSON encoding, optional ``compress=zlib-stream``).

HELLO, then IDENTIFY (token, intents, shard: recorded) answered with READY and one GUILD_CREATE
per guild of the shard; heartbeats (op 1) answered with ACKs (op 11); every dispatch numbered
``s``. A session outlives its connection: dispatches made while no connection is current are
kept, and a RESUME (op 6) with the session id and the last ``s`` the client saw replays every
later dispatch, then RESUMED. A session ends (cannot be resumed) when the client closes with
1000/1001 or after ``invalidate_session(resumable=False)``.

Dispatches are filtered by the session's intents (GUILD_MESSAGES for guild MESSAGE_CREATE,
DIRECT_MESSAGES for DMs, GUILD_MEMBERS for member events, ...), routed to the shard that owns
the guild (``(guild_id >> 22) % shard_count``; DMs to shard 0), and without MESSAGE_CONTENT a
guild message loses its content, embeds, attachments, components and poll unless it is the bot's
own or mentions the bot.

Close codes: 4001 unknown opcode, 4002 undecodable payload, 4003 payload before IDENTIFY, 4004
bad token, 4005 second IDENTIFY, 4007 RESUME with a sequence from the future, 4008 more than
120 payloads in 60 s, 4009 no heartbeat in time (only with ``heartbeat_timeout``), 4010 invalid
shard, 4012 unsupported API version, 4013 invalid intents, 4014 privileged intents not enabled.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import time
import zlib
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from . import wire
from .model import DiscordState

# event -> (intent in a guild, intent in a DM); 0: always sent
EVENT_INTENTS: dict[str, tuple[int, int]] = {
    **{
        name: (wire.GUILDS, 0)
        for name in (
            "GUILD_CREATE",
            "GUILD_UPDATE",
            "GUILD_DELETE",
            "GUILD_ROLE_CREATE",
            "GUILD_ROLE_UPDATE",
            "GUILD_ROLE_DELETE",
            "CHANNEL_CREATE",
            "CHANNEL_UPDATE",
            "CHANNEL_DELETE",
            "CHANNEL_PINS_UPDATE",
            "THREAD_CREATE",
            "THREAD_UPDATE",
            "THREAD_DELETE",
            "THREAD_LIST_SYNC",
            "THREAD_MEMBER_UPDATE",
            "STAGE_INSTANCE_CREATE",
        )
    },
    "GUILD_MEMBER_ADD": (wire.GUILD_MEMBERS, 0),
    "GUILD_MEMBER_UPDATE": (wire.GUILD_MEMBERS, 0),
    "GUILD_MEMBER_REMOVE": (wire.GUILD_MEMBERS, 0),
    "THREAD_MEMBERS_UPDATE": (wire.GUILD_MEMBERS, 0),
    "GUILD_BAN_ADD": (wire.GUILD_MODERATION, 0),
    "GUILD_BAN_REMOVE": (wire.GUILD_MODERATION, 0),
    "GUILD_AUDIT_LOG_ENTRY_CREATE": (wire.GUILD_MODERATION, 0),
    "PRESENCE_UPDATE": (wire.GUILD_PRESENCES, 0),
    "VOICE_STATE_UPDATE": (wire.GUILD_VOICE_STATES, 0),
    **{
        name: (wire.GUILD_MESSAGES, wire.DIRECT_MESSAGES)
        for name in ("MESSAGE_CREATE", "MESSAGE_UPDATE", "MESSAGE_DELETE", "MESSAGE_DELETE_BULK")
    },
    **{
        name: (wire.GUILD_MESSAGE_REACTIONS, wire.DIRECT_MESSAGE_REACTIONS)
        for name in (
            "MESSAGE_REACTION_ADD",
            "MESSAGE_REACTION_REMOVE",
            "MESSAGE_REACTION_REMOVE_ALL",
            "MESSAGE_REACTION_REMOVE_EMOJI",
        )
    },
    "TYPING_START": (wire.GUILD_MESSAGE_TYPING, wire.DIRECT_MESSAGE_TYPING),
}
CONTENT_FIELDS = ("content", "embeds", "attachments", "components")


class ConnectionGone(Exception):
    pass


class Connection:
    """One WebSocket connection; ``session`` once it identified or resumed."""

    def __init__(self, ws: WebSocket, compress: bool, path: str) -> None:
        self.ws = ws
        self.path = path
        self.query = dict(ws.query_params)
        self.lock = asyncio.Lock()
        self.compressor = zlib.compressobj() if compress else None
        self.closed = False
        self.session: Session | None = None
        self.span: Span | None = None
        self.drop = asyncio.Event()
        self.drop_code: int | None = None
        self.gone = asyncio.Event()
        self.close_code: int | None = None  # the code it ended with (None: dropped abruptly)
        self.closed_by: str | None = None  # server | client | drop
        self.received: list[dict[str, Any]] = []
        self.sent: list[dict[str, Any]] = []
        self.heartbeats: list[int | None] = []
        self.last_heartbeat = time.monotonic()
        self.recent: deque[float] = deque()

    def _encode(self, payload: dict[str, Any]) -> bytes | str:
        text = json.dumps(payload, separators=(",", ":"))
        if self.compressor is None:
            return text
        return self.compressor.compress(text.encode()) + self.compressor.flush(zlib.Z_SYNC_FLUSH)

    async def write(self, payload: dict[str, Any]) -> None:
        """Write while holding ``lock``."""
        if self.closed:
            raise ConnectionGone
        data = self._encode(payload)
        try:
            if isinstance(data, bytes):
                await self.ws.send_bytes(data)
            else:
                await self.ws.send_text(data)
        except Exception as exc:  # whatever the server layer raises for a gone peer
            self.closed = True
            raise ConnectionGone from exc
        self.sent.append(payload)

    async def send(self, payload: dict[str, Any]) -> None:
        async with self.lock:
            await self.write(payload)

    async def close(self, code: int, reason: str = "") -> None:
        async with self.lock:
            if self.closed:
                return
            self.closed = True
            self.close_code = code
            self.closed_by = "server"
            with contextlib.suppress(Exception):
                await self.ws.close(code=code, reason=reason)


@dataclass
class Session:
    id: str
    intents: int
    shard: tuple[int, int]
    identify: dict[str, Any]
    connection: Connection | None
    seq: int = 0
    log: list[dict[str, Any]] = field(default_factory=list)  # every dispatch, in order
    resumable: bool = True
    ready: bool = False
    resumes: list[int] = field(default_factory=list)  # the seq each RESUME asked to resume after
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def connected(self) -> bool:
        return self.connection is not None and not self.connection.closed

    def dispatches(self, event: str | None = None) -> list[dict[str, Any]]:
        return [m for m in self.log if event in (None, m["t"])]


@dataclass
class Delivery:
    """One dispatch to one session: ``live`` if written to a connection, else kept for a
    RESUME."""

    session_id: str
    seq: int
    live: bool


@dataclass
class Span:
    """One connection serving one shard's session: from its IDENTIFY or RESUME until the
    connection ended (``ended`` None while it lasts); ``time.monotonic()`` seconds.
    ``client_port``: the connection's port on the client's side, which tells the process
    that served it (by its sockets)."""

    shard: tuple[int, int]
    how: str  # identify | resume
    started: float
    ended: float | None = None
    client_port: int | None = None

    def overlaps(self, other: Span) -> bool:
        inf = float("inf")
        return self.started < (other.ended or inf) and other.started < (self.ended or inf)


class Gateway:
    def __init__(
        self,
        state: DiscordState,
        *,
        heartbeat_interval_ms: int,
        allowed_privileged: int,
        rate_limit: tuple[int, float],
        heartbeat_timeout: float | None,
    ) -> None:
        self.state = state
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.allowed_privileged = allowed_privileged
        self.rate_limit = rate_limit
        self.heartbeat_timeout = heartbeat_timeout
        self.url = ""  # ws://host:port/gateway, set once the server listens
        self.resume_url = ""
        self.sessions: dict[str, Session] = {}
        self.connections: list[Connection] = []
        self.identifies: list[dict[str, Any]] = []
        self.spans: list[Span] = []
        self.presence_updates: list[dict[str, Any]] = []
        self.acks_paused = False
        self.session_start_total = 1000
        self.session_start_remaining = 1000
        self._released = asyncio.Event()
        self._released.set()

    # --- controls -------------------------------------------------------------------------------

    def hold(self) -> None:
        """New connections wait (accepted, before HELLO) until ``release()``."""
        self._released.clear()

    def release(self) -> None:
        self._released.set()

    def live_sessions(self) -> list[Session]:
        return [s for s in self.sessions.values() if s.resumable]

    def _targets(self, session_id: str | None) -> list[Session]:
        if session_id is not None:
            return [self.sessions[session_id]]
        return [s for s in self.live_sessions() if s.connected]

    async def drop(self, session_id: str | None = None, code: int | None = None) -> None:
        """End the current connection of a session (default: every connected one) without
        ending the session: abruptly, with no close frame (the client sees 1006), or with
        ``code``. Returns once the connection is gone."""
        for session in self._targets(session_id):
            connection = session.connection
            if connection is None:
                continue
            connection.drop_code = code
            connection.drop.set()
            await connection.gone.wait()

    async def reconnect(self, session_id: str | None = None) -> None:
        for session in self._targets(session_id):
            if session.connection is not None:
                with contextlib.suppress(ConnectionGone):
                    await session.connection.send(self._op(wire.OP_RECONNECT, None))

    async def invalidate(self, resumable: bool = False, session_id: str | None = None) -> None:
        for session in self._targets(session_id):
            if not resumable:
                session.resumable = False
            if session.connection is not None:
                with contextlib.suppress(ConnectionGone):
                    await session.connection.send(self._op(wire.OP_INVALID_SESSION, resumable))

    async def request_heartbeat(self, session_id: str | None = None) -> None:
        for session in self._targets(session_id):
            if session.connection is not None:
                with contextlib.suppress(ConnectionGone):
                    await session.connection.send(self._op(wire.OP_HEARTBEAT, None))

    async def close_all(self) -> None:
        self.release()
        for connection in list(self.connections):
            await connection.close(1001, "fake Discord shutting down")
            connection.drop.set()

    # --- payloads ------------------------------------------------------------------------------

    @staticmethod
    def _op(op: int, d: Any) -> dict[str, Any]:
        return {"op": op, "d": d, "s": None, "t": None}

    def _ready(self, session: Session) -> dict[str, Any]:
        return {
            "v": wire.API_VERSION,
            "user_settings": {},
            "user": {
                **self.state.bot.payload(),
                "verified": True,
                "mfa_enabled": False,
                "email": None,
            },
            "guilds": [g.stub() for g in self._guilds_of(session)],
            "session_type": "normal",
            "session_id": session.id,
            "resume_gateway_url": self.resume_url,
            "shard": list(session.shard),
            "application": {"id": self.state.application.id, "flags": self.state.application.flags},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "_trace": ['["fake-discord-gateway",{"micros":0}]'],
        }

    def _guilds_of(self, session: Session) -> list[Any]:
        return [
            g
            for g in self.state.guilds.values()
            if self.state.bot.id in g.members and self._shard_of(g.id, session) == session.shard[0]
        ]

    @staticmethod
    def _shard_of(guild_id: str | None, session: Session) -> int:
        if not guild_id:
            return 0
        return (int(guild_id) >> 22) % max(1, session.shard[1])

    def _guild_create(self, guild: Any, session: Session) -> dict[str, Any]:
        visible = {self.state.bot.id}
        if session.intents & wire.GUILD_MEMBERS and len(guild.members) <= 250:
            visible |= set(guild.members)
        return dict(guild.guild_create(visible))

    def wants(self, session: Session, event: str, data: dict[str, Any]) -> bool:
        guild_id = data.get("guild_id") if isinstance(data, dict) else None
        if event == "GUILD_CREATE":
            guild_id = data.get("id")
        if self._shard_of(guild_id, session) != session.shard[0]:
            return False
        in_guild, in_dm = EVENT_INTENTS.get(event, (0, 0))
        needed = in_guild if guild_id else in_dm
        return not needed or bool(session.intents & needed)

    def shaped(self, session: Session, event: str, data: dict[str, Any]) -> dict[str, Any]:
        """``data`` as this session may see it (MESSAGE_CONTENT)."""
        if event not in ("MESSAGE_CREATE", "MESSAGE_UPDATE") or not data.get("guild_id"):
            return data
        if session.intents & wire.MESSAGE_CONTENT:
            return data
        bot = self.state.bot.id
        author = (data.get("author") or {}).get("id")
        mentioned = any(str(m.get("id")) == bot for m in data.get("mentions") or [])
        if author == bot or mentioned:
            return data
        stripped = copy.deepcopy(data)
        for name in CONTENT_FIELDS:
            if name in stripped:
                stripped[name] = "" if name == "content" else []
        stripped.pop("poll", None)
        return stripped

    # --- dispatching ---------------------------------------------------------------------------

    async def _emit(self, session: Session, event: str, data: Any) -> Delivery:
        """Number and keep a dispatch, and write it if the session has a connection. Call with
        ``session.lock`` held."""
        session.seq += 1
        message = {"op": wire.OP_DISPATCH, "d": data, "s": session.seq, "t": event}
        session.log.append(message)
        connection = session.connection
        live = False
        if connection is not None and not connection.closed:
            try:
                await connection.send(message)
                live = True
            except ConnectionGone:
                pass
        return Delivery(session.id, session.seq, live)

    async def dispatch(
        self, event: str, data: dict[str, Any], session_id: str | None = None
    ) -> list[Delivery]:
        """Send a dispatch to every ready, resumable session that should get it (or just one),
        connected or not."""
        targets = (
            [self.sessions[session_id]]
            if session_id is not None
            else [s for s in self.live_sessions() if s.ready]
        )
        deliveries = []
        for session in targets:
            if not self.wants(session, event, data):
                continue
            async with session.lock:
                deliveries.append(
                    await self._emit(session, event, self.shaped(session, event, data))
                )
        return deliveries

    # --- the endpoint ----------------------------------------------------------------------------

    async def endpoint(self, ws: WebSocket) -> None:
        version = ws.query_params.get("v")
        encoding = ws.query_params.get("encoding", "json")
        compress = ws.query_params.get("compress")
        await ws.accept()
        connection = Connection(ws, compress == "zlib-stream", ws.url.path)
        self.connections.append(connection)
        try:
            if version not in ("9", "10"):
                await connection.close(wire.CLOSE_INVALID_API_VERSION, "Invalid API version")
                return
            if encoding != "json" or compress not in (None, "zlib-stream"):
                await connection.close(
                    wire.CLOSE_DECODE_ERROR, "the fake speaks encoding=json, zlib-stream or none"
                )
                return
            await self._released.wait()
            hello = self._op(wire.OP_HELLO, {"heartbeat_interval": self.heartbeat_interval_ms})
            try:
                await connection.send(hello)
            except ConnectionGone:
                return
            await self._run(connection)
        finally:
            connection.closed = True
            if connection.span is not None:
                connection.span.ended = time.monotonic()
            session = connection.session
            if session is not None and session.connection is connection:
                session.connection = None
                if connection.close_code in (1000, 1001) and connection.closed_by == "client":
                    session.resumable = False  # a clean close by the client ends the session
            connection.gone.set()

    async def _run(self, connection: Connection) -> None:
        receiver = asyncio.create_task(self._receive(connection))
        dropper = asyncio.create_task(connection.drop.wait())
        watchdog = (
            asyncio.create_task(self._watch_heartbeats(connection))
            if self.heartbeat_timeout
            else None
        )
        waiting = {receiver, dropper} | ({watchdog} if watchdog else set())
        try:
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in waiting:
                task.cancel()
            await asyncio.gather(*waiting, return_exceptions=True)
        if connection.drop.is_set() and not connection.closed:
            if connection.drop_code is None:
                # Return without a close frame: the server closes the TCP connection.
                connection.closed = True
                connection.closed_by = "drop"
            else:
                await connection.close(connection.drop_code, "dropped by the test")
                connection.closed_by = "drop"

    async def _watch_heartbeats(self, connection: Connection) -> None:
        assert self.heartbeat_timeout is not None
        while not connection.closed:
            idle = time.monotonic() - connection.last_heartbeat
            if idle > self.heartbeat_timeout:
                await connection.close(wire.CLOSE_SESSION_TIMED_OUT, "Session timed out")
                return
            await asyncio.sleep(max(0.01, self.heartbeat_timeout - idle))

    async def _receive(self, connection: Connection) -> None:
        while True:
            try:
                message = await connection.ws.receive()
            except (WebSocketDisconnect, RuntimeError):
                return
            if message["type"] == "websocket.disconnect":
                if not connection.closed:
                    connection.close_code = message.get("code")
                    connection.closed_by = "client"
                return
            raw = message.get("text")
            if raw is None and message.get("bytes") is not None:
                raw = message["bytes"].decode("utf-8", "replace")
            try:
                payload = json.loads(raw or "")
                if not isinstance(payload, dict) or not isinstance(payload.get("op"), int):
                    raise ValueError
            except ValueError:
                await connection.close(wire.CLOSE_DECODE_ERROR, "Error while decoding payload.")
                return
            connection.received.append(payload)
            if not self._within_rate(connection):
                await connection.close(wire.CLOSE_RATE_LIMITED, "You are being rate limited.")
                return
            if not await self._handle(connection, payload):
                return

    def _within_rate(self, connection: Connection) -> bool:
        count, per = self.rate_limit
        now = time.monotonic()
        while connection.recent and connection.recent[0] <= now - per:
            connection.recent.popleft()
        connection.recent.append(now)
        return len(connection.recent) <= count

    async def _handle(self, connection: Connection, payload: dict[str, Any]) -> bool:
        """Act on one client payload; False once the connection is closed."""
        op = payload["op"]
        data = payload.get("d")
        if op == wire.OP_HEARTBEAT:
            connection.heartbeats.append(data)
            connection.last_heartbeat = time.monotonic()
            if not self.acks_paused:
                with contextlib.suppress(ConnectionGone):
                    await connection.send({"op": wire.OP_HEARTBEAT_ACK})
            return True
        if op == wire.OP_IDENTIFY:
            return await self._identify(connection, data if isinstance(data, dict) else {})
        if op == wire.OP_RESUME:
            return await self._resume(connection, data if isinstance(data, dict) else {})
        if op in (
            wire.OP_PRESENCE_UPDATE,
            wire.OP_VOICE_STATE_UPDATE,
            wire.OP_REQUEST_GUILD_MEMBERS,
        ):
            if connection.session is None:
                await connection.close(wire.CLOSE_NOT_AUTHENTICATED, "Not authenticated.")
                return False
            if op == wire.OP_PRESENCE_UPDATE:
                self.presence_updates.append(data if isinstance(data, dict) else {})
            if op == wire.OP_REQUEST_GUILD_MEMBERS and isinstance(data, dict):
                await self._members_chunk(connection.session, data)
            return True
        await connection.close(wire.CLOSE_UNKNOWN_OPCODE, "Unknown opcode.")
        return False

    async def _identify(self, connection: Connection, data: dict[str, Any]) -> bool:
        if connection.session is not None:
            await connection.close(wire.CLOSE_ALREADY_AUTHENTICATED, "Already authenticated.")
            return False
        if data.get("token") != self.state.token:
            await connection.close(wire.CLOSE_AUTHENTICATION_FAILED, "Authentication failed.")
            return False
        intents = data.get("intents")
        if not isinstance(intents, int) or intents < 0 or intents & ~wire.ALL_INTENTS:
            await connection.close(wire.CLOSE_INVALID_INTENTS, "Invalid intent(s).")
            return False
        if intents & wire.PRIVILEGED_INTENTS & ~self.allowed_privileged:
            await connection.close(wire.CLOSE_DISALLOWED_INTENTS, "Disallowed intent(s).")
            return False
        shard = data.get("shard") or [0, 1]
        if (
            not isinstance(shard, list)
            or len(shard) != 2
            or not all(isinstance(n, int) for n in shard)
            or not 0 <= shard[0] < shard[1]
        ):
            await connection.close(wire.CLOSE_INVALID_SHARD, "Invalid shard.")
            return False
        self.identifies.append(data)
        self.session_start_remaining = max(0, self.session_start_remaining - 1)
        session = Session(wire.new_session_id(), intents, (shard[0], shard[1]), data, connection)
        self.sessions[session.id] = session
        connection.session = session
        self._span(connection, session, "identify")
        async with session.lock:
            await self._emit(session, "READY", self._ready(session))
            for guild in self._guilds_of(session):
                await self._emit(session, "GUILD_CREATE", self._guild_create(guild, session))
            session.ready = True
        return True

    async def _resume(self, connection: Connection, data: dict[str, Any]) -> bool:
        if connection.session is not None:
            await connection.close(wire.CLOSE_ALREADY_AUTHENTICATED, "Already authenticated.")
            return False
        if data.get("token") != self.state.token:
            await connection.close(wire.CLOSE_AUTHENTICATION_FAILED, "Authentication failed.")
            return False
        session = self.sessions.get(str(data.get("session_id")))
        if session is None or not session.resumable:
            with contextlib.suppress(ConnectionGone):
                await connection.send(self._op(wire.OP_INVALID_SESSION, False))
            return True
        seq = data.get("seq") or 0
        if not isinstance(seq, int) or seq > session.seq:
            await connection.close(wire.CLOSE_INVALID_SEQ, "Invalid seq.")
            return False
        async with session.lock:
            previous = session.connection
            session.connection = connection
            connection.session = session
            self._span(connection, session, "resume")
            session.resumes.append(seq)
            try:
                async with connection.lock:
                    for message in session.log:
                        if message["s"] > seq:
                            await connection.write(message)
            except ConnectionGone:
                return False
            await self._emit(session, "RESUMED", {"_trace": ['["fake-discord-gateway",{}]']})
        if previous is not None and previous is not connection:
            await previous.close(wire.CLOSE_UNKNOWN_ERROR, "Session resumed elsewhere")
        return True

    def _span(self, connection: Connection, session: Session, how: str) -> None:
        client = connection.ws.client
        connection.span = Span(
            session.shard, how, time.monotonic(), client_port=client.port if client else None
        )
        self.spans.append(connection.span)

    async def _members_chunk(self, session: Session, data: dict[str, Any]) -> None:
        guild = self.state.guilds.get(str(data.get("guild_id")))
        if guild is None:
            return
        wanted = {str(u) for u in data.get("user_ids") or []}
        query = str(data.get("query") or "").lower()
        limit = int(data.get("limit") or 0)
        members = [
            m
            for uid, m in guild.members.items()
            if (uid in wanted if wanted else m.user.username.lower().startswith(query))
        ]
        if limit:
            members = members[:limit]
        chunk: dict[str, Any] = {
            "guild_id": guild.id,
            "members": [m.payload() for m in members],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": sorted(wanted - set(guild.members)),
        }
        if data.get("nonce") is not None:
            chunk["nonce"] = data["nonce"]
        async with session.lock:
            await self._emit(session, "GUILD_MEMBERS_CHUNK", chunk)
