"""The calendar feature: events, who is going, reminders, and the iCalendar feed."""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from waddlebot.features.calendar import api, portal
from waddlebot.features.calendar.events import CalendarService
from waddlebot.features.calendar.feed import FeedService
from waddlebot.features.calendar.models import CalendarAttendee, CalendarEvent
from waddlebot.features.calendar.module import build_calendar_module
from waddlebot.features.calendar.reminders import ReminderJob
from waddlebot.features.calendar.settings import CalendarSettings
from waddlebot.features.calendar.tools import TOOLS
from waddlebot.features.feature import Feature, Host, Job, PersonMerge, PortalPage, Route
from waddlebot.features.shared import (
    CALENDAR,
    CALENDAR_FEEDS,
    CALENDAR_REMINDERS,
    COMMUNITY,
    LABELS,
    module_switch,
)


async def setup(host: Host) -> None:
    settings = host.settings
    events = host.provide(CALENDAR, CalendarService(host.db, host.audit, host.need(LABELS)))
    feeds = host.provide(CALENDAR_FEEDS, FeedService(host.db, host.audit, events))
    host.provide(
        CALENDAR_REMINDERS,
        ReminderJob(host.db, host.ports.bus, switch=module_switch(host, "calendar")),
    )
    base_url = settings.public_base_url(settings.section(CalendarSettings).calendar_public_url)
    zone = host.need(COMMUNITY).timezone
    host.add_module(build_calendar_module(events, feeds, zone, base_url))


async def merge_attendees(session: AsyncSession, dialect: str, *, keep: int, drop: int) -> None:
    """Events the dropped user was going to move over; where both were going, the kept
    user's place on the list (and when they joined) stays."""
    kept = select(CalendarAttendee.event_id).where(CalendarAttendee.user_id == keep)
    await session.execute(
        delete(CalendarAttendee).where(
            CalendarAttendee.user_id == drop, CalendarAttendee.event_id.in_(kept)
        )
    )
    await session.execute(
        update(CalendarAttendee).where(CalendarAttendee.user_id == drop).values(user_id=keep)
    )


FEATURE = Feature(
    "calendar",
    setup,
    always_on=False,
    routes=(Route(api.router), Route(api.feed_router)),
    pages=(PortalPage("/calendar", "Calendar", portal.router),),
    jobs=(Job("calendar.reminders", 0, lambda host: host.need(CALENDAR_REMINDERS).fire_due()),),
    tools=TOOLS,
    person_columns=(CalendarEvent.creator_user_id,),
    person_merges=(PersonMerge((CalendarAttendee.user_id,), merge_attendees),),
)
