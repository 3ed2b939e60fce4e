"""A community's calendar as an iCalendar feed (RFC 5545) that Google Calendar, Thunderbird
and the like subscribe to.

Calendar apps cannot send headers, so the feed is not behind an API key but behind a secret
token in its URL: ``/api/v1/calendar/<community>/feed.ics?token=<token>``. The token is 32
random bytes (``secrets.token_urlsafe``); only its sha256 is stored, so it is shown once,
when it is made, and a forgotten link is replaced (``rotate``), which stops the old one.

Only approved events are in the feed. A recurring event is one VEVENT with its RRULE and its
start in its own time zone (with a VTIMEZONE), so apps repeat it at the same wall-clock time
across daylight saving changes, exactly as WaddleBot itself does.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event
from sqlalchemy import delete, select

from waddlebot.core.clock import Clock, SystemClock
from waddlebot.features.calendar.events import CalendarService, EventInfo
from waddlebot.features.calendar.models import CalendarFeed
from waddlebot.features.calendar.recurrence import split_rule
from waddlebot.features.identity.apikeys import hash_secret
from waddlebot.infra.audit import AuditLog
from waddlebot.infra.db.engine import Database
from waddlebot.infra.db.models import Community
from waddlebot.infra.directory import lock_community

TOKEN_BYTES = 32
PAST_DAYS = 365  # single events that ended longer ago are left out
REFRESH = timedelta(hours=1)  # how often apps are asked to fetch it again
PRODUCT = "-//WaddleBot//Community calendar//EN"


def feed_path(community_id: int, token: str) -> str:
    return f"/api/v1/calendar/{community_id}/feed.ics?token={token}"


class FeedService:
    def __init__(
        self,
        db: Database,
        audit: AuditLog,
        events: CalendarService,
        clock: Clock | None = None,
    ) -> None:
        self.db = db
        self.audit = audit
        self.events = events
        self.clock: Clock = clock or SystemClock()

    async def made_at(self, community_id: int) -> datetime | None:
        """When the community's current feed link was made; None when it has none."""
        async with self.db.session() as session:
            return await session.scalar(
                select(CalendarFeed.created_at).where(CalendarFeed.community_id == community_id)
            )

    async def rotate(self, community_id: int, *, actor: str = "") -> str:
        """A new secret token for the feed; an earlier one stops working. Returns the token
        (shown once: only its hash is kept)."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        async with self.db.session() as session:
            await lock_community(session, community_id)
            existing = await session.get(CalendarFeed, community_id)
            if existing is None:
                session.add(
                    CalendarFeed(
                        community_id=community_id,
                        token_hash=hash_secret(token),
                        created_by=actor[:256],
                        created_at=self.clock.now(),
                    )
                )
            else:
                existing.token_hash = hash_secret(token)
                existing.created_by = actor[:256]
                existing.created_at = self.clock.now()
        self.audit.record(
            "event.feed.rotate",
            decision="change",
            actor=actor,
            target="calendar-feed",
            community_id=community_id,
            detail={"replaced": existing is not None},
        )
        return token

    async def revoke(self, community_id: int, *, actor: str = "") -> bool:
        """Turn the feed off; False when there was none."""
        async with self.db.session() as session:
            result = await session.execute(
                delete(CalendarFeed).where(CalendarFeed.community_id == community_id)
            )
            removed = bool(getattr(result, "rowcount", 0))
        if removed:
            self.audit.record(
                "event.feed.revoke",
                decision="change",
                actor=actor,
                target="calendar-feed",
                community_id=community_id,
            )
        return removed

    async def render(self, community_id: int, token: str) -> bytes | None:
        """The feed as iCalendar text; None when ``token`` is not this community's."""
        async with self.db.session() as session:
            row = (
                await session.execute(
                    select(CalendarFeed.token_hash, Community.name, Community.settings)
                    .join(Community, Community.id == CalendarFeed.community_id)
                    .where(CalendarFeed.community_id == community_id)
                )
            ).first()
        if row is None or not hmac.compare_digest(row[0], hash_secret(token)):
            return None
        now = self.clock.now()
        events = await self.events.approved(community_id, since=now - timedelta(days=PAST_DAYS))
        return build_calendar(row[1], events, now).to_ical()


def build_calendar(name: str, events: list[EventInfo], now: datetime) -> Calendar:
    """The calendar ``name`` with ``events`` (their VTIMEZONEs cover ten years ahead)."""
    calendar = Calendar()
    calendar.add("prodid", PRODUCT)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    calendar.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", REFRESH)
    for event in sorted(events, key=lambda e: (e.starts_at, e.id)):
        calendar.add_component(_vevent(event))
    if events:
        first = min(e.starts_at for e in events).date() - timedelta(days=1)
        calendar.add_missing_timezones(
            first_date=first, last_date=date(max(now.year, first.year) + 10, 1, 1)
        )
    return calendar


def _vevent(event: EventInfo) -> Event:
    zone = ZoneInfo(event.timezone)
    shown_in = zone if event.timezone != "UTC" else UTC  # UTC is written with a Z
    start = event.starts_at.astimezone(shown_in)
    end = (event.starts_at + timedelta(minutes=event.duration_minutes)).astimezone(shown_in)
    vevent = Event()
    vevent.add("uid", f"event-{event.id}-community-{event.community_id}@waddlebot")
    vevent.add("dtstamp", event.updated_at.astimezone(UTC))
    vevent.add("created", event.created_at.astimezone(UTC))
    vevent.add("last-modified", event.updated_at.astimezone(UTC))
    vevent.add("dtstart", start)
    vevent.add("dtend", end)
    vevent.add("summary", event.title)
    if event.description:
        vevent.add("description", event.description)
    vevent.add("status", "CONFIRMED")
    if event.rrule:
        frequency, interval = split_rule(event.rrule)
        rule: dict[str, object] = {"freq": frequency.upper()}
        if interval > 1:
            rule["interval"] = interval
        vevent.add("rrule", rule)
    return vevent


__all__ = ["FeedService", "build_calendar", "feed_path"]
