"""Telling every process that something it keeps changed, within moments.

Processes keep things they read often: the cache port holds a community's aliases, custom
command names, prefix and people's roles, and some services keep a dict of their own (the
Slack workspaces a process sends to). A process that changes one of them in the database must
tell the others, or they act on the old one until it expires (five minutes for the name
indexes). :class:`ChangeFeed` does that over the broadcast port, one channel per kind of thing
(``changes.<kind>``):

- :meth:`ChangeFeed.write` writes cache entries, like ``set_many``/``delete``, and publishes them:
  every process whose cache is not the writer's (an embedded ``waddlebot chat`` beside a
  deployment on Redis, say) writes the same entries into its own. Processes sharing the
  writer's cache (all of a deployment's, on Redis) have nothing to do. Entries carry their
  values rather than "go and reload": a reload could read a replica that has not seen the
  change yet, or race a reader that loaded the old value, and bring it back.
- :meth:`ChangeFeed.publish` only names what changed (``kind``, ``key``); the handlers each
  process registered with :meth:`ChangeFeed.watch` drop or reload what they keep.

Writers publish after their transaction committed. Every process subscribes to every kind it
watches when it starts (:meth:`ChangeFeed.start`), before it serves anything. Broadcast is
fire-and-forget: a process that is not listening when a change goes out (its Redis connection
was down) misses it, and its entry ends when its TTL does, as before; the TTLs stay as that
backstop. Two writers changing the same entry from two different caches at the same moment
may leave each cache with the other's value until it expires, as two writers racing on one
cache could before.
"""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import orjson
import structlog

from waddlebot.infra.memory import MemoryBroadcast
from waddlebot.infra.ports import Broadcast, Cache, Subscription
from waddlebot.infra.tasks import stop_task

log = structlog.get_logger("waddlebot.changes")

Handler = Callable[[str], Awaitable[None]]
"""Called with the key of a change (what :meth:`ChangeFeed.publish` named)."""
CacheEntry = tuple[str, bytes | None]
"""A cache key and its new value; ``None`` deletes the key."""


def channel(kind: str) -> str:
    return f"changes.{kind}"


class ChangeFeed:
    """Change notices over a broadcast port; see the module docstring.

    ``cache_scope`` names the cache this process writes to: equal for processes sharing one
    cache (a deployment's Redis), different for each process with a cache of its own (the
    default: unique to this object)."""

    def __init__(self, broadcast: Broadcast, cache: Cache, *, cache_scope: str = "") -> None:
        self._broadcast = broadcast
        self._cache = cache
        self.cache_scope = cache_scope or f"process:{uuid.uuid4().hex}"
        self._handlers: dict[str, list[Handler]] = {}
        self._subscriptions: list[Subscription] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._started = False

    @classmethod
    def unshared(cls, cache: Cache) -> ChangeFeed:
        """For a service used on its own (tests, tools): writes go to ``cache`` and nobody
        hears of them."""
        return cls(MemoryBroadcast(), cache)

    def watch(self, kind: str, handler: Handler | None = None) -> None:
        """Hear changes of ``kind`` from :meth:`start` on: take the cache entries written
        elsewhere, and call ``handler`` (if given) with each change's key. Watching a new
        kind once started subscribes to it in the background."""
        new = kind not in self._handlers
        handlers = self._handlers.setdefault(kind, [])
        if handler is not None:
            handlers.append(handler)
        if new and self._started:
            self._tasks.append(asyncio.create_task(self._hear(kind), name=f"changes-{kind}"))

    async def start(self) -> None:
        """Subscribe to every kind watched so far; returns once they are subscribed."""
        self._started = True
        for kind in list(self._handlers):
            subscription = await self._broadcast.subscribe(channel(kind))
            self._tasks.append(
                asyncio.create_task(self._hear(kind, subscription), name=f"changes-{kind}")
            )

    async def stop(self) -> None:
        self._started = False
        for task in self._tasks:
            await stop_task(task)
        for subscription in self._subscriptions:
            await subscription.close()
        self._subscriptions, self._tasks = [], []

    async def write(self, kind: str, entries: Sequence[CacheEntry], ttl: float | None) -> None:
        """Write these entries to this process's cache, then to every other cache."""
        await _apply(self._cache, entries, ttl)
        await self._send(kind, "", entries, ttl)

    async def publish(self, kind: str, key: str = "") -> None:
        """Tell every process (this one too) that ``key`` of ``kind`` changed."""
        await self._send(kind, key, (), None)

    async def _send(
        self, kind: str, key: str, entries: Sequence[CacheEntry], ttl: float | None
    ) -> None:
        message: dict[str, Any] = {"scope": self.cache_scope, "key": key}
        if entries:
            message["ttl"] = ttl
            message["entries"] = [
                [k, None if v is None else base64.b64encode(v).decode()] for k, v in entries
            ]
        try:
            await self._broadcast.publish(channel(kind), orjson.dumps(message))
        except Exception:
            # the change is committed; the others' entries expire with their TTL as before
            log.warning("change not published", kind=kind, exc_info=True)

    async def _hear(self, kind: str, subscription: Subscription | None = None) -> None:
        if subscription is None:
            subscription = await self._broadcast.subscribe(channel(kind))
        self._subscriptions.append(subscription)
        async for data in subscription:
            try:
                message = orjson.loads(data)
                scope, key = str(message["scope"]), str(message["key"])
                entries: list[CacheEntry] = [
                    (str(k), None if v is None else base64.b64decode(v))
                    for k, v in message.get("entries") or ()
                ]
                ttl = message.get("ttl")
            except (ValueError, KeyError, TypeError):
                log.warning("malformed change ignored", kind=kind)
                continue
            try:
                if entries and scope != self.cache_scope:
                    await _apply(self._cache, entries, ttl)
                for handler in self._handlers.get(kind, ()):
                    await handler(key)
            except Exception:
                log.warning("change not taken", kind=kind, key=key, exc_info=True)


async def _apply(cache: Cache, entries: Sequence[CacheEntry], ttl: float | None) -> None:
    written = [(key, value) for key, value in entries if value is not None]
    deleted = [key for key, value in entries if value is None]
    if written:
        await cache.set_many(written, ttl)
    if deleted:
        await cache.delete(*deleted)
