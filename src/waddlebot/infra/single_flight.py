"""One lookup per key at a time: callers asking for a key while its lookup is under way wait
for that one instead of starting their own (a burst of messages from someone new costs the
platform one request, not one each; a burst of deliveries one backlog read).

Written here because the asyncio caching libraries that share a call in flight (async-lru's
``alru_cache``, aiocache) also keep its result, and every caller here keeps results its own
way (for how long, and what to drop when) or must not keep them at all.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SingleFlight(Generic[K, V]):
    def __init__(self) -> None:
        self._running: dict[K, asyncio.Future[V]] = {}

    async def run(self, key: K, lookup: Callable[[], Awaitable[V]]) -> V:
        """``lookup()``'s result, or that of the lookup of ``key`` already under way. Its
        error reaches every caller waiting for it. A caller cancelled meanwhile (its request
        went away) leaves the lookup running for the others."""
        running = self._running.get(key)
        if running is None:
            running = asyncio.ensure_future(lookup())
            self._running[key] = running
            running.add_done_callback(lambda done: self._finished(key, done))
        return await asyncio.shield(running)

    def forget(self, key: K | None = None) -> None:
        """Callers from now on start a lookup of their own: the one of ``key`` (of every key
        when none) under way began before a change and may answer as things were."""
        if key is None:
            self._running.clear()
        else:
            self._running.pop(key, None)

    def _finished(self, key: K, done: asyncio.Future[V]) -> None:
        if self._running.get(key) is done:
            del self._running[key]
        if not done.cancelled():
            done.exception()  # retrieved, even when every caller had gone meanwhile
