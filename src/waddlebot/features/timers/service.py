"""Timers: a message a community posts in one place every so many minutes, while that place
is live, and optionally only after some chat since the last one.

Definitions (add, get, list, remove, enable, disable) belong to a community and are audited;
each timer posts in the place (entity) where it was made. Posting is :meth:`fire_due`, a job
of the scheduler (infra/scheduler.py), which runs it in one process at a time:

A claim-once job (infra/jobs.py):

- due timers are the enabled ones with ``next_run_at <= now`` whose place still belongs to
  their community;
- each run is claimed with ``UPDATE timers SET next_run_at = <next>, ... WHERE id = :id AND
  next_run_at = :seen``: if two processes run the job at once (a lease changing hands), only
  one update matches a given run, so only one process posts it;
- a run posts when the place is live (platforms in :data:`LIVE_PLATFORMS` say so with
  ``stream_online`` / ``stream_offline`` events; elsewhere a place always counts as live) and
  at least ``min_lines`` chat lines were seen there since the last post (the router counts
  them in the cache under ``keys.lines_key``); otherwise the round is skipped;
- either way ``next_run_at`` moves on by whole intervals to the first one after now, so runs
  missed while no scheduler ran are not made up in a burst;
- the message goes on the platform's reply stream after the claim is committed: a process
  dying in between loses that one message (at most once, never twice).
"""

from __future__ import annotations

import builtins
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import delete, func, select, true, update
from sqlalchemy.dialects import postgresql, sqlite

from waddlebot.core.clock import Clock, SystemClock
from waddlebot.core.contract import OutboundMessage
from waddlebot.core.errors import Missing, Taken, WaddleError
from waddlebot.core.variables import StandardVariables, VariableContext, render
from waddlebot.features.commands.service import NAME_PATTERN
from waddlebot.features.community.models import StreamState
from waddlebot.features.timers.models import Timer
from waddlebot.infra import keys, outbox
from waddlebot.infra.audit import AuditLog
from waddlebot.infra.db.engine import Database
from waddlebot.infra.db.models import Entity
from waddlebot.infra.db.records import record_of
from waddlebot.infra.directory import lock_community
from waddlebot.infra.jobs import (
    ALWAYS_ON,
    ClaimOnceJob,
    CommunitySwitch,
    DueQuery,
    DueRow,
    claim_row,
)
from waddlebot.infra.ports import Bus, Cache
from waddlebot.platforms import live_platforms, max_length

log = structlog.get_logger(__name__)

MIN_INTERVAL = 5  # minutes
MAX_INTERVAL = 1440
MAX_MESSAGE = 500
MAX_TIMERS = 50  # per community
MAX_MIN_LINES = 1000
LIVE_PLATFORMS = live_platforms()  # platforms that tell us when a stream goes live
VARIABLES = frozenset({"channel", "platform", "random", "random.pick", "time", "uptime"})


class TimerError(WaddleError):
    """Something the person asking can fix about timers."""


class UnknownTimer(Missing, TimerError):
    noun = "timer"


class DuplicateTimer(Taken, TimerError):
    noun = "timer"


@dataclass(frozen=True, slots=True)
class TimerInfo:
    id: int
    community_id: int
    entity_id: str
    name: str
    message: str
    interval_minutes: int
    min_lines: int
    enabled: bool
    next_run_at: datetime
    last_run_at: datetime | None
    runs: int
    lines_mark: int
    created_by: str


def check_name(name: str) -> str:
    """The timer name, lower-cased; TimerError when malformed."""
    normal = name.strip().lower()
    if not NAME_PATTERN.fullmatch(normal):
        raise TimerError(
            f"{name!r} is not a timer name: use 1 to 32 lower case letters, digits, - or _"
        )
    return normal


def check_definition(interval_minutes: int, message: str, min_lines: int) -> str:
    """The message, stripped; TimerError when a value is out of range."""
    if not MIN_INTERVAL <= interval_minutes <= MAX_INTERVAL:
        raise TimerError(f"a timer runs every {MIN_INTERVAL} to {MAX_INTERVAL} minutes")
    if not 0 <= min_lines <= MAX_MIN_LINES:
        raise TimerError(f"-lines= is 0 to {MAX_MIN_LINES} chat lines")
    message = message.strip()
    if not message:
        raise TimerError("a timer needs a message")
    if len(message) > MAX_MESSAGE:
        raise TimerError(f"a timer message is at most {MAX_MESSAGE} characters")
    return message


