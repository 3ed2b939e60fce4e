"""How often ``!ai`` may be asked: per person and per community, each a number of questions
a minute (``per_person_per_minute``, ``per_community_per_minute``; 0: no limit). Counted by
the rate-limiter port (a moving window, atomic on Redis), so the limits hold across every
router. Moderators and up are not held to the per-person limit (they are to the community's).

A refused question is told so once per window: the first refusal gets a short line, the ones
after it until the person (or the community) may ask again get nothing, so a burst of
questions cannot turn into a burst of refusals."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from waddlebot.infra.ports import Cache, Check, Limit, RateLimiter

WINDOW_SECONDS = 60
SETTINGS: dict[str, Any] = {
    "per_person_per_minute": {
        "type": "integer",
        "minimum": 0,
        "maximum": 1000,
        "default": 3,
        "description": "questions one person may ask a minute (0: no limit; moderators: none)",
    },
    "per_community_per_minute": {
        "type": "integer",
        "minimum": 0,
        "maximum": 10_000,
        "default": 20,
        "description": "questions the whole community may ask a minute (0: no limit)",
    },
}
PERSON_LINE = "{asker}, that's {amount} questions a minute each; ask again in a moment."
COMMUNITY_LINE = "I'm answering {amount} questions a minute here at most; ask again in a moment."


class AskLimits:
    def __init__(self, ratelimiter: RateLimiter, cache: Cache) -> None:
        self._ratelimiter = ratelimiter
        self._cache = cache

    async def refusal(
        self,
        community_id: int,
        config: Mapping[str, Any],
        *,
        person: str,
        asker: str,
        moderator: bool,
    ) -> str | None:
        """None when the question may be asked (and counts it); else the line to say, ''
        when it was said already in this window."""
        checks: list[tuple[Check, str]] = []
        per_person = int(config["per_person_per_minute"])
        if per_person > 0 and not moderator:
            limit = Limit(per_person, WINDOW_SECONDS)
            line = PERSON_LINE.format(asker=asker, amount=per_person)
            checks.append(((limit, ("ai", str(community_id), person)), line))
        per_community = int(config["per_community_per_minute"])
        if per_community > 0:
            limit = Limit(per_community, WINDOW_SECONDS)
            line = COMMUNITY_LINE.format(amount=per_community)
            checks.append(((limit, ("ai", str(community_id))), line))
        if not checks:
            return None
        (refused,) = await self._ratelimiter.hit_many([[check for check, _ in checks]])
        if refused is None:
            return None
        (limit, key), line = checks[refused]
        return line if await self._first_in_window(limit, key) else ""

    async def _first_in_window(self, limit: Limit, key: tuple[str, ...]) -> bool:
        """True for the first refusal under ``key`` until its limit lets a question through."""
        wait = await self._ratelimiter.reset_in(limit, *key)
        notice = "ai:limited:" + ":".join(key)
        return await self._cache.add(notice, b"1", max(1.0, wait))
