"""What serverless functions cost, per community and day, and the daily invocation budget.

Counts live in the cache (:class:`~waddlebot.infra.daily.DailyCounts`, kept for
:data:`KEEP_DAYS`): every router adds to the same figures, and a restart loses nothing Redis
kept. ``/metrics`` has the same figures as counters."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date

from waddlebot.core.contract import ModuleRequest, ModuleResponse
from waddlebot.infra import metrics
from waddlebot.infra.daily import DailyCounts
from waddlebot.infra.ports import Cache
from waddlebot.router.breaker import ModuleRefused, community_label
from waddlebot.router.modules import ModuleClient, WrappedClient
from waddlebot.serverless import Invocation

KEEP_DAYS = 8
_FIGURES = ("invocations", "errors", "billed_ms", "refused")

BudgetOf = Callable[[int], Awaitable[int]]
"""A community's daily invocation budget (0: no limit)."""


class OverBudget(ModuleRefused):
    """The community spent today's serverless invocations: answered at once, nothing called."""

    reason = "budget"
    said = "cannot run: this community has used today's serverless function calls"

    def reply(self, shown: str) -> str:
        return f"{shown} {self.said}; they start again at midnight UTC."


@dataclass(frozen=True, slots=True)
class DayUsage:
    day: date
    invocations: int
    errors: int
    billed_ms: int
    refused: int  # calls the budget refused


class Accounting:
    def __init__(
        self, cache: Cache, budget_of: BudgetOf, *, today: Callable[[], date] | None = None
    ) -> None:
        self._counts = DailyCounts(cache, "functions", keep_days=KEEP_DAYS, today=today)
        self._budget_of = budget_of
        self._pending: list[Invocation] = []
        self._labelled: set[int] = set()

    async def admit(self, module: str, community_id: int) -> None:
        """Count a call against the community's budget; :class:`OverBudget` when spent."""
        budget = await self._budget_of(community_id)
        if budget <= 0:
            return
        if await self._counts.add(community_id, "admitted") > budget:
            await self._counts.add(community_id, "refused")
            metrics.FUNCTION_OVER_BUDGET.labels(module).inc()
            raise OverBudget(module)

    def meter(self, invocation: Invocation) -> None:
        """The invokers' :data:`~waddlebot.serverless.Meter`: counted now in ``/metrics``,
        written to the cache by :meth:`settle`."""
        community = community_label(self._labelled, invocation.community_id)
        outcome = "ok" if invocation.ok else "error"
        labels = (invocation.module, invocation.engine)
        metrics.FUNCTION_INVOCATIONS.labels(*labels, outcome, community).inc()
        metrics.FUNCTION_BILLED_SECONDS.labels(*labels, community).inc(invocation.billed_ms / 1000)
        self._pending.append(invocation)

    async def settle(self) -> None:
        """Add what was metered since the last call to the community's figures for today."""
        pending, self._pending = self._pending, []
        for invocation in pending:
            community = invocation.community_id
            await self._counts.add(community, "invocations")
            if not invocation.ok:
                await self._counts.add(community, "errors")
            billed = round(invocation.billed_ms)
            if billed:
                await self._counts.add(community, "billed_ms", billed)

    async def usage(self, community_id: int, days: int = 7) -> list[DayUsage]:
        """The community's figures for the last ``days`` days, today first."""
        found = await self._counts.days(community_id, _FIGURES, days)
        return [DayUsage(day.day, *(day[figure] for figure in _FIGURES)) for day in found]


class AccountedClient(WrappedClient):
    """A serverless function's client (behind its guard) that asks the budget before each
    call and books what the call cost after it."""

    def __init__(self, client: ModuleClient, accounting: Accounting) -> None:
        super().__init__(client)
        self._accounting = accounting

    async def call(self, request: ModuleRequest) -> ModuleResponse:
        await self._accounting.admit(self.name, request.community_id)
        try:
            return await self._client.call(request)
        finally:
            await self._accounting.settle()
