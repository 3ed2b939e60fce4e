"""Each community's daily token budget for ``!ai``, and the tokens it spent.

The budget is the community's ``daily_tokens`` setting (``!module config ai daily_tokens N``)
under the operator's ``WADDLEBOT_AI_DAILY_TOKENS``, which is a ceiling: a community may set
less than the operator allows, never more. 0 on either side is "no limit of mine": a
community at 0 has the operator's budget, and an operator at 0 lets each community choose.

Spending is checked before the model is asked and booked after, from the tokens the model
servers counted (every attempt that said, an empty answer too), so the question that
crosses the budget is still answered; the next one is refused until midnight UTC. Figures are
kept per day in the cache (:class:`~waddlebot.infra.daily.DailyCounts`): one budget for every
router."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from waddlebot.core.services import Key
from waddlebot.features.ai.providers import Completion
from waddlebot.infra import metrics
from waddlebot.infra.daily import DailyCounts, Today
from waddlebot.infra.ports import Cache

KEEP_DAYS = 31  # a month back (the portal's AI page shows 30 days)
MAX_DAILY_TOKENS = 1_000_000_000
SETTINGS: dict[str, Any] = {
    "daily_tokens": {
        "type": "integer",
        "minimum": 0,
        "maximum": MAX_DAILY_TOKENS,
        "default": 0,
        "description": "tokens a day (0: the operator's budget, which is also the most)",
    },
}
RESTING = (
    "The AI is resting: this community has used today's {budget:,} tokens. "
    "It is back at midnight UTC."
)


@dataclass(frozen=True, slots=True)
class ProviderTokens:
    prompt: int
    completion: int


@dataclass(frozen=True, slots=True)
class TokenDay:
    day: date
    tokens: int
    refused: int  # questions refused over budget
    providers: dict[str, ProviderTokens]


@dataclass(frozen=True, slots=True)
class TokenReport:
    daily_tokens: int  # the budget that applies (0: no limit)
    operator_daily: int  # the operator's ceiling (0: none)
    own_budget: bool  # false: the operator's budget applies
    days: list[TokenDay]  # today first

    @property
    def today(self) -> TokenDay:
        return self.days[0]


class TokenBudget:
    """``operator_daily``: the operator's ceiling (0: none); ``providers``: the names usage is
    read for."""

    def __init__(
        self,
        cache: Cache,
        *,
        operator_daily: int,
        providers: Sequence[str],
        today: Today | None = None,
    ) -> None:
        self._counts = DailyCounts(cache, "ai_tokens", keep_days=KEEP_DAYS, today=today)
        self.operator_daily = operator_daily
        self._providers = tuple(providers)

    @staticmethod
    def own(config: Mapping[str, Any]) -> int:
        """The budget the community set itself (0: none, the operator's applies)."""
        own = config.get("daily_tokens", 0)
        return own if isinstance(own, int) and not isinstance(own, bool) and own > 0 else 0

    def of(self, config: Mapping[str, Any]) -> int:
        """The community's tokens a day (0: no limit), from its ``ai`` settings."""
        own = self.own(config)
        if not own:
            return self.operator_daily
        return min(own, self.operator_daily) if self.operator_daily else own

    async def refusal(self, community_id: int, config: Mapping[str, Any]) -> str | None:
        """The line to say when today's budget is spent (counted as refused); None to ask."""
        budget = self.of(config)
        if budget <= 0 or await self._counts.today_of(community_id, "tokens") < budget:
            return None
        await self._counts.add(community_id, "refused")
        return RESTING.format(budget=budget)

    async def book(self, community_id: int, provider: str, completion: Completion) -> None:
        """Add what one model server's answer cost to the community's day."""
        if completion.tokens <= 0:
            return
        for kind, tokens in (
            ("prompt", completion.prompt_tokens),
            ("completion", completion.completion_tokens),
        ):
            if tokens > 0:
                metrics.AI_TOKENS.labels(provider, kind).inc(tokens)
                await self._counts.add(community_id, f"{kind}:{provider}", tokens)
        await self._counts.add(community_id, "tokens", completion.tokens)

    async def usage(self, community_id: int, days: int = 1) -> list[TokenDay]:
        """The community's last ``days`` days (at most :data:`KEEP_DAYS`), today first."""
        by_provider = [
            f"{kind}:{name}" for name in self._providers for kind in ("prompt", "completion")
        ]
        found = await self._counts.days(community_id, ("tokens", "refused", *by_provider), days)
        return [
            TokenDay(
                day.day,
                tokens=day["tokens"],
                refused=day["refused"],
                providers={
                    name: ProviderTokens(day[f"prompt:{name}"], day[f"completion:{name}"])
                    for name in self._providers
                },
            )
            for day in found
        ]

    async def report(
        self, community_id: int, config: Mapping[str, Any], days: int = 1
    ) -> TokenReport:
        """The community's budget (from its ``ai`` settings) and its last ``days`` days: what
        the usage endpoint answers and the portal's AI page shows."""
        return TokenReport(
            daily_tokens=self.of(config),
            operator_daily=self.operator_daily,
            own_budget=self.own(config) > 0,
            days=await self.usage(community_id, days),
        )


TOKEN_BUDGET: Key[TokenBudget] = Key("ai token budget")
