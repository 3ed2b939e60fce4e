"""Figures counted per community and day (UTC) in the cache port: one counter key per
community, day and figure, kept ``keep_days`` days. Every process adds to the same keys
(Redis when distributed), so a figure is the whole deployment's and survives a restart of
any one process. What serverless functions cost (``functions:...``) and the AI's tokens
(``ai_tokens:...``) are both counted this way."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from waddlebot.infra.ports import Cache

Today = Callable[[], date]


def utc_today() -> date:
    return datetime.now(UTC).date()


@dataclass(frozen=True, slots=True)
class Day:
    """One day's figures; a figure never counted reads 0."""

    day: date
    figures: dict[str, int]

    def __getitem__(self, figure: str) -> int:
        return self.figures.get(figure, 0)


class DailyCounts:
    """Counters under ``{kind}:{community}:{day}:{figure}``."""

    def __init__(
        self, cache: Cache, kind: str, *, keep_days: int, today: Today | None = None
    ) -> None:
        self._cache = cache
        self._kind = kind
        self.keep_days = keep_days
        self._ttl = keep_days * 86_400
        self.today = today or utc_today

    def _key(self, community_id: int, day: date, figure: str) -> str:
        return f"{self._kind}:{community_id}:{day.isoformat()}:{figure}"

    async def add(self, community_id: int, figure: str, amount: int = 1) -> int:
        """Add to today's figure; its new value (atomic across processes)."""
        key = self._key(community_id, self.today(), figure)
        return await self._cache.incr(key, amount, self._ttl)

    async def today_of(self, community_id: int, figure: str) -> int:
        raw = await self._cache.get(self._key(community_id, self.today(), figure))
        return int(raw) if raw is not None else 0

    async def days(self, community_id: int, figures: Sequence[str], days: int) -> list[Day]:
        """The last ``days`` days (at most ``keep_days``) of these figures, today first, in
        one round trip."""
        today = self.today()
        wanted = [today - timedelta(days=back) for back in range(min(days, self.keep_days))]
        keys = [self._key(community_id, day, figure) for day in wanted for figure in figures]
        values = [int(v) if v is not None else 0 for v in await self._cache.get_many(keys)]
        width = len(figures)
        return [
            Day(day, dict(zip(figures, values[i * width : (i + 1) * width], strict=True)))
            for i, day in enumerate(wanted)
        ]
