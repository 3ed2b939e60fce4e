"""Rate limits for commands: per place, per user, and each command's cooldowns.

A refused user hears about it at most once per window ("slow down"), so a spammer cannot make
the bot spam the channel on their behalf.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from waddlebot.core.contract import Caller
from waddlebot.core.manifest import CommandSpec
from waddlebot.core.permissions import Level
from waddlebot.core.settings import CoreSettings
from waddlebot.infra import keys, metrics
from waddlebot.infra.ports import Cache, Check, Limit, RateLimiter

WINDOW_SECONDS = 30


@dataclass(frozen=True, slots=True)
class CommandUse:
    """One use of a command to count against the limits."""

    entity_id: str
    caller: Caller
    spec: CommandSpec
    shown: str  # the command as typed, for the notice
    # a command an alias runs: the alias was counted against the place and user limits
    # already, but the command's own cooldowns still apply (an alias is no way around them)
    cooldowns_only: bool = False


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

    async def check(self, use: CommandUse) -> str | None:
        """``None`` when the command may run. Otherwise the notice to send, or ``""`` when
        the caller was already told in this window."""
        return (await self.check_many([use]))[0]

    async def check_many(self, uses: Sequence[CommandUse]) -> list[str | None]:
        """:meth:`check` for several uses, counted in one round trip to the limiter."""
        checks = [self._checks(use) for use in uses]
        refused = await self._limiter.hit_many([[check for check, _ in c] for c in checks])
        answers: list[str | None] = []
        for use, use_checks, index in zip(uses, checks, refused, strict=True):
            answers.append(None if index is None else await self._refuse(use, *use_checks[index]))
        return answers

    def _checks(self, use: CommandUse) -> list[tuple[Check, str]]:
        """The limits a use counts against, in order, each with what it protects."""
        entity_id, spec, shown = use.entity_id, use.spec, use.shown
        user = use.caller.identity.user_id
        checks: list[tuple[Check, str]] = []
        if not use.cooldowns_only:
            checks.append(
                ((self._entity, ("entity", entity_id)), "the bot is answering a lot here right now")
            )
        # moderators and up are trusted with the per-user limits and cooldowns
        if use.caller.level < Level.MODERATOR:
            if not use.cooldowns_only:
                checks.append(
                    ((self._user, ("user", entity_id, user)), "you are sending commands fast")
                )
            if spec.cooldown:
                checks.append(
                    (
                        (self._cooldown(spec.cooldown), ("cd", entity_id, spec.name, user)),
                        f"{shown} is on cooldown for you",
                    )
                )
            if spec.global_cooldown:
                checks.append(
                    (
                        (self._cooldown(spec.global_cooldown), ("gcd", entity_id, spec.name)),
                        f"{shown} is on cooldown",
                    )
                )
        return checks

    async def _refuse(self, use: CommandUse, check: Check, why: str) -> str:
        limit, key = check
        metrics.RATE_LIMITED.labels(key[0]).inc()
        wait = max(1, math.ceil(await self._limiter.reset_in(limit, *key)))
        notice_to = use.caller.identity.user_id if key[0] != "entity" else ""
        told = keys.notice_key(use.entity_id, notice_to, "limit")
        if not await self._cache.add(told, b"1", wait):
            return ""
        return f"@{use.caller.name}, slow down: {why}. Try again in {wait}s."
