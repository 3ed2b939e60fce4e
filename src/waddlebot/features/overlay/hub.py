"""The ``browser_source`` service's fan-out: every open overlay page of a community gets the
updates published on ``overlay.<community_id>``, from any router process.

One broadcast subscription per community in this process (not one per page), one reader
that encodes each update once, and for each page a bounded queue drained by its own sender.
A page whose queue is full, or whose send takes longer than a heartbeat, is dropped without
holding up the others; a page that stops answering heartbeats is dropped too. A page that
connects replays what its kind shows now (kept in the cache by the publisher) before any
live update.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

import orjson
import structlog

from waddlebot.core.overlay import PAGES
from waddlebot.infra import metrics
from waddlebot.infra import overlay_keys as keys
from waddlebot.infra.ports import Broadcast, Cache, Subscription
from waddlebot.infra.tasks import stop_task

log = structlog.get_logger("waddlebot.features.overlay")

# close codes a page understands (see static/overlay.js)
GOING_AWAY = 1001
TRY_AGAIN_LATER = 1013
ROTATED = 4001
TOO_SLOW = 4008
NO_HEARTBEAT = 4009
MISSED_HEARTBEATS = 2.5  # a page silent this many heartbeats is gone
_PING = '{"type":"ping"}'


class Socket(Protocol):
    """What the hub needs of a WebSocket (Starlette's has it)."""

    async def send_text(self, data: str) -> None: ...

    async def close(self, code: int = 1000, reason: str | None = None) -> None: ...


class OverlayClient:
    """One open overlay page: its socket, its bounded queue, and the task sending it."""

    def __init__(
        self,
        socket: Socket,
        *,
        community_id: int,
        page: str,
        token_hash: str,
        queue_size: int = 64,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.socket = socket
        self.community_id = community_id
        self.page = page
        self.token_hash = token_hash
        self._queue: deque[str] = deque()
        self._queue_size = queue_size
        self._held: list[str] | None = []  # updates that arrive while the state is replayed
        self._wake = asyncio.Event()
        self._sending: asyncio.Timeout | None = None
        self._clock = clock
        self._tell = True  # whether the socket still needs a close frame
        self.last_seen = clock()
        self.close_code: int | None = None
        self.close_reason = ""
        self.finished = asyncio.Event()

    @property
    def ending(self) -> bool:
        return self.close_code is not None

    def seen(self) -> None:
        """The page said something (a heartbeat answer): it is alive."""
        self.last_seen = self._clock()

    def offer(self, text: str) -> bool:
        """Queue a message without waiting; False when the page is too far behind."""
        if self.ending:
            return True
        if self._held is not None:
            self._held.append(text)
            return len(self._held) <= self._queue_size
        if len(self._queue) >= self._queue_size:
            return False
        self._queue.append(text)
        self._wake.set()
        return True

    def release(self, first: list[str]) -> bool:
        """Queue ``first`` (the hello and the replayed state), then what arrived meanwhile."""
        held, self._held = self._held or [], None
        self._queue.extend(first)
        self._queue.extend(held)
        self._wake.set()
        return len(held) <= self._queue_size

    def end(self, code: int, reason: str, *, why: str = "", tell: bool = True) -> None:
        """Close the page now: what is queued is not sent, a send in progress is abandoned.
        ``why`` counts it in the metrics; ``tell=False`` when the socket is gone already."""
        if self.ending:
            return
        self.close_code, self.close_reason, self._tell = code, reason, tell
        if why:
            metrics.OVERLAY_DISCONNECTS.labels(why).inc()
            if why != "rotated":
                log.info("overlay page dropped", reason=why, community_id=self.community_id)
        self._wake.set()
        if self._sending is not None and not self._sending.expired():
            self._sending.reschedule(asyncio.get_running_loop().time())

    async def pump(self, send_timeout: float) -> None:
        """Send what is queued, in order, until the page is ended or its socket fails."""
        try:
            while not self.ending:
                await self._wake.wait()
                self._wake.clear()
                while self._queue and not self.ending:
                    text = self._queue.popleft()
                    try:
                        async with asyncio.timeout(send_timeout) as self._sending:
                            await self.socket.send_text(text)
                    except TimeoutError:
                        self.end(TOO_SLOW, "too slow", why="slow")
                    finally:
                        self._sending = None
        except Exception:  # the socket went away under us: nothing left to tell it
            self.end(GOING_AWAY, "", tell=False)
        finally:
            self._queue.clear()
            if self._tell:
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(1):
                        await self.socket.close(self.close_code or 1000, self.close_reason)
            self.finished.set()


class _Room:
    """The pages of one community in this process."""

    def __init__(self, community_id: int, subscription: Subscription) -> None:
        self.community_id = community_id
        self.subscription = subscription
        self.pages: dict[str, set[OverlayClient]] = {page: set() for page in PAGES}
        self.reader: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return sum(len(clients) for clients in self.pages.values())

    def clients(self) -> list[OverlayClient]:
        return [client for clients in self.pages.values() for client in clients]


class OverlayHub:
    def __init__(
        self,
        broadcast: Broadcast,
        cache: Cache,
        *,
        max_connections: int = 50,
        queue_size: int = 64,
        heartbeat: float = 15.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._broadcast = broadcast
        self._cache = cache
        self.max_connections = max_connections
        self.queue_size = queue_size
        self.heartbeat = heartbeat
        self._clock = clock
        self._rooms: dict[int, _Room] = {}
        self._rooms_lock = asyncio.Lock()
        self._beat: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def live_ttl(self) -> float:
        return 3 * self.heartbeat

    async def start(self) -> None:
        self._beat = asyncio.create_task(self._heartbeats(), name="overlay-heartbeats")

    async def stop(self) -> None:
        """Close every page (they reconnect to another process, or to this one restarted)."""
        self._stopping = True
        await stop_task(self._beat)
        clients = [client for room in self._rooms.values() for client in room.clients()]
        for client in clients:
            client.end(GOING_AWAY, "server going away")
        if clients:
            waits = [asyncio.ensure_future(c.finished.wait()) for c in clients]
            await asyncio.wait(waits, timeout=5)
            for wait in waits:
                wait.cancel()
        async with self._rooms_lock:
            rooms, self._rooms = list(self._rooms.values()), {}
        for room in rooms:
            for client in room.clients():
                metrics.OVERLAY_CONNECTIONS.labels(client.page).dec()
            await self._close_room(room)

    def client(
        self, socket: Socket, community_id: int, page: str, token_hash: str
    ) -> OverlayClient:
        return OverlayClient(
            socket,
            community_id=community_id,
            page=page,
            token_hash=token_hash,
            queue_size=self.queue_size,
            clock=self._clock,
        )

    def connections(self, community_id: int) -> int:
        room = self._rooms.get(community_id)
        return 0 if room is None else len(room)

    async def join(self, client: OverlayClient) -> bool:
        """Add a page: False (and nothing done) when its community has too many open here.
        Once this returns True the page gets its hello, then its state, then live updates."""
        if self._stopping:
            return False
        room = await self._room(client.community_id)
        if len(room) >= self.max_connections:
            metrics.OVERLAY_DISCONNECTS.labels("limit").inc()
            await self._forget_if_empty(room)
            return False
        room.pages[client.page].add(client)
        metrics.OVERLAY_CONNECTIONS.labels(client.page).inc()
        try:
            await self._cache.set(keys.live_key(client.community_id), b"1", self.live_ttl)
            kept = await self._cache.get(keys.state_key(client.community_id, client.page))
        except Exception:
            await self.leave(client)
            raise
        hello = {
            "type": "hello",
            "kind": client.page,
            "heartbeat": self.heartbeat,
            "now": int(time.time() * 1000),
        }
        items = [_page_update(message) for message in (orjson.loads(kept) if kept else [])]
        first = [orjson.dumps(hello).decode()]
        if items:
            first.append(orjson.dumps({"type": "state", "items": items}).decode())
        if not client.release(first):
            client.end(TOO_SLOW, "too slow", why="slow")
        return True

    async def serve(self, client: OverlayClient) -> None:
        """Send to the page until it is ended (by the hub, or by :meth:`leave`)."""
        await client.pump(send_timeout=self.heartbeat)

    async def leave(self, client: OverlayClient) -> None:
        """Forget a page whose socket is gone (or is being closed)."""
        client.end(GOING_AWAY, "", tell=False)
        room = self._rooms.get(client.community_id)
        if room is None or client not in room.pages[client.page]:
            return
        room.pages[client.page].discard(client)
        metrics.OVERLAY_CONNECTIONS.labels(client.page).dec()
        await self._forget_if_empty(room)

    # -- rooms -----------------------------------------------------------------------------

    async def _room(self, community_id: int) -> _Room:
        room = self._rooms.get(community_id)
        if room is not None:
            return room
        async with self._rooms_lock:
            room = self._rooms.get(community_id)
            if room is None:
                subscription = await self._broadcast.subscribe(keys.channel(community_id))
                room = self._rooms[community_id] = _Room(community_id, subscription)
                room.reader = asyncio.create_task(
                    self._read(room), name=f"overlay-room-{community_id}"
                )
            return room

    async def _forget_if_empty(self, room: _Room) -> None:
        async with self._rooms_lock:
            if len(room) or self._rooms.get(room.community_id) is not room:
                return
            del self._rooms[room.community_id]
        await self._close_room(room)

    async def _close_room(self, room: _Room) -> None:
        await stop_task(room.reader)
        with contextlib.suppress(Exception):
            await room.subscription.close()

    async def _read(self, room: _Room) -> None:
        async for data in room.subscription:
            try:
                message = orjson.loads(data)
                if "control" in message:
                    self._control(room, message)
                    continue
                page = message["kind"]
                text = orjson.dumps(_page_update(message)).decode()
            except (ValueError, KeyError, TypeError):
                log.warning("malformed overlay message ignored", community_id=room.community_id)
                continue
            for client in list(room.pages.get(page, ())):
                if not client.offer(text):
                    client.end(TOO_SLOW, "too slow", why="slow")
            # let the senders take it before the next one of a burst: a page counts as slow
            # when it cannot keep up, not when many updates came in one go
            await asyncio.sleep(0)

    def _control(self, room: _Room, message: dict[str, Any]) -> None:
        if message.get("control") == "revoke":
            retired = message.get("token_hash")
            for client in room.clients():
                if client.token_hash == retired:
                    client.end(ROTATED, "overlay URL replaced", why="rotated")

    # -- heartbeats --------------------------------------------------------------------------

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat)
            try:
                await self.beat()
            except Exception:  # Redis away for a moment: pages are still served
                log.warning("overlay heartbeat failed", exc_info=True)

    async def beat(self) -> None:
        """Ping every page, drop those silent too long, and keep the live flags up."""
        deadline = self._clock() - MISSED_HEARTBEATS * self.heartbeat
        for room in list(self._rooms.values()):
            for client in room.clients():
                if client.last_seen < deadline:
                    client.end(NO_HEARTBEAT, "no heartbeat", why="dead")
                elif not client.offer(_PING):
                    client.end(TOO_SLOW, "too slow", why="slow")
        live = [(keys.live_key(c), b"1") for c, room in self._rooms.items() if len(room)]
        if live:
            await self._cache.set_many(live, self.live_ttl)


def _page_update(message: dict[str, Any]) -> dict[str, Any]:
    """A published update as a page receives it."""
    return {
        "type": "update",
        "id": message["id"],
        "kind": message["kind"],
        "data": message["payload"],
        "at": message["at"],
    }
