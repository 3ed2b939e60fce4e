"""Each community's daily serverless invocation budget: ``settings["function_daily_budget"]``
of the community, else the operator's ``WADDLEBOT_FUNCTION_DAILY_BUDGET`` (0: no limit).

The router asks before every ``#`` call, so each process keeps what it read until the budget
is changed (every process hears of it on the change feed)."""

from __future__ import annotations

from waddlebot.core.errors import NotFound, UserError
from waddlebot.infra.audit import audit_row, write_rows
from waddlebot.infra.changes import ChangeFeed
from waddlebot.infra.db.engine import Database
from waddlebot.infra.db.models import Community

SETTINGS_KEY = "function_daily_budget"
BUDGET_CHANGES = "function_budget"
MAX_BUDGET = 10_000_000


class Budgets:
    def __init__(self, db: Database, feed: ChangeFeed, *, default: int) -> None:
        self._db = db
        self._default = default
        self._known: dict[int, int] = {}
        feed.watch(BUDGET_CHANGES, self._forget)
        self._feed = feed

    async def own(self, community_id: int) -> int | None:
        """The community's own budget, None when it follows the operator's default."""
        async with self._db.read_session() as session:
            row = await session.get(Community, community_id)
        if row is None:
            raise NotFound(f"there is no community {community_id}")
        value = (row.settings or {}).get(SETTINGS_KEY)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    async def of(self, community_id: int) -> int:
        """What the community may spend a day (0: no limit)."""
        known = self._known.get(community_id)
        if known is None:
            own = await self.own(community_id)
            known = self._known[community_id] = self._default if own is None else own
        return known

    async def set(self, community_id: int, daily: int | None, *, actor: str) -> int:
        """Set the community's budget (0: no limit; None: the operator's default)."""
        if daily is not None and not 0 <= daily <= MAX_BUDGET:
            raise UserError(f"a daily budget is 0 (no limit) to {MAX_BUDGET:,} calls")
        async with self._db.session() as session:
            row = await session.get(Community, community_id)
            if row is None:
                raise NotFound(f"there is no community {community_id}")
            settings = {k: v for k, v in (row.settings or {}).items() if k != SETTINGS_KEY}
            if daily is not None:
                settings[SETTINGS_KEY] = daily
            row.settings = settings  # a new dict: the JSON column is replaced
            await write_rows(
                session,
                [
                    audit_row(
                        "marketplace.function_budget",
                        decision="allow",
                        actor=actor,
                        community_id=community_id,
                        detail={"daily": daily},
                    )
                ],
            )
        await self._feed.publish(BUDGET_CHANGES, str(community_id))
        return self._default if daily is None else daily

    async def _forget(self, key: str) -> None:
        if key.isdigit():
            self._known.pop(int(key), None)
        else:
            self._known.clear()