def next_run(seen: datetime, interval_minutes: int, now: datetime) -> datetime:
    """The first run after ``now`` on the timer's cadence (``seen`` plus whole intervals)."""
    step = timedelta(minutes=interval_minutes)
    missed = max(0, (now - seen) // step)
    return seen + (missed + 1) * step


def _info(row: Timer) -> TimerInfo:
    return record_of(TimerInfo, row)


@dataclass(frozen=True, slots=True)
class _Due:
    timer: TimerInfo
    platform: str
    channel: str
    live: bool
    live_since: datetime | None


@dataclass(frozen=True, slots=True)
class _At:
    """A clock stopped at one moment: the ``now`` a round of timers runs at."""

    at: datetime

    def now(self) -> datetime:
        return self.at


class _TimerVariables:
    """The standard variables that make sense without a caller: ``channel``, ``platform``,
    ``random``, ``random.pick``, ``time`` and ``uptime``; the others stay as written."""

    def __init__(self, context: VariableContext) -> None:
        self._standard = StandardVariables(context)

    async def resolve(self, name: str, args: list[str]) -> str | None:
        if name.lower() not in VARIABLES:
            return None
        return await self._standard.resolve(name, args)


class TimerService(ClaimOnceJob["_Due", tuple["_Due", int]]):
    def __init__(
        self,
        db: Database,
        audit: AuditLog,
        cache: Cache,
        bus: Bus,
        clock: Clock | None = None,
        *,
        switch: CommunitySwitch = ALWAYS_ON,
    ) -> None:
        """``switch``: where the timers module is off, and its timers do not post."""
        self.db = db
        self.switch = switch
        self.audit = audit
        self._changes = audit.changes("timer")
        self.cache = cache
        self.bus = bus
        self.clock = clock or SystemClock()

    # ----- definitions --------------------------------------------------------------------

    async def add(
        self,
        community_id: int,
        entity_id: str,
        name: str,
        interval_minutes: int,
        message: str,
        *,
        min_lines: int = 0,
        actor: str = "",
    ) -> TimerInfo:
        """A new timer posting ``message`` in ``entity_id`` every ``interval_minutes``; its
        first run is one interval from now."""
        name = check_name(name)
        message = check_definition(interval_minutes, message, min_lines)
        now = self.clock.now()
        lines = (await self._line_counts([entity_id]))[entity_id]
        async with self.db.session() as session:
            await lock_community(session, community_id)
            taken = await session.scalar(
                select(Timer.id).where(Timer.community_id == community_id, Timer.name == name)
            )
            if taken is not None:
                raise DuplicateTimer(name)
            count = await session.scalar(
                select(func.count()).select_from(Timer).where(Timer.community_id == community_id)
            )
            if (count or 0) >= MAX_TIMERS:
                raise TimerError(f"this community already has {MAX_TIMERS} timers")
            row = Timer(
                community_id=community_id,
                entity_id=entity_id,
                name=name,
                message=message,
                interval_minutes=interval_minutes,
                min_lines=min_lines,
                enabled=True,
                next_run_at=now + timedelta(minutes=interval_minutes),
                runs=0,
                lines_mark=lines,
                created_by=actor,
            )
            session.add(row)
            await session.flush()
            info = _info(row)
        detail = {
            "entity_id": entity_id,
            "interval_minutes": interval_minutes,
            "min_lines": min_lines,
            "message": message,
        }
        self._changes.record("timer.add", actor, community_id, name, detail)
        return info

    async def edit(
        self,
        community_id: int,
        name: str,
        interval_minutes: int,
        message: str,
        *,
        min_lines: int = 0,
        actor: str = "",
    ) -> TimerInfo:
        """Change a timer's interval, message and chat lines; a new interval counts from now."""
        name = check_name(name)
        message = check_definition(interval_minutes, message, min_lines)
        now = self.clock.now()
        async with self.db.session() as session:
            row = await session.scalar(
                select(Timer).where(Timer.community_id == community_id, Timer.name == name)
            )
            if row is None:
                raise UnknownTimer(name)
            if row.interval_minutes != interval_minutes:
                row.next_run_at = now + timedelta(minutes=interval_minutes)
            row.interval_minutes, row.message, row.min_lines = interval_minutes, message, min_lines
            await session.flush()
            info = _info(row)
        detail = {"interval_minutes": interval_minutes, "min_lines": min_lines, "message": message}
        self._changes.record("timer.edit", actor, community_id, name, detail)
        return info

    async def get(self, community_id: int, name: str) -> TimerInfo | None:
        try:
            name = check_name(name)
        except TimerError:
            return None
        async with self.db.session() as session:
            row = await session.scalar(
                select(Timer).where(Timer.community_id == community_id, Timer.name == name)
            )
            return None if row is None else _info(row)

    async def list(self, community_id: int) -> builtins.list[TimerInfo]:
        """The community's timers, by name."""
        async with self.db.session() as session:
            rows = await session.scalars(
                select(Timer).where(Timer.community_id == community_id).order_by(Timer.name)
            )
            return [_info(row) for row in rows]

    async def remove(self, community_id: int, name: str, *, actor: str = "") -> None:
        name = check_name(name)
        async with self.db.session() as session:
            result: Any = await session.execute(
                delete(Timer).where(Timer.community_id == community_id, Timer.name == name)
            )
            if not result.rowcount:
                raise UnknownTimer(name)
        self._changes.record("timer.remove", actor, community_id, name)

    async def enable(self, community_id: int, name: str, *, actor: str = "") -> bool:
        """Switch a timer on; its next run is one interval from now, and chat lines count
        from now. False when it was on already."""
        changed = await self._set_enabled(community_id, name, True)
        if changed:
            self._changes.record("timer.enable", actor, community_id, name)
        return changed

    async def disable(self, community_id: int, name: str, *, actor: str = "") -> bool:
        """Switch a timer off (it stays defined). False when it was off already."""
        changed = await self._set_enabled(community_id, name, False)
        if changed:
            self._changes.record("timer.disable", actor, community_id, name)
        return changed

    async def _set_enabled(self, community_id: int, name: str, enabled: bool) -> bool:
        name = check_name(name)
        now = self.clock.now()
        async with self.db.session() as session:
            row = await session.scalar(
                select(Timer).where(Timer.community_id == community_id, Timer.name == name)
            )
            if row is None:
                raise UnknownTimer(name)
            if row.enabled == enabled:
                return False
            row.enabled = enabled
            if enabled:
                row.next_run_at = now + timedelta(minutes=row.interval_minutes)
                row.lines_mark = (await self._line_counts([row.entity_id]))[row.entity_id]
        return True

    # ----- live state ---------------------------------------------------------------------

    async def set_live(self, entity_id: str, live: bool, *, at: datetime | None = None) -> bool:
        """Record that a place went live or offline (``stream_online`` / ``stream_offline``)
        at ``at`` (the stream's start, or when it ended; default now). Going live starts its
        timers afresh: each runs first one interval into the stream. False when nothing
        changes: the place was in that state already (the same stream), or the news is older
        than what is known (events handled out of order by two router processes)."""
        now = at or self.clock.now()
        insert: Any = postgresql.insert if self.db.dialect == "postgresql" else sqlite.insert
        async with self.db.session() as session:
            known = (
                await session.execute(
                    select(StreamState.live, StreamState.changed_at)
                    .where(StreamState.entity_id == entity_id)
                    .with_for_update()
                )
            ).first()
            if known is not None:
                was_live, since = known
                newer = at is not None and now > since
                if was_live == live and not (live and newer):
                    return False  # a repeat (a new stream after a missed offline is not)
                if at is not None and not newer:
                    return False  # older news than what is known
            statement = insert(StreamState).values(entity_id=entity_id, live=live, changed_at=now)
            await session.execute(
                statement.on_conflict_do_update(
                    index_elements=[StreamState.entity_id],
                    set_={"live": statement.excluded.live, "changed_at": now},
                )
            )
            if live:  # in the order fire_due claims them, so the two never deadlock
                first_run = self.clock.now()  # one interval from when we hear of it
                timers = await session.execute(
                    select(Timer.id, Timer.interval_minutes)
                    .where(Timer.entity_id == entity_id)
                    .order_by(Timer.next_run_at, Timer.id)
                )
                for timer_id, minutes in timers.all():
                    await session.execute(
                        update(Timer)
                        .where(Timer.id == timer_id)
                        .values(next_run_at=first_run + timedelta(minutes=minutes))
                        .execution_options(synchronize_session=False)
                    )
        log.info("stream state", entity_id=entity_id, live=live)
        return True

    # ----- firing -------------------------------------------------------------------------

    def _due_query(self, now: datetime) -> DueQuery:
        return (
            select(
                Timer, Entity.platform, Entity.channel_id, StreamState.live, StreamState.changed_at
            )
            .join(
                Entity,
                (Entity.id == Timer.entity_id) & (Entity.community_id == Timer.community_id),
            )
            .outerjoin(StreamState, StreamState.entity_id == Timer.entity_id)
            .where(Timer.enabled == true(), Timer.next_run_at <= now)
            .order_by(Timer.next_run_at, Timer.id)
        )

    def _due_item(self, row: DueRow) -> _Due:
        timer, platform, channel, live, since = row
        is_live = bool(live) if platform in LIVE_PLATFORMS else True
        return _Due(_info(timer), platform, channel, is_live, since if live else None)

    async def _claim(self, due: Sequence[_Due], now: datetime) -> builtins.list[tuple[_Due, int]]:
        """Claim each run and decide whether it posts, in one transaction; returns the runs
        to post, with their run numbers."""
        counts = await self._line_counts({d.timer.entity_id for d in due})
        claimed: list[tuple[_Due, int]] = []
        async with self.db.session() as session:
            for item in due:
                timer = item.timer
                count = counts[timer.entity_id]
                mark = timer.lines_mark if count >= timer.lines_mark else 0  # cache was reset
                posts = item.live and count - mark >= timer.min_lines
                values: dict[str, Any] = {
                    "next_run_at": next_run(timer.next_run_at, timer.interval_minutes, now),
                    "lines_mark": count if posts else mark,
                }
                if posts:
                    values |= {"runs": Timer.runs + 1, "last_run_at": now}
                run = await claim_row(
                    session,
                    update(Timer)
                    .where(
                        Timer.id == timer.id,
                        Timer.next_run_at == timer.next_run_at,
                        Timer.enabled == true(),
                    )
                    .values(**values)
                    .returning(Timer.runs),
                )
                if run is None:
                    continue  # another process claimed this run, or the timer changed
                if posts:
                    claimed.append((item, int(run)))
                else:
                    log.debug(
                        "timer skipped",
                        timer_id=timer.id,
                        live=item.live,
                        lines=count - mark,
                        needed=timer.min_lines,
                    )
        return claimed

    def _community(self, claimed: tuple[_Due, int]) -> int:
        return claimed[0].timer.community_id

    async def _messages(
        self, claimed: Sequence[tuple[_Due, int]], now: datetime
    ) -> builtins.list[OutboundMessage]:
        messages = []
        for item, run in claimed:
            text = await self._render(item, now)
            if text.strip():
                messages.append(
                    outbox.message(
                        f"timer:{item.timer.id}:{run}",
                        item.platform,
                        text,
                        entity_id=item.timer.entity_id,
                        channel_id=item.channel,
                    )
                )
        return messages

    async def _render(self, item: _Due, now: datetime) -> str:
        context = VariableContext(
            user="",
            channel=item.channel or item.timer.entity_id,
            platform=item.platform,
            clock=_At(now),
            live_since=item.live_since,
        )
        length = max_length(item.platform)
        return await render(item.timer.message, _TimerVariables(context), max_length=length)

    async def _line_counts(self, entity_ids: Collection[str]) -> dict[str, int]:
        """Chat lines each place has seen, as the router counts them (0 when unknown)."""
        ordered = builtins.list(entity_ids)
        raw = await self.cache.get_many([keys.lines_key(e) for e in ordered])
        counts: dict[str, int] = {}
        for entity_id, value in zip(ordered, raw, strict=True):
            try:
                counts[entity_id] = int(value) if value is not None else 0
            except ValueError:
                counts[entity_id] = 0
        return counts
