"""Reminding the people going to an event, in the channel the event was added in.

:meth:`ReminderJob.fire_due` is a job of the scheduler (infra/scheduler.py), which runs it
in one process at a time. A claim-once job (infra/jobs.py) like the timers
(features/timers/service.py), it must be safe when a lease changes hands mid-job and two
processes run it at once:

- an approved event carries ``remind_at``, the next moment a reminder is due (an offset such
  as 1 day or 15 minutes before one of its occurrences; see recurrence.next_reminder);
- a due reminder is claimed with ``UPDATE calendar_events SET remind_at = <the next one>
  WHERE id = :id AND remind_at = :seen``: only one process's update matches, so only that
  process announces it;
- the announcement is about the first occurrence after ``remind_at``, with the time actually
  left ("starts in 14 minutes"); if that occurrence has begun (no scheduler ran for a while)
  nothing is said, and several reminders missed at once become one;
- nobody going, nothing said (the claim still moves on);
- the message goes on the platform's reply stream after the claim is committed: a process
  dying in between loses that one reminder (at most once, never twice). Its outbound id is
  ``event:<event id>:<reminder moment, epoch seconds>``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import select, update

from waddlebot.core.clock import Clock, SystemClock
from waddlebot.core.contract import OutboundMessage
from waddlebot.core.language import format_moment, span
from waddlebot.core.variables import truncate
from waddlebot.features.calendar.events import reminder_offsets
from waddlebot.features.calendar.models import CalendarAttendee, CalendarEvent
from waddlebot.features.calendar.recurrence import next_occurrence, next_reminder
from waddlebot.infra import outbox
from waddlebot.infra.db.engine import Database
from waddlebot.infra.db.models import Community, Entity
from waddlebot.infra.jobs import (
    ALWAYS_ON,
    ClaimOnceJob,
    CommunitySwitch,
    DueQuery,
    DueRow,
    claim_row,
)
from waddlebot.infra.ports import Bus
from waddlebot.platforms import max_length

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class _Due:
    event_id: int
    community_id: int
    title: str
    starts_at: datetime
    zone: ZoneInfo
    rrule: str
    seen: datetime  # remind_at as read
    offsets: list[int]
    entity_id: str
    platform: str
    channel: str


@dataclass(frozen=True, slots=True)
class _Claimed:
    due: _Due
    occurrence: datetime


class ReminderJob(ClaimOnceJob["_Due", "_Claimed"]):
    def __init__(
        self,
        db: Database,
        bus: Bus,
        clock: Clock | None = None,
        *,
        switch: CommunitySwitch = ALWAYS_ON,
    ) -> None:
        """``switch``: where the calendar module is off, and its reminders are not said."""
        self.db = db
        self.switch = switch
        self.bus = bus
        self.clock = clock or SystemClock()

    def _due_query(self, now: datetime) -> DueQuery:
        return (
            select(CalendarEvent, Entity.platform, Entity.channel_id, Community.settings)
            .join(
                Entity,
                (Entity.id == CalendarEvent.entity_id)
                & (Entity.community_id == CalendarEvent.community_id),
            )
            .join(Community, Community.id == CalendarEvent.community_id)
            .where(
                CalendarEvent.status == "approved",
                CalendarEvent.remind_at.is_not(None),
                CalendarEvent.remind_at <= now,
            )
            .order_by(CalendarEvent.remind_at, CalendarEvent.id)
        )

    def _due_item(self, row: DueRow) -> _Due:
        event, platform, channel, settings = row
        return _Due(
            event_id=event.id,
            community_id=event.community_id,
            title=event.title,
            starts_at=event.starts_at,
            zone=ZoneInfo(event.timezone),
            rrule=event.rrule,
            seen=cast(datetime, event.remind_at),
            offsets=reminder_offsets(settings),
            entity_id=cast(str, event.entity_id),
            platform=platform,
            channel=channel,
        )

    async def _claim(self, due: Sequence[_Due], now: datetime) -> list[_Claimed]:
        claimed: list[_Claimed] = []
        async with self.db.session() as session:
            for item in due:
                following = next_reminder(item.starts_at, item.zone, item.rrule, item.offsets, now)
                won = await claim_row(
                    session,
                    update(CalendarEvent)
                    .where(
                        CalendarEvent.id == item.event_id,
                        CalendarEvent.remind_at == item.seen,
                        CalendarEvent.status == "approved",
                    )
                    .values(remind_at=following)
                    .returning(CalendarEvent.id),
                )
                if won is None:
                    continue  # another process claimed it, or the event changed
                occurrence = next_occurrence(item.starts_at, item.zone, item.rrule, item.seen)
                if occurrence is not None and occurrence > now:
                    claimed.append(_Claimed(item, occurrence))
                else:
                    log.debug("event reminder skipped", event_id=item.event_id, reason="started")
        return claimed

    def _community(self, claimed: _Claimed) -> int:
        return claimed.due.community_id

    async def _messages(self, claimed: Sequence[_Claimed], now: datetime) -> list[OutboundMessage]:
        if not claimed:
            return []
        going: dict[int, list[str]] = defaultdict(list)
        async with self.db.session() as session:
            rows = await session.execute(
                select(CalendarAttendee.event_id, CalendarAttendee.name)
                .where(CalendarAttendee.event_id.in_([c.due.event_id for c in claimed]))
                .order_by(CalendarAttendee.joined_at, CalendarAttendee.user_id)
            )
            for event_id, name in rows.all():
                going[event_id].append(name)
        messages = []
        for item in claimed:
            due = item.due
            names = going.get(due.event_id)
            if not names:
                continue  # nobody to remind
            starts = format_moment(item.occurrence, due.zone, now)
            text = (
                f"Reminder: {due.title} (#{due.event_id}) starts in "
                f"{span(item.occurrence - now, words=True)}, {starts}. Going: {', '.join(names)}"
            )
            messages.append(
                outbox.message(
                    f"event:{due.event_id}:{int(due.seen.timestamp())}",
                    due.platform,
                    truncate(text, max_length(due.platform)),
                    entity_id=due.entity_id,
                    channel_id=due.channel,
                )
            )
        return messages


__all__ = ["ReminderJob"]
