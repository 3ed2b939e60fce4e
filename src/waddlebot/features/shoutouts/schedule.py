"""When Twitch takes the next shoutout: it allows one per channel every 2 minutes and the
same person once an hour (429 otherwise), so shoutouts wait their turn here, in the cache
every router process shares, instead of failing."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass

import orjson

from waddlebot.core.events import new_id
from waddlebot.infra.ports import Cache, Lease

CHANNEL_GAP = 120.0  # seconds between two shoutouts of a channel
TARGET_GAP = 3600.0  # seconds between two shoutouts of one person by a channel
QUEUED_FOR = 2 * TARGET_GAP  # how long the cache keeps a channel's queue
LOCK_SECONDS = 5.0  # a queue's lock left by a process that died frees itself after this
LOCK_RETRY = 0.02  # seconds between two tries to take a queue's lock
LOCK_TRIES = int(2 * LOCK_SECONDS / LOCK_RETRY)


@dataclass(frozen=True, slots=True)
class Queued:
    target_id: str
    name: str
    due: float  # Unix seconds


class ShoutoutSchedule:
    def __init__(self, cache: Cache, lease: Lease) -> None:
        self._cache = cache
        self._lease = lease

    async def next_slot(self, channel: str, target: str, now: float) -> float:
        """The first moment both of Twitch's limits allow this shoutout."""
        free, target_free = await self._cache.get_many(
            [_channel_key(channel), _target_key(channel, target)]
        )
        return max(now, _seconds(free), _seconds(target_free))

    async def book(self, channel: str, target: str, at: float) -> None:
        """Hold the slot at ``at``: the channel's next comes 2 minutes later, the person's an
        hour later."""
        await self._cache.set(_channel_key(channel), str(at + CHANNEL_GAP).encode(), TARGET_GAP)
        await self._cache.set(
            _target_key(channel, target), str(at + TARGET_GAP).encode(), TARGET_GAP
        )

    async def queue(self, channel: str) -> list[Queued]:
        raw = await self._cache.get(_queue_key(channel))
        return [Queued(**item) for item in orjson.loads(raw)] if raw else []

    async def add(self, channel: str, *items: Queued) -> None:
        async with self._locked(channel):
            await self._save(channel, [*await self.queue(channel), *items])

    async def take_due(self, channel: str, now: float) -> list[Queued]:
        """The queued shoutouts whose time has come, earliest first, out of the queue."""
        async with self._locked(channel):
            waiting = await self.queue(channel)
            due = sorted((q for q in waiting if q.due <= now), key=lambda q: q.due)
            if due:
                await self._save(channel, [q for q in waiting if q.due > now])
        return due

    async def _save(self, channel: str, queued: list[Queued]) -> None:
        if queued:
            body = orjson.dumps([asdict(q) for q in queued])
            await self._cache.set(_queue_key(channel), body, QUEUED_FOR)
        else:
            await self._cache.delete(_queue_key(channel))

    @contextlib.asynccontextmanager
    async def _locked(self, channel: str) -> AsyncIterator[None]:
        """The channel's queue to this caller alone while it reads and writes it back: the
        cache has no compare-and-set, so a lease is the lock (released only by its holder,
        so one that outlived its time never frees another's). It is held for two cache
        calls, never across a call to Twitch."""
        name, holder = _lock_name(channel), new_id()
        for _ in range(LOCK_TRIES):  # another process's lock: it frees it in milliseconds
            if await self._lease.acquire(name, holder, LOCK_SECONDS):
                break
            await asyncio.sleep(LOCK_RETRY)
        else:
            raise TimeoutError(f"the shoutout queue of channel {channel} stayed locked")
        try:
            yield
        finally:
            await self._lease.release(name, holder)


def _seconds(raw: bytes | None) -> float:
    return float(raw) if raw else 0.0


def _channel_key(channel: str) -> str:
    return f"shoutouts:free:{channel}"


def _target_key(channel: str, target: str) -> str:
    return f"shoutouts:free:{channel}:{target}"


def _queue_key(channel: str) -> str:
    return f"shoutouts:queue:{channel}"


def _lock_name(channel: str) -> str:
    return f"shoutouts:queue:{channel}"
