"""Rate limits for commands: per place, per user, and each command's cooldowns.

A refused user hears about it at most once per window ("slow down"), so a spammer cannot make
the bot spam the channel on their behalf.
"""

from __future__ import annotations

import math

from waddlebot.core.contract import Caller
from waddlebot.core.manifest import CommandSpec
from waddlebot.core.permissions import Level
from waddlebot.core.settings import CoreSettings
from waddlebot.infra import keys, metrics
from waddlebot.infra.ports import Cache, Limit, RateLimiter

WINDOW_SECONDS = 30


class RateLimitPolicy:
    def __init__(self, limiter: RateLimiter, cache: Cache, settings: CoreSettings) -> None:
        self._limiter = limiter
        self._cache = cache
        self._entity = Limit(settings.rate_entity_per_30s, WINDOW_SECONDS)
        self._user = Limit(settings.rate_user_per_30s, WINDOW_SECONDS)
        self._cooldowns: dict[float, Limit] = {}

    def _cooldown(self, seconds: float) -> Limit:
        limit = self._cooldowns.get(seconds)
        if limit is None:
            limit = self._cooldowns[seconds] = Limit(1, max(1, math.ceil(seconds)))
        return limit

    async def check(
        self,
        entity_id: str,
        caller: Caller,
        spec: CommandSpec,
        shown: str,
        *,
        cooldowns_only: bool = False,
    ) -> str | None:
        """``None`` when the command may run. Otherwise the notice to send, or ``""`` when
        the caller was already told in this window. ``cooldowns_only`` for a command an alias
        runs: the alias was counted against the place and user limits already, but the
        command's own cooldowns still apply (an alias is no way around them)."""
        user = caller.identity.user_id
        checks: list[tuple[Limit, tuple[str, ...], str]] = []
        if not cooldowns_only:
            checks.append(
                (self._entity, ("entity", entity_id), "the bot is answering a lot here right now")
            )
        # moderators and up are trusted with the per-user limits and cooldowns
        if caller.level < Level.MODERATOR:
            if not cooldowns_only:
                checks.append(
                    (self._user, ("user", entity_id, user), "you are sending commands fast")
                )
            if spec.cooldown:
                checks.append(
                    (
                        self._cooldown(spec.cooldown),
                        ("cd", entity_id, spec.name, user),
                        f"{shown} is on cooldown for you",
                    )
                )
            if spec.global_cooldown:
                checks.append(
                    (
                        self._cooldown(spec.global_cooldown),
                        ("gcd", entity_id, spec.name),
                        f"{shown} is on cooldown",
                    )
                )
        for limit, key, why in checks:
            if await self._limiter.hit(limit, *key):
                continue
            metrics.RATE_LIMITED.labels(key[0]).inc()
            wait = max(1, math.ceil(await self._limiter.reset_in(limit, *key)))
            notice_to = user if key[0] != "entity" else ""
            if not await self._cache.add(
                keys.notice_key(entity_id, notice_to, "limit"), b"1", wait
            ):
                return ""
            return f"@{caller.name}, slow down: {why}. Try again in {wait}s."
        return None
