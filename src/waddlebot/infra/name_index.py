"""A per-community index of names (aliases, custom commands) kept in the cache, so the
router and modules can tell a known name from chat without a database read.

The index of a community is one cache entry, refilled from the database on a miss (only if
still missing) and rewritten (never just deleted) after every change: a refill from a replica
that lags, or one racing a change, could otherwise bring back the old one. The rewrite goes to
every process's cache through :class:`~waddlebot.infra.changes.ChangeFeed` (a process with a cache
of its own beside a deployment would otherwise keep the old index until it expires).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from typing import Any

import orjson

from waddlebot.infra.changes import ChangeFeed
from waddlebot.infra.ports import Cache

Loader = Callable[[int], Awaitable[dict[str, Any]]]
INDEX_TTL = 300.0


class CommunityIndex:
    def __init__(
        self,
        cache: Cache,
        kind: str,
        load: Loader,
        ttl: float = INDEX_TTL,
        *,
        feed: ChangeFeed | None = None,
    ) -> None:
        self._cache = cache
        self._kind = kind
        self._load = load
        self._ttl = ttl
        self._feed = feed or ChangeFeed.unshared(cache)
        self._feed.watch(kind)

    def _key(self, community_id: int) -> str:
        return f"{self._kind}:{community_id}"

    async def get(self, community_ids: Collection[int]) -> dict[int, dict[str, Any]]:
        """The index of each community: name -> a JSON value the owner chose."""
        ids = list(community_ids)
        cached = await self._cache.get_many([self._key(c) for c in ids])
        found: dict[int, dict[str, Any]] = {}
        for community_id, raw in zip(ids, cached, strict=True):
            if raw is None:
                entries = await self._load(community_id)
                # added, not set: a writer that changed the names meanwhile wrote the newer
                # index, which this (possibly older) read must not replace
                await self._cache.add(self._key(community_id), orjson.dumps(entries), self._ttl)
                found[community_id] = entries
            else:
                found[community_id] = orjson.loads(raw)
        return found

    async def refresh(self, community_id: int) -> dict[str, Any]:
        """Read a community's index from the database and write it to every cache."""
        entries = await self._load(community_id)
        index = [(self._key(community_id), orjson.dumps(entries))]
        await self._feed.write(self._kind, index, self._ttl)
        return entries
