"""``/api/v1/calendar``: a community's events over HTTP, and its iCalendar feed.

Under ``/api/v1/calendar/communities/{community_id}`` the same roles apply as in chat:
members (any role) list events, add them (approved at once for moderators, service accounts
and people labelled ``event-autoapprove``; waiting otherwise), join, leave, cancel their own
and edit their own while it waits; moderators list the pending ones, approve, reject, edit and
cancel any; admins manage the feed's link.

``GET /api/v1/calendar/{community}/feed.ics?token=...`` is the feed itself. Calendar apps
cannot send headers, so it takes no API key: the secret token in the URL is the key. A wrong
token, a revoked one, or another community's all get the same 404.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response, status
from pydantic import BaseModel, Field

from waddlebot.core.errors import NotAllowed, NotFound
from waddlebot.features.calendar.events import (
    DEFAULT_DURATION,
    MAX_CAPACITY,
    EventChange,
    EventInfo,
    NewEvent,
    UnknownEvent,
)
from waddlebot.features.calendar.feed import feed_path
from waddlebot.features.calendar.parsing import MAX_DURATION
from waddlebot.features.calendar.recurrence import (
    MAX_INTERVAL,
    make_rule,
    split_rule,
)
from waddlebot.features.calendar.settings import CalendarSettings
from waddlebot.features.shared import FeatureServices, Services
from waddlebot.infra.db.records import record_of
from waddlebot.web.deps import (
    Admin,
    CommunityCaller,
    ForSomeone,
    Member,
    Moderator,
    person_named,
)
from waddlebot.web.numbers import Id
from waddlebot.web.pages import Page, PageOf
from waddlebot.web.records import FromRecord

router = APIRouter(prefix="/api/v1/calendar/communities/{community_id}", tags=["calendar"])
feed_router = APIRouter(prefix="/api/v1/calendar", tags=["calendar"])


class EventOut(FromRecord):
    id: int
    title: str
    description: str
    starts_at: datetime = Field(description="the first occurrence")
    next_start: datetime | None = Field(
        description="the occurrence on now or coming next; null when the event is over"
    )
    duration_minutes: int
    timezone: str = Field(description="the IANA zone recurrences keep their wall-clock time in")
    repeat: Literal["weekly", "monthly"] | None
    interval: int
    capacity: int | None
    status: Literal["pending", "approved", "rejected", "cancelled"]
    creator_user_id: int | None
    creator: str
    decided_by: str
    reason: str
    going: int
    attendees: list[str] | None = Field(
        default=None, description="who is going (one event only; null in lists)"
    )

    @classmethod
    def of(cls, event: EventInfo, now: datetime, attendees: list[str] | None = None) -> EventOut:
        repeat, interval = split_rule(event.rrule) if event.rrule else (None, 1)
        return cls.from_record(
            event,
            next_start=event.next_start(now),
            repeat=repeat,
            interval=interval,
            creator=event.creator_name,
            decided_by=event.decided_by_name,
            attendees=attendees,
        )


class EventIn(BaseModel):
    title: str = Field(min_length=1, max_length=100)
    starts_at: datetime = Field(
        description="with an offset, or without one: then in the community's time zone"
    )
    duration_minutes: int = Field(default=DEFAULT_DURATION, ge=1, le=MAX_DURATION)
    description: str = Field(default="", max_length=500)
    repeat: Literal["weekly", "monthly"] | None = None
    interval: int = Field(default=1, ge=1, le=MAX_INTERVAL)
    capacity: int | None = Field(default=None, ge=1, le=MAX_CAPACITY)
    entity_id: str | None = Field(
        default=None, description="the place reminders are announced in; none: no reminders"
    )


class EventChangeIn(BaseModel):
    """What to change; a field left out stays as it is."""

    title: str | None = Field(default=None, min_length=1, max_length=100)
    starts_at: datetime | None = Field(
        default=None, description="with an offset, or without one: then in the community's zone"
    )
    duration_minutes: int | None = Field(default=None, ge=1, le=MAX_DURATION)
    description: str | None = Field(default=None, max_length=500)
    repeat: Literal["weekly", "monthly", "none"] | None = Field(
        default=None, description="none: it stops repeating"
    )
    interval: int = Field(default=1, ge=1, le=MAX_INTERVAL, description="with repeat")
    capacity: int | None = Field(default=None, ge=0, le=MAX_CAPACITY, description="0: no limit")


class ReasonIn(BaseModel):
    reason: str = Field(default="", max_length=200)


class FeedStatus(BaseModel):
    active: bool
    made_at: datetime | None


class FeedLink(BaseModel):
    url: str = Field(description="shown this once; only a hash of the token is kept")
    token: str


async def _one(runtime: FeatureServices, caller: CommunityCaller, event_id: int) -> EventOut:
    event = await runtime.calendar.get(caller.community_id, event_id)
    if event is None:
        raise UnknownEvent(event_id)
    attendees = await runtime.calendar.attendees(caller.community_id, event_id)
    return EventOut.of(event, runtime.calendar.clock.now(), attendees)


# ----- events -------------------------------------------------------------------------------


@router.get("/events", response_model=Page[EventOut])
async def list_events(
    caller: Member,
    runtime: Services,
    paging: PageOf,
    status_: Literal["upcoming", "pending"] = Query(default="upcoming", alias="status"),
) -> Page[EventOut]:
    """Approved events on now or to come, soonest first (any role); ``status=pending``: the
    events waiting for approval (moderator role)."""
    now = runtime.calendar.clock.now()
    if status_ == "pending":
        if not caller.moderator:
            raise NotAllowed("pending events need the moderator role")
        pending = await runtime.calendar.pending(caller.community_id)
        return paging.page_of_all([EventOut.of(e, now) for e in pending])
    upcoming = await runtime.calendar.upcoming(caller.community_id, now)
    return paging.page_of_all([EventOut.of(event, now) for event, _ in upcoming])


@router.post("/events", response_model=EventOut, status_code=status.HTTP_201_CREATED)
async def add_event(caller: Member, runtime: Services, body: EventIn) -> EventOut:
    """Add an event (any role): approved at once for moderators, service accounts and people
    with the label ``event-autoapprove``, waiting for approval otherwise."""
    zone = await runtime.community.timezone(caller.community_id)
    starts_at = body.starts_at if body.starts_at.tzinfo else body.starts_at.replace(tzinfo=zone)
    rule = make_rule(body.repeat, body.interval) if body.repeat else ""
    user_id = caller.user_id
    name = "" if user_id is None else await person_named(runtime, user_id)
    wanted = record_of(NewEvent, body, starts_at=starts_at, timezone=zone.key, rrule=rule)
    event = await runtime.calendar.add(
        caller.community_id,
        wanted,
        creator_user_id=user_id,
        creator_name=name,
        level=caller.level,
        actor=caller.actor,
    )
    return EventOut.of(event, runtime.calendar.clock.now(), [])


@router.get("/events/{event_id}", response_model=EventOut)
async def get_event(caller: Member, runtime: Services, event_id: Id) -> EventOut:
    """One event, with who is going (any role)."""
    return await _one(runtime, caller, event_id)


@router.patch("/events/{event_id}", response_model=EventOut)
async def edit_event(
    caller: Member, runtime: Services, event_id: Id, body: EventChangeIn
) -> EventOut:
    """Change an event, every occurrence of it: moderators any pending or approved one; the
    person who added it, only while it waits for approval (403 otherwise). 409 when it is
    cancelled or rejected."""
    starts_at = body.starts_at
    if starts_at is not None and starts_at.tzinfo is None:
        starts_at = starts_at.replace(tzinfo=await runtime.community.timezone(caller.community_id))
    rule = None
    if body.repeat is not None:
        rule = "" if body.repeat == "none" else make_rule(body.repeat, body.interval)
    change = EventChange(
        title=body.title,
        description=body.description,
        starts_at=starts_at,
        duration_minutes=body.duration_minutes,
        rrule=rule,
        capacity=body.capacity,
    )
    await runtime.calendar.edit(
        caller.community_id,
        event_id,
        change,
        user_id=caller.user_id,
        level=caller.level,
        actor=caller.actor,
    )
    return await _one(runtime, caller, event_id)


@router.post("/events/{event_id}/approve", response_model=EventOut)
async def approve(
    caller: Moderator,
    runtime: Services,
    event_id: Id,
    body: ReasonIn | None = None,
) -> EventOut:
    """Approve a pending event (moderator role). 409 when it is not pending: of two
    moderators deciding at the same moment, exactly one does."""
    return await _decide(runtime, caller, event_id, True, body)


@router.post("/events/{event_id}/reject", response_model=EventOut)
async def reject(
    caller: Moderator,
    runtime: Services,
    event_id: Id,
    body: ReasonIn | None = None,
) -> EventOut:
    """Reject a pending event, with an optional reason (moderator role); 409 as above."""
    return await _decide(runtime, caller, event_id, False, body)


async def _decide(
    runtime: FeatureServices,
    caller: CommunityCaller,
    event_id: int,
    approve: bool,
    body: ReasonIn | None,
) -> EventOut:
    decider = "" if caller.user_id is None else await person_named(runtime, caller.user_id)
    await runtime.calendar.decide(
        caller.community_id,
        event_id,
        approve,
        reason=body.reason if body else "",
        decider=decider or caller.actor,
        actor=caller.actor,
    )
    return await _one(runtime, caller, event_id)


@router.post("/events/{event_id}/join", response_model=EventOut)
async def join(caller: Member, runtime: Services, event_id: Id, whom: ForSomeone) -> EventOut:
    """Go to an event (every occurrence of a recurring one): the caller, or ``user_id``
    (moderator role). Joining twice changes nothing; 409 when it is full."""
    await runtime.calendar.join(
        caller.community_id, event_id, whom.user_id, whom.name, actor=caller.actor
    )
    return await _one(runtime, caller, event_id)


@router.post("/events/{event_id}/leave", response_model=EventOut)
async def leave(caller: Member, runtime: Services, event_id: Id, whom: ForSomeone) -> EventOut:
    """Stop going to an event: the caller, or ``user_id`` (moderator role)."""
    await runtime.calendar.leave(caller.community_id, event_id, whom.user_id, actor=caller.actor)
    return await _one(runtime, caller, event_id)


@router.post("/events/{event_id}/cancel", response_model=EventOut)
async def cancel(caller: Member, runtime: Services, event_id: Id) -> EventOut:
    """Cancel an event, every occurrence of it: the person who added it, or a moderator.
    403 for others, 409 when it is cancelled or rejected already."""
    await runtime.calendar.cancel(
        caller.community_id,
        event_id,
        user_id=caller.user_id,
        level=caller.level,
        actor=caller.actor,
    )
    return await _one(runtime, caller, event_id)


# ----- the feed's link ----------------------------------------------------------------------


@router.get("/feed", response_model=FeedStatus)
async def feed_status(caller: Admin, runtime: Services) -> FeedStatus:
    """Whether the community's feed has a link, and since when (admin role). The link itself
    is shown only when it is made."""
    made = await runtime.calendar_feeds.made_at(caller.community_id)
    return FeedStatus(active=made is not None, made_at=made)


@router.post("/feed", response_model=FeedLink, status_code=status.HTTP_201_CREATED)
async def new_feed_link(caller: Admin, runtime: Services) -> FeedLink:
    """Make the feed's link, replacing the one before (which stops working). Admin role."""
    token = await runtime.calendar_feeds.rotate(caller.community_id, actor=caller.actor)
    settings = runtime.settings
    base = settings.public_base_url(settings.section(CalendarSettings).calendar_public_url)
    return FeedLink(url=base + feed_path(caller.community_id, token), token=token)


@router.delete("/feed", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_feed(caller: Admin, runtime: Services) -> Response:
    """Turn the feed off (admin role); 404 when it has none."""
    if not await runtime.calendar_feeds.revoke(caller.community_id, actor=caller.actor):
        raise NotFound("there is no calendar feed")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@feed_router.get(
    "/{community}/feed.ics",
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}}, 404: {"description": "wrong token"}},
)
async def feed(
    community: Annotated[Id, Path(description="the community's number")],
    runtime: Services,
    token: str = Query(min_length=1, max_length=200),
) -> Response:
    """The community's approved events as iCalendar (RFC 5545), for Google Calendar,
    Thunderbird and the like. No API key: the token is the key."""
    body = await runtime.calendar_feeds.render(community, token)
    if body is None:
        raise NotFound("no such calendar")
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={"Cache-Control": "private, max-age=300"},
    )


__all__ = ["feed_router", "router"]
