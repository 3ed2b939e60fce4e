"""The calendar feature's tools (core/tools.py): the events to come, as ``!events`` and the
iCalendar feed show them, and adding one by the rules of chat and the API (anyone adds; a
moderator's event, or one by someone labelled ``event-autoapprove``, is approved at once, any
other waits for a moderator)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from waddlebot.core.tools import Caller, Tool, ToolRefused
from waddlebot.features.calendar.events import (
    DEFAULT_DURATION,
    MAX_CAPACITY,
    MAX_DESCRIPTION,
    MAX_TITLE,
    EventInfo,
    NewEvent,
)
from waddlebot.features.calendar.parsing import MAX_DURATION
from waddlebot.features.feature import Provider
from waddlebot.features.shared import CALENDAR, COMMUNITY
from waddlebot.web.deps import person_named

if TYPE_CHECKING:
    from waddlebot.infra.host import ProcessHost

MAX_SHOWN = 20  # events one answer lists at most


def event_json(event: EventInfo, start: datetime) -> dict[str, Any]:
    """One occurrence: its start and end in the event's time zone, with the offset."""
    start = start.astimezone(event.zone)
    shown: dict[str, Any] = {
        "id": event.id,
        "title": event.title,
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(minutes=event.duration_minutes)).isoformat(),
        "timezone": event.timezone,
        "going": event.going,
    }
    if event.description:
        shown["description"] = event.description
    if event.rrule:
        shown["repeats"] = event.rrule
    if event.capacity is not None:
        shown["capacity"] = event.capacity
    return shown


async def upcoming(host: Provider, caller: Caller, arguments: Mapping[str, Any]) -> Any:
    calendar = host.need(CALENDAR)
    now = calendar.clock.now()
    until = now + timedelta(days=int(arguments.get("days", 30)))
    limit = int(arguments.get("limit", 5))
    found = await calendar.upcoming(caller.community_id, now)
    return {
        "events": [event_json(event, start) for event, start in found if start <= until][:limit]
    }


async def _add(host: Provider, caller: Caller, arguments: Mapping[str, Any]) -> Any:
    try:
        starts_at = datetime.fromisoformat(str(arguments["starts_at"]))
    except ValueError as exc:
        raise ToolRefused("starts_at: give an ISO 8601 time, e.g. 2026-12-24T20:00") from exc
    zone = await host.need(COMMUNITY).timezone(caller.community_id)
    if starts_at.tzinfo is None:
        starts_at = starts_at.replace(tzinfo=zone)
    wanted = NewEvent(
        title=str(arguments["title"]),
        starts_at=starts_at,
        timezone=zone.key,
        duration_minutes=int(arguments.get("duration_minutes", DEFAULT_DURATION)),
        capacity=arguments.get("capacity"),
        description=str(arguments.get("description", "")),
    )
    name = ""
    if caller.user_id is not None:  # named as the API names them; tools run on the process
        name = await person_named(cast("ProcessHost", host), caller.user_id)
    event = await host.need(CALENDAR).add(
        caller.community_id,
        wanted,
        creator_user_id=caller.user_id,
        creator_name=name,
        level=caller.level,
        actor=caller.actor,
    )
    return {**event_json(event, event.starts_at), "status": event.status}


TOOLS = (
    Tool(
        "calendar_upcoming",
        "The community's next events (approved ones, soonest first): title, start and end "
        "with their time zone offset, description, how many are going.",
        {
            "type": "object",
            "properties": {
                "days": {"type": "integer", "minimum": 1, "maximum": 366, "default": 30},
                "limit": {"type": "integer", "minimum": 1, "maximum": MAX_SHOWN, "default": 5},
            },
            "additionalProperties": False,
        },
        upcoming,
    ),
    Tool(
        "calendar_event_add",
        "Add an event to the community's calendar. A moderator's is approved at once; "
        "anyone else's waits for a moderator's approval (status: pending).",
        {
            "type": "object",
            "properties": {
                "title": {"type": "string", "minLength": 1, "maxLength": MAX_TITLE},
                "starts_at": {
                    "type": "string",
                    "description": "ISO 8601; without an offset: in the community's time zone",
                },
                "duration_minutes": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": MAX_DURATION,
                    "default": DEFAULT_DURATION,
                },
                "description": {"type": "string", "maxLength": MAX_DESCRIPTION},
                "capacity": {"type": "integer", "minimum": 1, "maximum": MAX_CAPACITY},
            },
            "required": ["title", "starts_at"],
            "additionalProperties": False,
        },
        _add,
        writes=True,
    ),
)
