"""Calendar events of a community: adding (approved at once, or waiting for a moderator),
approving and rejecting, cancelling, and who is going.

- Whether an event is approved when it is added is decided here, the same for chat and the
  HTTP API: moderators and up (and service accounts), and people with the user label
  ``event-autoapprove``, get their events approved; everyone else's wait.
- Approving and rejecting are one conditional ``UPDATE ... WHERE status = 'pending'``: when
  two moderators decide at the same moment exactly one update matches; the other is told what
  was decided and by whom.
- Attendees are per event: joining a recurring event means going to every occurrence (one
  list, one capacity, reminders for each). Joining holds the event's row while counting, so
  a capacity holds against concurrent joins in other processes.
- ``remind_at`` is when the next reminder is due (see reminders.py); it is recomputed when an
  event is approved and when the community's reminder offsets change.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from waddlebot.core.clock import Clock, SystemClock
from waddlebot.core.errors import (
    Conflict,
    LimitReached,
    NotAllowed,
    UnknownNumber,
    UnknownPerson,
    WaddleError,
)
from waddlebot.core.permissions import Level
from waddlebot.features.calendar.models import CalendarAttendee, CalendarEvent
from waddlebot.features.calendar.parsing import MAX_DURATION
from waddlebot.features.calendar.recurrence import current_or_next, next_reminder
from waddlebot.features.labels.service import LabelService
from waddlebot.infra.audit import AuditLog
from waddlebot.infra.db.engine import Database
from waddlebot.infra.db.models import Community, Entity
from waddlebot.infra.db.records import record_of
from waddlebot.infra.directory import lock_community, user_exists

AUTOAPPROVE_LABEL = "event-autoapprove"
SETTINGS_KEY = "calendar"  # in a community's settings: {"reminders": [minutes, ...]}
DEFAULT_REMINDERS = (1440, 15)  # minutes before the start
MAX_REMINDERS = 5
MAX_REMINDER_MINUTES = 7 * 1440
MAX_TITLE = 100
MAX_DESCRIPTION = 500
MAX_REASON = 200
MAX_CAPACITY = 10_000
MAX_EVENTS = 200  # pending or upcoming, per community
MAX_PENDING_PER_PERSON = 5
DEFAULT_DURATION = 60  # minutes

Status = Literal["pending", "approved", "rejected", "cancelled"]


class CalendarError(WaddleError):
    """Something the person asking can fix about the calendar."""


class CalendarLimit(LimitReached, CalendarError):
    """The community has all the upcoming events it may have, or the person all the pending
    ones."""


class CancelRefused(NotAllowed, CalendarError):
    """Only the person who added an event, or a moderator, cancels it."""


class UnknownEvent(UnknownNumber, CalendarError):
    def __init__(self, event_id: int) -> None:
        super().__init__("event", event_id)
        self.event_id = event_id


class Ended(Conflict, CalendarError):
    """The event is cancelled or rejected already: there is nothing to cancel."""


class AlreadyDecided(Conflict, CalendarError):
    """Someone else decided first, or the event was never pending."""

    def __init__(self, event: EventInfo) -> None:
        by = f" by {event.decided_by_name}" if event.decided_by_name else ""
        super().__init__(f"event #{event.id} was {event.status} already{by}")
        self.event = event


class EditRefused(NotAllowed, CalendarError):
    pass


class EventFull(Conflict, CalendarError):
    def __init__(self, event: EventInfo) -> None:
        super().__init__(f"{event.title} is full ({event.going} of {event.capacity} going)")
        self.event = event


@dataclass(frozen=True, slots=True)
class EventInfo:
    id: int
    community_id: int
    entity_id: str | None
    title: str
    description: str
    starts_at: datetime  # the first occurrence
    duration_minutes: int
    timezone: str
    rrule: str
    capacity: int | None
    status: str
    creator_user_id: int | None
    creator_name: str
    decided_by_name: str
    reason: str
    going: int
    created_at: datetime
    updated_at: datetime

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def next_start(self, now: datetime) -> datetime | None:
        """The start of the occurrence that is on now or comes next; None when it is over."""
        return current_or_next(self.starts_at, self.zone, self.rrule, self.duration_minutes, now)


@dataclass(frozen=True, slots=True)
class NewEvent:
    """What someone asks for; checked by :meth:`CalendarService.add`."""

    title: str
    starts_at: datetime
    timezone: str
    duration_minutes: int = DEFAULT_DURATION
    rrule: str = ""
    capacity: int | None = None
    description: str = ""
    entity_id: str | None = None


@dataclass(frozen=True, slots=True)
class EventChange:
    """What an edit changes; None leaves a field as it is. ``rrule`` "" stops the repeating,
    ``capacity`` 0 lifts the limit."""

    title: str | None = None
    description: str | None = None
    starts_at: datetime | None = None
    duration_minutes: int | None = None
    rrule: str | None = None
    capacity: int | None = None


def _title(typed: str) -> str:
    title = " ".join(typed.split())
    if not title:
        raise CalendarError("an event needs a title")
    if len(title) > MAX_TITLE:
        raise CalendarError(f"a title is at most {MAX_TITLE} characters")
    return title


def _description(typed: str) -> str:
    description = " ".join(typed.split())
    if len(description) > MAX_DESCRIPTION:
        raise CalendarError(f"a description is at most {MAX_DESCRIPTION} characters")
    return description


def _capacity(capacity: int | None) -> int | None:
    if capacity is not None and not 1 <= capacity <= MAX_CAPACITY:
        raise CalendarError(f"the most people going is 1 to {MAX_CAPACITY}")
    return capacity


def reminder_offsets(settings: dict[str, Any] | None) -> list[int]:
    """A community's reminder offsets in minutes, longest first (``settings["calendar"]``,
    the defaults when absent or malformed)."""
    configured = ((settings or {}).get(SETTINGS_KEY) or {}).get("reminders")
    if not isinstance(configured, list) or not all(
        isinstance(m, int) and not isinstance(m, bool) and 0 < m <= MAX_REMINDER_MINUTES
        for m in configured
    ):
        return list(DEFAULT_REMINDERS)
    return sorted(set(configured), reverse=True)


def check_offsets(offsets: Sequence[int]) -> list[int]:
    if len(set(offsets)) > MAX_REMINDERS:
        raise CalendarError(f"at most {MAX_REMINDERS} reminders")
    if any(not 0 < m <= MAX_REMINDER_MINUTES for m in offsets):
        raise CalendarError("a reminder comes 1 minute to 7 days before the start")
    return sorted(set(offsets), reverse=True)


class CalendarService:
    def __init__(
        self, db: Database, audit: AuditLog, labels: LabelService, clock: Clock | None = None
    ) -> None:
        self.db = db
        self.audit = audit
        self._changes = audit.changes("event")
        self.labels = labels
        self.clock: Clock = clock or SystemClock()

    # ----- adding -------------------------------------------------------------------------

    async def may_autoapprove(
        self, community_id: int, user_id: int | None, level: int | None
    ) -> bool:
        """Moderator level and up (None: a service account), or the label
        ``event-autoapprove``."""
        if level is None or level >= Level.MODERATOR:
            return True
        if user_id is None:
            return False
        return await self.labels.has_label(community_id, "user", str(user_id), AUTOAPPROVE_LABEL)

    async def add(
        self,
        community_id: int,
        wanted: NewEvent,
        *,
        creator_user_id: int | None,
        creator_name: str,
        level: int | None,
        actor: str = "",
    ) -> EventInfo:
        """A new event, approved when the creator :meth:`may_autoapprove`, else pending."""
        title = _title(wanted.title)
        description = _description(wanted.description)
        _capacity(wanted.capacity)
        now = self.clock.now()
        if wanted.starts_at <= now:
            raise CalendarError("that start has passed already")
        approved = await self.may_autoapprove(community_id, creator_user_id, level)
        async with self.db.session() as session:
            settings = await lock_community(session, community_id)
            if wanted.entity_id is not None:
                place = await session.scalar(
                    select(Entity.community_id).where(Entity.id == wanted.entity_id)
                )
                if place != community_id:
                    raise CalendarError(f"{wanted.entity_id} is not a place of this community")
            await self._check_room(session, community_id, creator_user_id, approved, now)
            row = CalendarEvent(
                community_id=community_id,
                entity_id=wanted.entity_id,
                title=title,
                description=description,
                starts_at=wanted.starts_at,
                duration_minutes=wanted.duration_minutes,
                timezone=wanted.timezone,
                rrule=wanted.rrule,
                capacity=wanted.capacity,
                status="approved" if approved else "pending",
                creator_user_id=creator_user_id,
                creator_name=creator_name[:256],
                created_by=actor[:256],
                decided_by=creator_name[:256] if approved else "",
                decided_at=now if approved else None,
                created_at=now,
                updated_at=now,
            )
            if approved:
                row.remind_at = _first_reminder(row, settings, now)
            session.add(row)
            await session.flush()
            info = _info(row, 0)
        detail = {
            "title": title,
            "starts_at": info.starts_at.isoformat(),
            "rrule": info.rrule,
            "status": info.status,
        }
        self._changes.record("event.add", actor, community_id, info.id, detail)
        return info

    async def _check_room(
        self,
        session: AsyncSession,
        community_id: int,
        creator_user_id: int | None,
        approved: bool,
        now: datetime,
    ) -> None:
        """The community's and the person's limits (run under the community's lock)."""
        ahead = or_(
            CalendarEvent.status == "pending",
            and_(
                CalendarEvent.status == "approved",
                or_(CalendarEvent.rrule != "", CalendarEvent.starts_at > now),
            ),
        )
        count = await session.scalar(
            select(func.count())
            .select_from(CalendarEvent)
            .where(CalendarEvent.community_id == community_id, ahead)
        )
        if (count or 0) >= MAX_EVENTS:
            raise CalendarLimit(f"this community already has {MAX_EVENTS} upcoming events")
        if approved or creator_user_id is None:
            return
        pending = await session.scalar(
            select(func.count())
            .select_from(CalendarEvent)
            .where(
                CalendarEvent.community_id == community_id,
                CalendarEvent.status == "pending",
                CalendarEvent.creator_user_id == creator_user_id,
            )
        )
        if (pending or 0) >= MAX_PENDING_PER_PERSON:
            raise CalendarLimit(
                f"you have {MAX_PENDING_PER_PERSON} events waiting for approval already"
            )

    # ----- reading ------------------------------------------------------------------------

    async def get(self, community_id: int, event_id: int) -> EventInfo | None:
        found = await self._select(
            [CalendarEvent.community_id == community_id, CalendarEvent.id == event_id]
        )
        return found[0] if found else None

    async def pending(self, community_id: int) -> builtins.list[EventInfo]:
        """Events waiting for approval, oldest request first."""
        return await self._select(
            [CalendarEvent.community_id == community_id, CalendarEvent.status == "pending"],
            order=(CalendarEvent.created_at, CalendarEvent.id),
        )

    async def upcoming(
        self, community_id: int, now: datetime | None = None
    ) -> builtins.list[tuple[EventInfo, datetime]]:
        """Approved events that are on now or come later, each with the start of its next
        (or current) occurrence, soonest first."""
        now = now or self.clock.now()
        found = await self.approved(community_id, since=now - timedelta(minutes=MAX_DURATION))
        dated = [(event, start) for event in found if (start := event.next_start(now))]
        return sorted(dated, key=lambda pair: (pair[1], pair[0].id))

    async def approved(self, community_id: int, since: datetime) -> builtins.list[EventInfo]:
        """The approved events that repeat, or start after ``since``."""
        return await self._select(
            [
                CalendarEvent.community_id == community_id,
                CalendarEvent.status == "approved",
                or_(CalendarEvent.rrule != "", CalendarEvent.starts_at > since),
            ]
        )

    async def attendees(self, community_id: int, event_id: int) -> builtins.list[str]:
        """Names of the people going, in the order they joined."""
        async with self.db.read_session() as session:
            names = await session.scalars(
                select(CalendarAttendee.name)
                .join(CalendarEvent, CalendarEvent.id == CalendarAttendee.event_id)
                .where(
                    CalendarEvent.community_id == community_id,
                    CalendarAttendee.event_id == event_id,
                )
                .order_by(CalendarAttendee.joined_at, CalendarAttendee.user_id)
            )
            return list(names)

    async def _select(
        self, where: Sequence[Any], order: Sequence[Any] = (CalendarEvent.id,)
    ) -> builtins.list[EventInfo]:
        going = (
            select(func.count())
            .where(CalendarAttendee.event_id == CalendarEvent.id)
            .correlate(CalendarEvent)
            .scalar_subquery()
        )
        async with self.db.session() as session:  # the primary: decisions read back at once
            rows = await session.execute(
                select(CalendarEvent, going).where(*where).order_by(*order)
            )
            return [_info(row, count) for row, count in rows.all()]

    # ----- deciding -----------------------------------------------------------------------

    async def decide(
        self,
        community_id: int,
        event_id: int,
        approve: bool,
        *,
        reason: str = "",
        decider: str = "",
        actor: str = "",
    ) -> EventInfo:
        """Approve or reject a pending event. :class:`AlreadyDecided` when it is not pending
        (another moderator was quicker, or it was cancelled). ``decider`` is how replies name
        the moderator."""
        reason = " ".join(reason.split())
        if len(reason) > MAX_REASON:
            raise CalendarError(f"a reason is at most {MAX_REASON} characters")
        now = self.clock.now()
        status = "approved" if approve else "rejected"
        async with self.db.session() as session:
            row = await _event(session, community_id, event_id)
            values: dict[str, Any] = {
                "status": status,
                "decided_by": (decider or actor)[:256],
                "decided_at": now,
                "reason": reason,
                "updated_at": now,
            }
            if approve:
                if not row.rrule and row.starts_at <= now:
                    raise CalendarError(f"event #{event_id} has started already")
                settings = await session.scalar(
                    select(Community.settings).where(Community.id == community_id)
                )
                values["remind_at"] = _first_reminder(row, settings, now)
            decided: Any = await session.execute(
                update(CalendarEvent)
                .where(CalendarEvent.id == row.id, CalendarEvent.status == "pending")
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            won = decided.rowcount == 1
        event = await self._after_change(community_id, event_id)
        if not won:
            raise AlreadyDecided(event)
        detail = {"reason": reason} if reason else None
        if approve:
            self._changes.record("event.approve", actor, community_id, event_id, detail)
        else:
            self._changes.record("event.reject", actor, community_id, event_id, detail)
        return event

    async def cancel(
        self,
        community_id: int,
        event_id: int,
        *,
        user_id: int | None,
        level: int | None,
        actor: str = "",
    ) -> tuple[EventInfo, builtins.list[str]]:
        """Cancel an event (every occurrence). The person who added it may, and moderators
        (``level`` None: a service account). Returns the event and who was going."""
        now = self.clock.now()
        async with self.db.session() as session:
            row = await _event(session, community_id, event_id)
            moderator = level is None or level >= Level.MODERATOR
            if not moderator and (user_id is None or row.creator_user_id != user_id):
                raise CancelRefused("only the person who added it or a moderator can cancel it")
            cancelled: Any = await session.execute(
                update(CalendarEvent)
                .where(
                    CalendarEvent.id == row.id,
                    CalendarEvent.status.in_(("pending", "approved")),
                )
                .values(status="cancelled", remind_at=None, updated_at=now)
                .execution_options(synchronize_session=False)
            )
        going = await self.attendees(community_id, event_id)
        event = await self._after_change(community_id, event_id)
        if cancelled.rowcount != 1:
            raise Ended(f"event #{event_id} is {event.status} already")
        self._changes.record("event.cancel", actor, community_id, event_id)
        return event, going

    async def edit(
        self,
        community_id: int,
        event_id: int,
        change: EventChange,
        *,
        user_id: int | None,
        level: int | None,
        actor: str = "",
    ) -> EventInfo:
        """Change a pending or approved event (every occurrence). Moderators (``level`` None:
        a service account) change any; the person who added it, only while it waits for
        approval (a change to an approved one would skip the approval)."""
        values: dict[str, Any] = {}
        if change.title is not None:
            values["title"] = _title(change.title)
        if change.description is not None:
            values["description"] = _description(change.description)
        if change.duration_minutes is not None:
            if not 1 <= change.duration_minutes <= MAX_DURATION:
                raise CalendarError(f"an event lasts 1 to {MAX_DURATION} minutes")
            values["duration_minutes"] = change.duration_minutes
        if change.rrule is not None:
            values["rrule"] = change.rrule
        if change.capacity is not None:
            values["capacity"] = _capacity(change.capacity or None)
        now = self.clock.now()
        if change.starts_at is not None:
            if change.starts_at <= now:
                raise CalendarError("that start has passed already")
            values["starts_at"] = change.starts_at
        async with self.db.session() as session:
            settings = await lock_community(session, community_id)
            row = await _event(session, community_id, event_id, lock=True)
            moderator = level is None or level >= Level.MODERATOR
            own = user_id is not None and row.creator_user_id == user_id
            if not moderator and not (own and row.status == "pending"):
                raise EditRefused("only a moderator, or its creator while it waits, can edit it")
            if row.status not in ("pending", "approved"):
                raise Ended(f"event #{event_id} is {row.status}")
            going = await session.scalar(
                select(func.count())
                .select_from(CalendarAttendee)
                .where(CalendarAttendee.event_id == row.id)
            )
            if values.get("capacity") is not None and values["capacity"] < (going or 0):
                raise CalendarError(f"{going} people are going already")
            for name, value in values.items():
                setattr(row, name, value)
            row.updated_at = now
            if row.status == "approved":
                row.remind_at = _first_reminder(row, settings, now)
        detail = {name: str(value) for name, value in values.items()}
        self._changes.record("event.edit", actor, community_id, event_id, detail)
        return await self._after_change(community_id, event_id)

    # ----- going --------------------------------------------------------------------------

    async def join(
        self, community_id: int, event_id: int, user_id: int, name: str, *, actor: str = ""
    ) -> tuple[EventInfo, bool]:
        """Put someone on the list of an approved event that is not over; returns the event
        and False when they were on it already. :class:`EventFull` at capacity,
        :class:`UnknownPerson` when there is no such user (any more)."""
        try:
            joined = await self._join(community_id, event_id, user_id, name)
        except IntegrityError as exc:  # merged away since they were named?
            if await user_exists(self.db, user_id):
                raise
            raise UnknownPerson(user_id) from exc
        event = await self._after_change(community_id, event_id)
        if joined:
            self._changes.record("event.join", actor, community_id, event_id, {"user_id": user_id})
        return event, joined

    async def _join(self, community_id: int, event_id: int, user_id: int, name: str) -> bool:
        """Put ``user_id`` on the list; False when they were on it already."""
        now = self.clock.now()
        async with self.db.session() as session:
            row = await _event(session, community_id, event_id, lock=True)
            _check_open(row, now)
            already = await session.scalar(
                select(CalendarAttendee.user_id).where(
                    CalendarAttendee.event_id == row.id, CalendarAttendee.user_id == user_id
                )
            )
            if already is None:
                count = await session.scalar(
                    select(func.count())
                    .select_from(CalendarAttendee)
                    .where(CalendarAttendee.event_id == row.id)
                )
                if row.capacity is not None and (count or 0) >= row.capacity:
                    raise EventFull(_info(row, count or 0))
                session.add(
                    CalendarAttendee(
                        event_id=row.id, user_id=user_id, name=name[:256], joined_at=now
                    )
                )
        return already is None

    async def leave(
        self, community_id: int, event_id: int, user_id: int, *, actor: str = ""
    ) -> tuple[EventInfo, bool]:
        """Take someone off the list; False when they were not on it."""
        async with self.db.session() as session:
            row = await _event(session, community_id, event_id)
            left: Any = await session.execute(
                delete(CalendarAttendee).where(
                    CalendarAttendee.event_id == row.id, CalendarAttendee.user_id == user_id
                )
            )
        event = await self._after_change(community_id, event_id)
        if left.rowcount:
            self._changes.record("event.leave", actor, community_id, event_id, {"user_id": user_id})
        return event, bool(left.rowcount)

    # ----- reminder offsets ---------------------------------------------------------------

    async def reminders(self, community_id: int) -> builtins.list[int]:
        async with self.db.read_session() as session:
            settings = await session.scalar(
                select(Community.settings).where(Community.id == community_id)
            )
        return reminder_offsets(settings)

    async def set_reminders(
        self, community_id: int, offsets: Sequence[int], *, actor: str = ""
    ) -> builtins.list[int]:
        """Set how long before each occurrence its attendees are reminded (an empty list:
        never), and reschedule the community's events."""
        chosen = check_offsets(offsets)
        now = self.clock.now()
        async with self.db.session() as session:
            settings = await lock_community(session, community_id)
            calendar = {**(settings.get(SETTINGS_KEY) or {}), "reminders": chosen}
            settings = {**settings, SETTINGS_KEY: calendar}
            await session.execute(
                update(Community).where(Community.id == community_id).values(settings=settings)
            )
            rows = await session.scalars(
                select(CalendarEvent).where(
                    CalendarEvent.community_id == community_id,
                    CalendarEvent.status == "approved",
                )
            )
            for row in rows.all():
                row.remind_at = _first_reminder(row, settings, now)
        self.audit.record(
            "event.reminders",
            decision="change",
            actor=actor,
            community_id=community_id,
            detail={"minutes": chosen},
        )
        return chosen

    # ----- helpers ------------------------------------------------------------------------

    async def _after_change(self, community_id: int, event_id: int) -> EventInfo:
        """The event as a change just left it."""
        event = await self.get(community_id, event_id)
        if event is None:  # pragma: no cover - deleted with its community meanwhile
            raise UnknownEvent(event_id)
        return event


def _first_reminder(
    row: CalendarEvent, settings: dict[str, Any] | None, now: datetime
) -> datetime | None:
    if row.entity_id is None:
        return None  # nowhere to announce it
    offsets = reminder_offsets(settings) if settings is not None else list(DEFAULT_REMINDERS)
    return next_reminder(row.starts_at, ZoneInfo(row.timezone), row.rrule, offsets, now)


def _check_open(row: CalendarEvent, now: datetime) -> None:
    if row.status == "pending":
        raise CalendarError(f"event #{row.id} is not approved yet")
    if row.status != "approved":
        raise CalendarError(f"event #{row.id} is {row.status}")
    zone = ZoneInfo(row.timezone)
    if current_or_next(row.starts_at, zone, row.rrule, row.duration_minutes, now) is None:
        raise CalendarError(f"event #{row.id} is over")


async def _event(
    session: AsyncSession, community_id: int, event_id: int, *, lock: bool = False
) -> CalendarEvent:
    """The event, or :class:`UnknownEvent`; ``lock`` holds its row until the transaction ends
    (a PostgreSQL row lock, SQLite's write lock)."""
    if lock:
        await session.execute(
            update(CalendarEvent)
            .where(CalendarEvent.id == event_id, CalendarEvent.community_id == community_id)
            .values(capacity=CalendarEvent.capacity)
            .execution_options(synchronize_session=False)
        )
    row = await session.scalar(
        select(CalendarEvent).where(
            CalendarEvent.id == event_id, CalendarEvent.community_id == community_id
        )
    )
    if row is None:
        raise UnknownEvent(event_id)
    return row


def _info(row: CalendarEvent, going: int) -> EventInfo:
    return record_of(
        EventInfo,
        row,
        starts_at=row.starts_at.astimezone(UTC),
        decided_by_name=row.decided_by,
        going=int(going or 0),
    )
