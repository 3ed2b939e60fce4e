"""The infrastructure ports. Each has an in-process adapter (embedded) and a Redis adapter
(distributed); :func:`waddlebot.infra.factory.build_ports` picks by ``WADDLEBOT_REDIS_URL``.

Payloads are ``bytes`` everywhere so callers choose their own encoding (we use orjson).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Protocol


class Cache(Protocol):
    async def get(self, key: str) -> bytes | None: ...

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]: ...

    async def set(self, key: str, value: bytes, ttl: float | None = None) -> None: ...

    async def set_many(self, items: Sequence[tuple[str, bytes]], ttl: float | None = None) -> None:
        """Set several keys with one TTL in one round trip."""
        ...

    async def add(self, key: str, value: bytes, ttl: float | None = None) -> bool:
        """Set only if absent; True when this call set it (atomic: exactly one caller wins)."""
        ...

    async def add_many(
        self, items: Sequence[tuple[str, bytes]], ttl: float | None = None
    ) -> list[bool]:
        """``add`` for several keys (each with its own value) in one round trip; one result
        per item, in order. A key given twice is added at most once."""
        ...

    async def delete(self, *keys: str) -> None: ...

    async def incr(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        """Atomic counter; the TTL is set when the key is created."""
        ...

    async def incr_many(
        self, items: Sequence[tuple[str, int]], ttl: float | None = None
    ) -> list[int]:
        """Add to several counters in one round trip; the new values. A counter created here
        expires after ``ttl`` seconds (never when None); an existing one keeps its expiry."""
        ...

    async def ping(self) -> bool:
        """True when the cache answers; one that cannot be reached raises (its error says
        why, for ``/readyz``)."""
        ...

    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class BusMessage:
    id: str
    data: bytes
    deliveries: int = 1  # how often this entry has been handed out (1 on first read)


class Backlogged(Exception):
    """A stream's readers are too far behind to be given more: nothing was published."""

    def __init__(self, stream: str, waiting: int, limit: int) -> None:
        super().__init__(f"{waiting} entries waiting on {stream!r}, more than {limit}")
        self.stream = stream
        self.waiting = waiting
        self.limit = limit


class Bus(Protocol):
    """Durable streams with consumer groups: at-least-once delivery.

    An entry read by a consumer stays pending until acknowledged; entries pending longer than
    ``min_idle_ms`` (their consumer died) can be reclaimed by another consumer of the group.

    Nothing is trimmed unread: an entry leaves the stream (``trim``, which acknowledging
    does now and then by itself) only once every consumer group of the stream is done with
    it. A stream no group reads keeps everything. Producers that can be told to come back
    later ask ``admit`` first, so a backlog is refused at the door instead.
    """

    async def publish(self, stream: str, payloads: Sequence[bytes]) -> list[str]:
        """Append entries; returns their ids once they are durably on the stream."""
        ...

    async def publish_once(self, stream: str, payload: bytes, key: str, ttl: float) -> str | None:
        """Append ``payload`` unless an earlier ``publish_once`` with the same ``key`` did
        within ``ttl`` seconds (a platform delivering the same message again): the entry's id,
        or None for a repeat, nothing published. The check, the append and the mark are one
        atomic step and one round trip; the key is marked only once the entry is on the
        stream, so a failure leaves it free for the platform's next try."""
        ...

    async def admit(self, stream: str) -> None:
        """Raise :class:`Backlogged` when the stream's ``backlog`` is above the bus's limit.
        The figure is read at most every quarter of a second per stream in each process, so
        a burst may go a little past the limit: it is a soft one."""
        ...

    async def backlog(self, stream: str) -> int:
        """Entries its slowest consumer group has not finished: not yet handed out to that
        group, or handed out and not acknowledged. Every entry when no group reads it."""
        ...

    async def trim(self, stream: str) -> int:
        """Remove the entries every consumer group is done with: those older than each
        group's oldest pending entry (or, with none pending, than the last entry it was
        handed). Nothing without a group. How many were removed (Redis removes whole
        stream nodes only, so a few finished entries may stay a while)."""
        ...

    async def ensure_group(self, stream: str, group: str) -> None: ...

    async def read(
        self, stream: str, group: str, consumer: str, count: int, block_ms: int
    ) -> list[BusMessage]:
        """New entries for this consumer, waiting up to ``block_ms`` when there are none."""
        ...

    async def ack(self, stream: str, group: str, ids: Sequence[str]) -> None: ...

    async def reclaim(
        self, stream: str, group: str, consumer: str, min_idle_ms: int, count: int
    ) -> list[BusMessage]:
        """Take over entries pending longer than ``min_idle_ms`` in other consumers' hands."""
        ...

    async def touch(self, stream: str, group: str, consumer: str, ids: Sequence[str]) -> list[str]:
        """Reset the idle time of entries this consumer still holds (a heartbeat while it works
        on them), so a slow batch is not reclaimed and answered twice. Entries another
        consumer has taken over (or that were acknowledged) are left alone; delivery counts
        do not change. Returns the ids it still holds."""
        ...

    async def pending_count(self, stream: str, group: str) -> int: ...

    async def length(self, stream: str) -> int: ...

    async def entries(self, stream: str, *, after: str = "", count: int = 100) -> list[BusMessage]:
        """Entries still on the stream with ids above ``after`` (from the first when empty),
        oldest first, read or not: for looking at a stream no group consumes (dead letters)."""
        ...

    async def entry(self, stream: str, entry_id: str) -> BusMessage | None:
        """One entry by id; None when it is not (or no longer) on the stream."""
        ...

    async def delete(self, stream: str, ids: Sequence[str]) -> int:
        """Remove entries from the stream; how many were there."""
        ...

    async def move(self, source: str, entry_id: str, target: str, payload: bytes) -> str | None:
        """In one atomic step, remove ``entry_id`` from ``source`` and, only if it was there,
        append ``payload`` to ``target``; the new entry's id, or None when the entry was gone
        (so two callers moving the same entry move it once)."""
        ...

    async def close(self) -> None: ...


