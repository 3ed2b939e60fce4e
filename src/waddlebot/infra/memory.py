"""In-process adapters for the infrastructure ports (single process, no Redis).

They mirror the Redis adapters' semantics so the embedded mode behaves like the distributed one:
the bus is at-least-once with consumer groups, the cache's ``add`` has exactly one winner, and so
on. Everything runs on one event loop; none of this is thread-safe.
"""

from __future__ import annotations

import asyncio
import heapq
import math
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Sequence

import structlog

from waddlebot.infra.backlog import TRIM_EVERY_SECONDS, BacklogGate, TrimSchedule
from waddlebot.infra.ports import BusMessage, Check, Limit

_log = structlog.get_logger(__name__)

_NEVER = math.inf


def _expiry(now: float, ttl: float | None) -> float:
    return _NEVER if ttl is None else now + ttl


class MemoryCache:
    """A dict with expiry timestamps (``time.monotonic``).

    Expired entries are dropped lazily when read, and an index of expiry times lets every
    write also drop a few entries whose time has passed, so keys that are never read again do
    not pile up. Beyond ``max_entries`` the least recently written entry is evicted.

    No object is made per entry: values and expiry times are kept in two dicts, and the index
    files keys under their expiry time rounded up to a 64th of a second (a list per such
    instant, a heap of the instants). A tuple per entry, as a heap of ``(expiry, key)`` would
    make, is one more object the garbage collector's youngest generation has to look at, and
    in the embedded mode these entries were most of what it looked at (docs/performance.md).
    """

    _SWEEP_BUDGET = 32  # expired entries dropped per write, at most
    _TICKS_PER_SECOND = 64  # the index's resolution

    def __init__(
        self, *, max_entries: int = 1_000_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._clock = clock  # tests pass a controlled one
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._max_entries = max_entries
        self._values: dict[str, bytes] = {}  # insertion order is write order (for eviction)
        self._expires: dict[str, float] = {}  # monotonic expiry of the keys that have one
        self._due: dict[int, list[str]] = {}  # tick -> keys written to expire by it
        self._ticks: list[int] = []  # heap of the ticks in ``_due``
        self._indexed = 0  # keys in ``_due``, stale ones (rewritten, deleted) included

    def __len__(self) -> int:
        return len(self._values)

    def _get(self, key: str, now: float) -> bytes | None:
        value = self._values.get(key)
        if value is not None:
            expires = self._expires.get(key)
            if expires is not None and expires <= now:
                self._drop(key)
                return None
        return value

    def _drop(self, key: str) -> None:
        self._values.pop(key, None)
        self._expires.pop(key, None)

    def _put(self, key: str, value: bytes, expires: float, now: float) -> None:
        values = self._values
        if key in values:
            del values[key]  # written again: now the newest
        values[key] = value
        if expires == _NEVER:
            self._expires.pop(key, None)
        else:
            self._expires[key] = expires
            self._index(key, expires)
        self._sweep(now)
        while len(values) > self._max_entries:
            self._drop(next(iter(values)))

    def _index(self, key: str, expires: float) -> None:
        tick = math.ceil(expires * self._TICKS_PER_SECOND)
        keys = self._due.get(tick)
        if keys is None:
            keys = self._due[tick] = []
            heapq.heappush(self._ticks, tick)
        keys.append(key)
        self._indexed += 1

    def _sweep(self, now: float) -> None:
        ticks, due, expires = self._ticks, self._due, self._expires
        budget = self._SWEEP_BUDGET
        # every key filed under a tick that has passed had expired by then, unless rewritten
        while budget and ticks and ticks[0] <= now * self._TICKS_PER_SECOND:
            keys = due[ticks[0]]
            while budget and keys:
                key = keys.pop()
                self._indexed -= 1
                budget -= 1
                when = expires.get(key)
                if when is not None and when <= now:
                    self._drop(key)
            if not keys:
                del due[heapq.heappop(ticks)]
        # Rewritten and deleted keys leave stale index records: rebuild when they dominate.
        if self._indexed > 2 * len(expires) + 1024:
            self._due, self._ticks, self._indexed = {}, [], 0
            for key, when in expires.items():
                self._index(key, when)

    async def get(self, key: str) -> bytes | None:
        return self._get(key, self._clock())

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        now = self._clock()
        return [self._get(key, now) for key in keys]

    async def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        now = self._clock()
        self._put(key, value, _expiry(now, ttl), now)

    async def set_many(self, items: Sequence[tuple[str, bytes]], ttl: float | None = None) -> None:
        now = self._clock()
        expires = _expiry(now, ttl)
        for key, value in items:
            self._put(key, value, expires, now)

    async def add(self, key: str, value: bytes, ttl: float | None = None) -> bool:
        now = self._clock()
        if self._get(key, now) is not None:
            return False
        self._put(key, value, _expiry(now, ttl), now)
        return True

    async def add_many(
        self, items: Sequence[tuple[str, bytes]], ttl: float | None = None
    ) -> list[bool]:
        now = self._clock()
        expires = _expiry(now, ttl)
        out: list[bool] = []
        for key, value in items:
            added = self._get(key, now) is None
            if added:
                self._put(key, value, expires, now)
            out.append(added)
        return out

    async def delete(self, *keys: str) -> None:
        for key in keys:
            self._drop(key)

    async def incr(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        now = self._clock()
        current = self._get(key, now)
        if current is None:
            self._put(key, b"%d" % amount, _expiry(now, ttl), now)
            return amount
        value = int(current) + amount  # ValueError for a non-integer, like Redis's error
        self._values[key] = b"%d" % value  # keeps its expiry and position
        return value

    async def incr_many(
        self, items: Sequence[tuple[str, int]], ttl: float | None = None
    ) -> list[int]:
        return [await self.incr(key, amount, ttl) for key, amount in items]

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        self._values.clear()
        self._expires.clear()
        self._due.clear()
        self._ticks.clear()
        self._indexed = 0


class _Pending:
    __slots__ = ("consumer", "data", "delivered_at", "deliveries")

    def __init__(self, consumer: str, data: bytes, delivered_at: float) -> None:
        self.consumer = consumer
        self.data = data  # reclaim hands it out again without looking the entry up
        self.delivered_at = delivered_at
        self.deliveries = 1


class _Group:
    __slots__ = ("cursor", "pending")

    def __init__(self, cursor: int) -> None:
        self.cursor = cursor  # absolute position of the next entry to hand out
        self.pending: OrderedDict[str, _Pending] = OrderedDict()  # in id order


class _Stream:
    __slots__ = ("deleted", "entries", "first", "groups", "last_ms", "last_seq", "waiters")

    def __init__(self) -> None:
        # a deleted entry stays as a tombstone (data None), so that positions do not move
        self.entries: deque[tuple[str, bytes | None]] = deque()
        self.deleted = 0  # tombstones among the entries
        self.first = 0  # absolute position of entries[0]
        self.groups: dict[str, _Group] = {}
        self.last_ms = 0
        self.last_seq = -1
        self.waiters: set[asyncio.Future[None]] = set()

    def next_id(self) -> str:
        ms = int(time.time() * 1000)
        if ms > self.last_ms:
            self.last_ms, self.last_seq = ms, 0
        else:  # same millisecond, or the clock went back: keep ids increasing
            self.last_seq += 1
        return f"{self.last_ms}-{self.last_seq}"

    def wake(self) -> None:
        for waiter in self.waiters:
            if not waiter.done():
                waiter.set_result(None)
        self.waiters.clear()


class MemoryBus:
    """Streams with consumer groups in process memory, with the Redis Streams semantics.

    Like the Redis bus, a stream is trimmed only below what every consumer group is done with
    (``trim``, also run by ``ack`` at most every :data:`TRIM_EVERY_SECONDS` per stream), here
    exactly rather than by whole stream nodes; a stream no group reads keeps everything. New
    entries are refused (``admit``) while a stream's backlog is above ``max_backlog``.
    """

    def __init__(
        self, *, max_backlog: int = 100_000, trim_every: float = TRIM_EVERY_SECONDS
    ) -> None:
        self._streams: dict[str, _Stream] = {}
        self._published_once = MemoryCache()  # publish_once's keys
        self._gate = BacklogGate(self.backlog, max_backlog)
        self._trims = TrimSchedule(trim_every)

    def _group(self, stream: str, group: str) -> tuple[_Stream, _Group]:
        s = self._streams.get(stream)
        g = s.groups.get(group) if s is not None else None
        if s is None or g is None:
            raise LookupError(f"NOGROUP no group {group!r} on stream {stream!r}")
        return s, g

    async def publish(self, stream: str, payloads: Sequence[bytes]) -> list[str]:
        s = self._streams.get(stream)
        if s is None:
            s = self._streams[stream] = _Stream()
        ids = []
        for payload in payloads:
            entry_id = s.next_id()
            s.entries.append((entry_id, payload))
            ids.append(entry_id)
        if s.waiters:
            s.wake()
        return ids

    async def publish_once(self, stream: str, payload: bytes, key: str, ttl: float) -> str | None:
        if await self._published_once.get(key) is not None:
            return None
        (entry_id,) = await self.publish(stream, [payload])
        await self._published_once.set(key, b"1", ttl)
        return entry_id

    async def ensure_group(self, stream: str, group: str) -> None:
        s = self._streams.get(stream)
        if s is None:
            s = self._streams[stream] = _Stream()
        if group not in s.groups:
            s.groups[group] = _Group(s.first)  # like id "0": sees every entry still there

    def _take(self, s: _Stream, g: _Group, consumer: str, count: int) -> list[BusMessage]:
        pos = max(g.cursor, s.first)
        end = s.first + len(s.entries)
        if pos >= end:
            return []
        now = time.monotonic()
        entries, first, pending = s.entries, s.first, g.pending
        out: list[BusMessage] = []
        while pos < end and len(out) < count:
            entry_id, data = entries[pos - first]
            pos += 1
            if data is not None:
                pending[entry_id] = _Pending(consumer, data, now)
                out.append(BusMessage(entry_id, data))
        g.cursor = pos
        return out

    async def read(
        self, stream: str, group: str, consumer: str, count: int, block_ms: int
    ) -> list[BusMessage]:
        s, g = self._group(stream, group)
        messages = self._take(s, g, consumer, count)
        if messages or block_ms <= 0:
            return messages
        loop = asyncio.get_running_loop()
        deadline = loop.time() + block_ms / 1000
        while not messages:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            waiter = loop.create_future()
            s.waiters.add(waiter)
            try:
                await asyncio.wait_for(waiter, remaining)
            except TimeoutError:
                pass
            finally:
                s.waiters.discard(waiter)
            if self._streams.get(stream) is not s:  # closed meanwhile
                return []
            messages = self._take(s, g, consumer, count)
        return messages

    async def ack(self, stream: str, group: str, ids: Sequence[str]) -> None:
        s = self._streams.get(stream)
        g = s.groups.get(group) if s is not None else None
        if g is not None:
            for entry_id in ids:
                g.pending.pop(entry_id, None)
            if ids and self._trims.due(stream):
                await self.trim(stream)

    async def admit(self, stream: str) -> None:
        await self._gate.admit(stream)

    async def backlog(self, stream: str) -> int:
        s = self._streams.get(stream)
        if s is None:
            return 0
        if not s.groups:
            return len(s.entries) - s.deleted
        end = s.first + len(s.entries)
        # deleted entries not handed out yet count too: Redis cannot tell them apart either
        # (its lag is unknown past a deleted entry, and the whole stream counts then)
        return max(end - max(g.cursor, s.first) + len(g.pending) for g in s.groups.values())

    async def trim(self, stream: str) -> int:
        s = self._streams.get(stream)
        if s is None or not s.groups:
            return 0
        keep = min(self._oldest_unfinished(s, g) for g in s.groups.values())
        removed = 0
        while s.first < keep and s.entries:
            _, data = s.entries.popleft()
            s.first += 1
            if data is None:
                s.deleted -= 1
            else:
                removed += 1
        return removed

    @staticmethod
    def _oldest_unfinished(s: _Stream, g: _Group) -> int:
        """The position of the group's oldest pending entry; with none pending, of the last
        one it was handed (kept, like ``XTRIM MINID <last-delivered-id>`` keeps it)."""
        for entry_id in g.pending:  # in id order: the first is the oldest
            found = _find(s, entry_id)
            if found is not None:
                return s.first + found
        return max(g.cursor - 1, s.first)

    async def touch(self, stream: str, group: str, consumer: str, ids: Sequence[str]) -> list[str]:
        s = self._streams.get(stream)
        g = s.groups.get(group) if s is not None else None
        if g is None:
            return []
        now = time.monotonic()
        held = []
        for entry_id in ids:
            pending = g.pending.get(entry_id)
            if pending is not None and pending.consumer == consumer:
                pending.delivered_at = now
                held.append(entry_id)
        return held

    async def reclaim(
        self, stream: str, group: str, consumer: str, min_idle_ms: int, count: int
    ) -> list[BusMessage]:
        _, g = self._group(stream, group)
        now = time.monotonic()
        cutoff = now - min_idle_ms / 1000
        out: list[BusMessage] = []
        for entry_id, p in g.pending.items():
            if len(out) >= count:
                break
            if p.delivered_at <= cutoff:
                p.consumer, p.delivered_at = consumer, now
                p.deliveries += 1
                out.append(BusMessage(entry_id, p.data, p.deliveries))
        return out

    async def pending_count(self, stream: str, group: str) -> int:
        return len(self._group(stream, group)[1].pending)

    async def length(self, stream: str) -> int:
        s = self._streams.get(stream)
        return 0 if s is None else len(s.entries) - s.deleted

    async def entries(self, stream: str, *, after: str = "", count: int = 100) -> list[BusMessage]:
        s = self._streams.get(stream)
        if s is None:
            return []
        floor = _entry_key(after) if after else (-1, -1)
        out: list[BusMessage] = []
        for entry_id, data in s.entries:  # in id order
            if data is not None and _entry_key(entry_id) > floor:
                out.append(BusMessage(entry_id, data))
                if len(out) >= count:
                    break
        return out

    async def entry(self, stream: str, entry_id: str) -> BusMessage | None:
        s = self._streams.get(stream)
        found = _find(s, entry_id) if s is not None else None
        if s is None or found is None:
            return None
        data = s.entries[found][1]
        return None if data is None else BusMessage(entry_id, data)

    async def delete(self, stream: str, ids: Sequence[str]) -> int:
        s = self._streams.get(stream)
        if s is None:
            return 0
        removed = 0
        for entry_id in ids:
            found = _find(s, entry_id)
            if found is not None and s.entries[found][1] is not None:
                s.entries[found] = (entry_id, None)
                s.deleted += 1
                removed += 1
        return removed

    async def move(self, source: str, entry_id: str, target: str, payload: bytes) -> str | None:
        # nothing awaits between the two steps: atomic on the one event loop
        if not await self.delete(source, [entry_id]):
            return None
        (new_id,) = await self.publish(target, [payload])
        return new_id

    async def close(self) -> None:
        streams, self._streams = self._streams, {}
        for s in streams.values():
            s.wake()


def _entry_key(entry_id: str) -> tuple[int, int]:
    """A stream id (``<ms>-<seq>``) as something that sorts like it; ValueError if it is none."""
    ms, sep, seq = entry_id.partition("-")
    if not (sep and ms.isdigit() and seq.isdigit()):
        raise ValueError(f"{entry_id!r} is not a stream entry id (<ms>-<seq>)")
    return int(ms), int(seq)


def _find(s: _Stream, entry_id: str) -> int | None:
    """The index of ``entry_id`` in the stream's entries (ids increase: a binary search)."""
    wanted = _entry_key(entry_id)
    lo, hi = 0, len(s.entries)
    while lo < hi:
        mid = (lo + hi) // 2
        if _entry_key(s.entries[mid][0]) < wanted:
            lo = mid + 1
        else:
            hi = mid
    return lo if lo < len(s.entries) and s.entries[lo][0] == entry_id else None


class QueueSubscription:
    """A subscriber's bounded buffer; when full the oldest message is dropped (and a warning
    logged once) so a slow subscriber never holds up the publisher or the others.

    Iterate it from one task only. Iteration ends when the subscription is closed.
    """

    def __init__(
        self,
        channel: str,
        maxsize: int,
        on_close: Callable[[QueueSubscription], Awaitable[None]] | None = None,
    ) -> None:
        self.channel = channel
        self._maxsize = maxsize
        self._on_close = on_close
        self._buffer: deque[bytes] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False
        self._warned = False

    @property
    def closed(self) -> bool:
        return self._closed

    def put(self, data: bytes) -> None:
        if self._closed:
            return
        if len(self._buffer) >= self._maxsize:
            self._buffer.popleft()
            if not self._warned:
                self._warned = True
                _log.warning(
                    "broadcast subscriber too slow, dropping oldest messages",
                    channel=self.channel,
                    queue_size=self._maxsize,
                )
        self._buffer.append(data)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def __aiter__(self) -> QueueSubscription:
        return self

    async def __anext__(self) -> bytes:
        while not self._buffer:
            if self._closed:
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._buffer.popleft()

    def close_local(self) -> None:
        """Stop delivery without telling the owner (used when the owner itself closes)."""
        self._closed = True
        self._buffer.clear()
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def close(self) -> None:
        if self._closed:
            return
        self.close_local()
        if self._on_close is not None:
            await self._on_close(self)


class MemoryBroadcast:
    def __init__(self, *, queue_size: int = 1000) -> None:
        self._queue_size = queue_size
        self._subscribers: dict[str, set[QueueSubscription]] = {}

    async def publish(self, channel: str, data: bytes) -> None:
        for sub in self._subscribers.get(channel, ()):
            sub.put(data)

    async def subscribe(self, channel: str) -> QueueSubscription:
        sub = QueueSubscription(channel, self._queue_size, self._unsubscribe)
        self._subscribers.setdefault(channel, set()).add(sub)
        return sub

    async def _unsubscribe(self, sub: QueueSubscription) -> None:
        subs = self._subscribers.get(sub.channel)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subscribers[sub.channel]

    async def close(self) -> None:
        subscribers, self._subscribers = self._subscribers, {}
        for subs in subscribers.values():
            for sub in subs:
                sub.close_local()


class MemoryRateLimiter:
    """Exact moving window in this process: one deque of hit times per key.

    Written by hand rather than with ``limits``' async memory storage because that storage
    costs tens of microseconds a hit on the router's hot path (locks, expiry tasks) against
    about one here; on one event loop with no await inside ``hit`` it is atomic by design.
    """

    SWEEP_EVERY = 60.0

    def __init__(self) -> None:
        self._windows: dict[tuple[int, int, tuple[str, ...]], deque[float]] = {}
        self._next_sweep = time.monotonic() + self.SWEEP_EVERY

    def _window(self, limit: Limit, key: tuple[str, ...], now: float) -> deque[float]:
        full_key = (limit.amount, limit.seconds, key)
        window = self._windows.get(full_key)
        if window is None:
            window = self._windows[full_key] = deque()
        cutoff = now - limit.seconds
        while window and window[0] <= cutoff:
            window.popleft()
        return window

    async def hit(self, limit: Limit, *key: str) -> bool:
        return self._hit(limit, key, time.monotonic())

    async def hit_many(self, groups: Sequence[Sequence[Check]]) -> list[int | None]:
        now = time.monotonic()
        return [self._first_refusal(group, now) for group in groups]

    def _first_refusal(self, group: Sequence[Check], now: float) -> int | None:
        for i, (limit, key) in enumerate(group):
            if not self._hit(limit, key, now):
                return i
        return None

    def _hit(self, limit: Limit, key: tuple[str, ...], now: float) -> bool:
        if now >= self._next_sweep:
            self._sweep(now)
        window = self._window(limit, key, now)
        if len(window) >= limit.amount:
            return False
        window.append(now)
        return True

    async def reset_in(self, limit: Limit, *key: str) -> float:
        now = time.monotonic()
        window = self._window(limit, key, now)
        if len(window) < limit.amount:
            return 0.0
        return max(0.0, window[-limit.amount] + limit.seconds - now)

    async def clear(self, limit: Limit, *key: str) -> None:
        self._windows.pop((limit.amount, limit.seconds, key), None)

    def _sweep(self, now: float) -> None:
        """Forget keys whose every hit has left its window, so memory stays bounded."""
        self._next_sweep = now + self.SWEEP_EVERY
        stale = [k for k, w in self._windows.items() if not w or w[-1] <= now - k[1]]
        for key in stale:
            del self._windows[key]

    async def close(self) -> None:
        self._windows.clear()


class MemoryLease:
    """Leases held in this process: name -> (owner, expiry). ``clock`` gives seconds (the
    monotonic clock by default; tests pass a controlled one). On one event loop with no
    await inside a call, every call is atomic by design."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._held: dict[str, tuple[str, float]] = {}

    def _owner(self, name: str, now: float) -> str | None:
        held = self._held.get(name)
        if held is None:
            return None
        if held[1] <= now:
            del self._held[name]
            return None
        return held[0]

    async def acquire(self, name: str, owner: str, ttl: float) -> bool:
        now = self._clock()
        if self._owner(name, now) is not None:
            return False
        self._held[name] = (owner, now + ttl)
        return True

    async def renew(self, name: str, owner: str, ttl: float) -> bool:
        now = self._clock()
        if self._owner(name, now) != owner:
            return False
        self._held[name] = (owner, now + ttl)
        return True

    async def release(self, name: str, owner: str) -> bool:
        if self._owner(name, self._clock()) != owner:
            return False
        del self._held[name]
        return True

    async def holder(self, name: str) -> str | None:
        return self._owner(name, self._clock())

    async def holders(self, names: Sequence[str]) -> list[str | None]:
        now = self._clock()
        return [self._owner(name, now) for name in names]

    async def close(self) -> None:
        self._held.clear()
