"""The shape of a scheduled job that posts each due thing exactly once, however many processes
run it (timers, reminders, event reminders):

1. read what is due (``_due_query``, each row made a due item by ``_due_item``), a batch at
   a time, soonest first;
2. claim each one with a conditional ``UPDATE ... WHERE <still as read> RETURNING``
   (:func:`claim_row`, in ``_claim``): when two processes read the same row, only one update
   matches, and only that process posts it;
3. post the messages for what it claimed on the platforms' reply streams (the outbox), but
   not for communities that switched the job's module off (its :class:`CommunitySwitch`, the
   marketplace's ``!module disable``): their runs are spent without a word, the way a timer
   skips a round while the stream is offline;
4. settle what needs it afterwards (``_settle``; nothing by default).

Each job keeps its own query, claim and message; this class runs the batches.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import structlog
from sqlalchemy import Row, Select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import ReturningUpdate

from waddlebot.core.clock import Clock
from waddlebot.core.contract import OutboundMessage
from waddlebot.infra import outbox
from waddlebot.infra.db.engine import Database
from waddlebot.infra.ports import Bus

log = structlog.get_logger(__name__)

DueQuery = Select[*tuple[Any, ...]]
DueRow = Row[*tuple[Any, ...]]
DueT = TypeVar("DueT")
ClaimedT = TypeVar("ClaimedT")


class CommunitySwitch(Protocol):
    """Where a job's module is switched off."""

    async def switched_off(self, communities: Collection[int]) -> Collection[int]:
        """Those of ``communities`` that have the module off."""


class _AlwaysOn:
    async def switched_off(self, communities: Collection[int]) -> Collection[int]:
        return ()


ALWAYS_ON: CommunitySwitch = _AlwaysOn()  # without a marketplace, every module is on


class ClaimOnceJob(ABC, Generic[DueT, ClaimedT]):
    """A job the scheduler runs as :meth:`fire_due`; subclasses set ``db``, ``bus`` and
    ``clock``, and ``switch`` when a community may switch their module off."""

    BATCH: ClassVar[int] = 200  # due rows claimed per transaction
    MAX_BATCHES: ClassVar[int] = 25  # per fire_due call; the rest wait for the next tick

    db: Database
    bus: Bus
    clock: Clock
    switch: CommunitySwitch = ALWAYS_ON

    async def fire_due(self, now: datetime | None = None) -> int:
        """Post everything that is due; returns how many messages this call posted."""
        now = now or self.clock.now()
        posted = 0
        for _ in range(self.MAX_BATCHES):
            due = await self._due(now)
            if due:
                claimed = await self._claim(due, now)
                muted = await self._muted(claimed)
                posting = [c for c in claimed if self._community(c) not in muted]
                posted += await outbox.post(self.bus, await self._messages(posting, now))
                await self._settle(claimed, now, muted=muted)
            if len(due) < self.BATCH:
                break
        return posted

    async def _muted(self, claimed: Sequence[ClaimedT]) -> frozenset[int]:
        """The communities of ``claimed`` that have switched the job's module off."""
        if not claimed:
            return frozenset()
        muted = frozenset(await self.switch.switched_off({self._community(c) for c in claimed}))
        if muted:
            log.debug("runs not posted: module switched off", communities=sorted(muted))
        return muted

    async def _due(self, now: datetime) -> list[DueT]:
        """At most ``BATCH`` due items, soonest first."""
        async with self.db.session() as session:
            rows = (await session.execute(self._due_query(now).limit(self.BATCH))).all()
        return [self._due_item(row) for row in rows]

    @abstractmethod
    def _due_query(self, now: datetime) -> DueQuery:
        """What is due at ``now``, soonest first."""

    @abstractmethod
    def _due_item(self, row: DueRow) -> DueT:
        """One row of :meth:`_due_query` as the job's due item."""

    @abstractmethod
    async def _claim(self, due: Sequence[DueT], now: datetime) -> Sequence[ClaimedT]:
        """What of ``due`` this process won (with :func:`claim_row`), and posts."""

    @abstractmethod
    def _community(self, claimed: ClaimedT) -> int:
        """The community a claimed run posts for."""

    @abstractmethod
    async def _messages(self, claimed: Sequence[ClaimedT], now: datetime) -> list[OutboundMessage]:
        """The messages for what was claimed."""

    async def _settle(
        self, claimed: Sequence[ClaimedT], now: datetime, *, muted: Collection[int]
    ) -> None:
        """After posting: what is left to do with the claimed rows (those of the ``muted``
        communities were not posted)."""


async def claim_row(session: AsyncSession, update: ReturningUpdate[Any]) -> Any | None:
    """Run one conditional ``UPDATE ... RETURNING <column>``: the value it returns, or None
    when the row no longer matched (another process claimed it first, or it changed)."""
    return await session.scalar(update.execution_options(synchronize_session=False))
