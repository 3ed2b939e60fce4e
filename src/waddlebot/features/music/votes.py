"""Skip votes and request cooldowns, in the cache port (shared by the routers; losing them
in a restart costs a viewer one more vote or one shorter wait)."""

from __future__ import annotations

import math

from waddlebot.core.clock import Clock
from waddlebot.features.music.queue import Requester
from waddlebot.infra.ports import Cache

VOTES_TTL = 86_400.0  # a song plays far shorter; the votes outlive it only to be collected


def _person(requester: Requester) -> str:
    """One key per person: their WaddleBot user when known (a vote or a cooldown holds across
    their linked accounts), else their account on its platform."""
    if requester.user_id is not None:
        return f"user:{requester.user_id}"
    return f"{requester.platform}:{requester.account}"


class SkipVotes:
    def __init__(self, cache: Cache) -> None:
        self._cache = cache

    async def vote(self, community_id: int, song_id: int, voter: Requester) -> int | None:
        """Count ``voter``'s vote to skip ``song_id``: the votes now, None when they had
        voted already."""
        key = f"music:skip:{community_id}:{song_id}"
        if not await self._cache.add(f"{key}:{_person(voter)}", b"1", VOTES_TTL):
            return None
        return await self._cache.incr(key, 1, VOTES_TTL)


class Cooldowns:
    def __init__(self, cache: Cache, clock: Clock) -> None:
        self._cache = cache
        self.clock = clock

    async def wait_left(self, community_id: int, requester: Requester, seconds: int) -> int:
        """0 and the cooldown starts, or the seconds they must still wait."""
        if seconds <= 0:
            return 0
        key = f"music:cooldown:{community_id}:{_person(requester)}"
        until = self.clock.now().timestamp() + seconds
        if await self._cache.add(key, str(until).encode(), seconds):
            return 0
        held = await self._cache.get(key)
        left = float(held) - self.clock.now().timestamp() if held is not None else 0.0
        return max(1, math.ceil(left))

    async def forget(self, community_id: int, requester: Requester) -> None:
        """A request that was refused does not start the cooldown."""
        await self._cache.delete(f"music:cooldown:{community_id}:{_person(requester)}")
