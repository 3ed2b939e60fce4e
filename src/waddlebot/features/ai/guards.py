"""What stands around asking the model, for cost and safety: the rate limits and the daily
token budget before it (:meth:`Guards.before`), the tokens booked as each model server
answers (:meth:`Guards.spent`), and the moderation check before the answer is posted
(:meth:`Guards.vet`). ``waddlebot_ai_answers_total`` counts how each question ended."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import structlog

from waddlebot.features.ai import budget, limits, moderation
from waddlebot.features.ai.budget import TokenBudget
from waddlebot.features.ai.limits import AskLimits
from waddlebot.features.ai.moderation import ModerationFailed, OpenAIModeration
from waddlebot.features.ai.providers import Completion
from waddlebot.infra import metrics

log = structlog.get_logger("waddlebot.ai")

Outcome = Literal["answered", "no_answer", "over_budget", "rate_limited", "moderated"]
SETTINGS: dict[str, Any] = {**limits.SETTINGS, **budget.SETTINGS, **moderation.SETTINGS}
"""The ``ai`` module's settings for cost and safety (part of its config_schema)."""


def count(outcome: Outcome) -> None:
    metrics.AI_ANSWERS.labels(outcome).inc()


class Guards:
    def __init__(
        self, limits: AskLimits, budget: TokenBudget, moderation: OpenAIModeration
    ) -> None:
        self._limits = limits
        self._budget = budget
        self._moderation = moderation

    async def before(
        self,
        community_id: int,
        config: Mapping[str, Any],
        *,
        person: str,
        asker: str,
        moderator: bool,
    ) -> str | None:
        """None when the model may be asked; else what to say instead ('' for nothing)."""
        line = await self._limits.refusal(
            community_id, config, person=person, asker=asker, moderator=moderator
        )
        if line is not None:
            count("rate_limited")
            return line
        line = await self._budget.refusal(community_id, config)
        if line is not None:
            count("over_budget")
            return line
        return None

    async def may_spend(self, community_id: int, config: Mapping[str, Any]) -> bool:
        """Whether the community's budget has tokens left (for what the bot says unasked)."""
        return await self._budget.refusal(community_id, config) is None

    async def spent(self, community_id: int, provider: str, completion: Completion) -> None:
        await self._budget.book(community_id, provider, completion)

    async def vet(self, community_id: int, config: Mapping[str, Any], said: str) -> str | None:
        """None when ``said`` may be posted; else the line posted instead."""
        if not config.get("moderate"):
            return None
        try:
            verdict = await self._moderation.check(said)
        except ModerationFailed as failed:
            log.warning("ai answer not checked", community_id=community_id, reason=str(failed))
            count("moderated")
            return moderation.UNCHECKED_LINE
        if verdict.flagged:
            log.warning(
                "ai answer flagged", community_id=community_id, categories=list(verdict.categories)
            )
            count("moderated")
            return moderation.FLAGGED_LINE
        return None
