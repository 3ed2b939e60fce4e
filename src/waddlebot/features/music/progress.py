"""How far the song playing is, as its player last said (the media page's reports every few
seconds, or a pause): kept in the cache so every router's ``!song`` says "2:10 of 3:45"."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import orjson

from waddlebot.infra.ports import Cache

KEPT_SECONDS = 6 * 3600  # longer than any song the queue takes with its default limits


def _key(community_id: int) -> str:
    return f"music:progress:{community_id}"


@dataclass(frozen=True, slots=True)
class Position:
    song: int
    position: float  # seconds in, at ``at``
    duration: float  # 0: not known
    paused: bool
    at: float  # epoch seconds

    def now(self, clock: float) -> float:
        """Seconds in at ``clock``: moving on from the report unless paused."""
        moved = self.position + (0.0 if self.paused else max(0.0, clock - self.at))
        return min(moved, self.duration) if self.duration else moved


class Progress:
    def __init__(self, cache: Cache, clock: Callable[[], float] = time.time) -> None:
        self._cache = cache
        self.clock = clock

    async def keep(
        self, community_id: int, song: int, position: float, duration: float, *, paused: bool
    ) -> Position:
        kept = Position(song, position, duration, paused, self.clock())
        body = {"song": song, "position": position, "duration": duration, "paused": paused}
        await self._cache.set(
            _key(community_id), orjson.dumps({**body, "at": kept.at}), KEPT_SECONDS
        )
        return kept

    async def of(self, community_id: int, song: int) -> Position | None:
        """The last word on ``song``; None when its player has said nothing of it."""
        raw = await self._cache.get(_key(community_id))
        if raw is None:
            return None
        kept = orjson.loads(raw)
        if kept.get("song") != song:
            return None
        return Position(
            song,
            float(kept["position"]),
            float(kept["duration"]),
            bool(kept["paused"]),
            float(kept["at"]),
        )

    async def forget(self, community_id: int) -> None:
        await self._cache.delete(_key(community_id))