class Subscription(Protocol):
    def __aiter__(self) -> AsyncIterator[bytes]: ...

    async def close(self) -> None: ...


class Broadcast(Protocol):
    """Fire-and-forget fan-out to every current subscriber of a channel (no persistence)."""

    async def publish(self, channel: str, data: bytes) -> None: ...

    async def subscribe(self, channel: str) -> Subscription:
        """Subscribe; messages published after this returns are delivered."""
        ...

    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Limit:
    amount: int
    seconds: int

    def __str__(self) -> str:
        return f"{self.amount}/{self.seconds}s"


Check = tuple[Limit, tuple[str, ...]]  # a limit and the key it counts under


class RateLimiter(Protocol):
    async def hit(self, limit: Limit, *key: str) -> bool:
        """Count one hit; False when the limit is exhausted (atomic under concurrency)."""
        ...

    async def hit_many(self, groups: Sequence[Sequence[Check]]) -> list[int | None]:
        """``hit`` each group's checks in order, stopping at the first limit that is
        exhausted, for every group in one round trip. One result per group: the index of the
        check that refused (the hits before it were counted), or None when all were."""
        ...

    async def reset_in(self, limit: Limit, *key: str) -> float:
        """Seconds until the next hit would be allowed (0 when it is allowed now)."""
        ...

    async def clear(self, limit: Limit, *key: str) -> None: ...

    async def close(self) -> None: ...


class Lease(Protocol):
    """A named lease that one owner holds at a time, for ``ttl`` seconds unless renewed:
    leader election among processes (the holder of ``scheduler`` runs the periodic jobs).

    Every call is atomic across all processes sharing the adapter. A holder that dies or
    stalls (a long garbage-collector pause) loses the lease when its ``ttl`` runs out, and
    may only find out on its next ``renew``: work done under a lease must still be safe if
    two processes briefly both believe they hold it.
    """

    async def acquire(self, name: str, owner: str, ttl: float) -> bool:
        """Take the lease if nobody holds it; True when ``owner`` got it. False while anyone
        holds it, ``owner`` included (a holder renews instead)."""
        ...

    async def renew(self, name: str, owner: str, ttl: float) -> bool:
        """Hold the lease ``ttl`` seconds from now, only if ``owner`` still holds it."""
        ...

    async def release(self, name: str, owner: str) -> bool:
        """Give the lease up, only if ``owner`` holds it; True when it did."""
        ...

    async def holder(self, name: str) -> str | None:
        """Who holds the lease now; None when nobody does."""
        ...

    async def holders(self, names: Sequence[str]) -> list[str | None]:
        """``holder`` of several leases in one round trip, in order."""
        ...

    async def close(self) -> None: ...


@dataclass
class Ports:
    cache: Cache
    bus: Bus
    broadcast: Broadcast
    ratelimiter: RateLimiter
    lease: Lease

    async def close(self) -> None:
        for port in (self.lease, self.ratelimiter, self.broadcast, self.bus, self.cache):
            await port.close()
