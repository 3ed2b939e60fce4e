"""The calendar page of the portal: the approval queue (events asked for in chat, approved or
rejected with one click), the events to come (added, with recurrence, and cancelled) and, for
admins, the iCalendar feed's link. Every change goes through the endpoints of
``/api/v1/calendar``, so with their roles and audit entries."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from waddlebot.core.errors import WaddleError
from waddlebot.features.calendar import api
from waddlebot.features.calendar.events import EventInfo
from waddlebot.features.calendar.recurrence import describe, split_rule
from waddlebot.features.shared import FeatureServices, Services
from waddlebot.portal.deps import Caller, RoleTooLow
from waddlebot.portal.forms import Errors, field_errors, form_of, from_htmx, said_in_place, sentence
from waddlebot.portal.rendering import render
from waddlebot.web.access import ROLE_RANK
from waddlebot.web.deps import CommunityCaller
from waddlebot.web.numbers import Id

TEMPLATES = Path(__file__).resolve().parent / "templates"
PAGE = "/c/{community_id}/calendar"
LOCAL_INPUT = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> holds
EVENT_FIELDS = ("title", "starts_at", "duration_minutes", "description", "repeat", "interval")

router = APIRouter(include_in_schema=False)


def _when(moment: datetime | None, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%a %Y-%m-%d %H:%M") if moment else ""


async def _context(caller: CommunityCaller, runtime: FeatureServices) -> dict[str, Any]:
    """What the queue and the list of events show, times in the community's zone."""
    zone = await runtime.community.timezone(caller.community_id)
    calendar = runtime.calendar
    pending = await calendar.pending(caller.community_id)
    upcoming = await calendar.upcoming(caller.community_id)
    return {
        "zone": zone.key,
        "pending": [
            (event, _when(event.starts_at, zone), describe(event.rrule)) for event in pending
        ],
        "upcoming": [
            (event, _when(start, zone), describe(event.rrule)) for event, start in upcoming
        ],
    }


async def _page(
    request: Request,
    caller: CommunityCaller,
    runtime: FeatureServices,
    *,
    errors: Errors | None = None,
    values: dict[str, str] | None = None,
    feed_link: str = "",
    status_code: int = 200,
) -> Response:
    admin = ROLE_RANK[caller.role] >= ROLE_RANK["admin"]
    context = await _context(caller, runtime)
    context.update(
        errors=errors or {},
        values=values or {},
        admin=admin,
        feed_made=await runtime.calendar_feeds.made_at(caller.community_id) if admin else None,
        feed_link=feed_link,
    )
    return render(request, "calendar.html", context, status_code=status_code, directory=TEMPLATES)


@router.get(PAGE)
async def calendar_page(request: Request, caller: Caller, runtime: Services) -> Response:
    return await _page(request, caller, runtime)


@router.post(PAGE + "/events")
async def add_event(request: Request, caller: Caller, runtime: Services) -> Response:
    """Add an event; a moderator's is approved at once (as in chat and over the API)."""
    form = await form_of(request)
    values = {f"event-{key}": form.get(key, "") for key in (*EVENT_FIELDS, "capacity")}
    given: dict[str, Any] = {key: form[key] for key in EVENT_FIELDS if form.get(key)}
    given["title"] = form.get("title", "")
    given["starts_at"] = form.get("starts_at", "")
    given["capacity"] = form.get("capacity") or None
    try:
        body = api.EventIn.model_validate(given)
        await api.add_event(caller, runtime, body)
    except ValidationError as exc:
        errors = field_errors(exc, "event")
        return await _page(request, caller, runtime, errors=errors, values=values, status_code=400)
    except WaddleError as exc:
        errors = {"event-form": sentence(str(exc))}
        status_code = exc.status
        return await _page(
            request, caller, runtime, errors=errors, values=values, status_code=status_code
        )
    return RedirectResponse(f"/c/{caller.community_id}/calendar#upcoming", 303)


def _form_values(event: EventInfo, zone: ZoneInfo) -> dict[str, str]:
    """The event as its edit form shows it."""
    repeat, interval = split_rule(event.rrule) if event.rrule else ("", 1)
    return {
        "event-title": event.title,
        "event-starts_at": event.starts_at.astimezone(zone).strftime(LOCAL_INPUT),
        "event-duration_minutes": str(event.duration_minutes),
        "event-description": event.description,
        "event-repeat": repeat,
        "event-interval": str(interval),
        "event-capacity": str(event.capacity or ""),
    }


async def _edit_page(
    request: Request,
    caller: CommunityCaller,
    runtime: FeatureServices,
    event_id: int,
    values: dict[str, str] | None = None,
    errors: Errors | None = None,
    status_code: int = 200,
) -> Response:
    event = await runtime.calendar.get(caller.community_id, event_id)
    if event is None or event.status not in ("pending", "approved"):
        missing = {"title": "Not found", "message": "There is no such event to edit."}
        return render(request, "error.html", missing, status_code=404)
    zone = await runtime.community.timezone(caller.community_id)
    context: dict[str, Any] = {
        "event": event,
        "zone": zone.key,
        "values": values or _form_values(event, zone),
        "errors": errors or {},
    }
    return render(request, "event_edit.html", context, status_code=status_code, directory=TEMPLATES)


@router.get(PAGE + "/events/{event_id}/edit")
async def edit_form(request: Request, event_id: Id, caller: Caller, runtime: Services) -> Response:
    return await _edit_page(request, caller, runtime, event_id)


@router.post(PAGE + "/events/{event_id}")
async def edit_event(request: Request, event_id: Id, caller: Caller, runtime: Services) -> Response:
    """Change an event (every occurrence); the start only when it was changed in the form (a
    recurring event's first start may have passed)."""
    event = await runtime.calendar.get(caller.community_id, event_id)
    if event is None:
        return await _edit_page(request, caller, runtime, event_id)
    zone = await runtime.community.timezone(caller.community_id)
    form = await form_of(request)
    values = {f"event-{key}": form.get(key, "") for key in (*EVENT_FIELDS, "capacity")}
    given: dict[str, Any] = {key: form.get(key, "") for key in EVENT_FIELDS}
    if given["starts_at"] == _form_values(event, zone)["event-starts_at"]:
        del given["starts_at"]
    given["repeat"] = given["repeat"] or "none"
    given["capacity"] = form.get("capacity") or 0
    for key in ("duration_minutes", "interval"):
        if not given[key]:
            del given[key]
    try:
        body = api.EventChangeIn.model_validate(given)
        await api.edit_event(caller, runtime, event_id, body)
    except ValidationError as exc:
        errors = field_errors(exc, "event")
        return await _edit_page(request, caller, runtime, event_id, values, errors, 400)
    except WaddleError as exc:
        errors = {"event-form": sentence(str(exc))}
        return await _edit_page(request, caller, runtime, event_id, values, errors, exc.status)
    return RedirectResponse(f"/c/{caller.community_id}/calendar#upcoming", 303)


@router.post(PAGE + "/events/{event_id}/approve")
async def approve(request: Request, event_id: Id, caller: Caller, runtime: Services) -> Response:
    """Approve a pending event: with htmx its row goes, and the count and the events to come
    follow."""
    return await _decided(request, caller, runtime, api.approve(caller, runtime, event_id))


@router.post(PAGE + "/events/{event_id}/reject")
async def reject(request: Request, event_id: Id, caller: Caller, runtime: Services) -> Response:
    return await _decided(request, caller, runtime, api.reject(caller, runtime, event_id))


@router.post(PAGE + "/events/{event_id}/cancel")
async def cancel(request: Request, event_id: Id, caller: Caller, runtime: Services) -> Response:
    """Cancel an event, every occurrence (the API lets moderators cancel any)."""
    return await _decided(request, caller, runtime, api.cancel(caller, runtime, event_id))


async def _decided(
    request: Request, caller: CommunityCaller, runtime: FeatureServices, change: Awaitable[Any]
) -> Response:
    try:
        await change
    except WaddleError as exc:
        if from_htmx(request):
            return said_in_place("calendar-status", str(exc))
        errors = {"calendar": sentence(str(exc))}
        return await _page(request, caller, runtime, errors=errors, status_code=exc.status)
    if not from_htmx(request):
        return RedirectResponse(f"/c/{caller.community_id}/calendar", 303)
    context = await _context(caller, runtime)
    return render(request, "decided.html", context, directory=TEMPLATES)


def _admin(caller: CommunityCaller) -> None:
    """The feed's link is the admins' (as ``/api/v1/calendar/.../feed``)."""
    if ROLE_RANK[caller.role] < ROLE_RANK["admin"]:
        raise RoleTooLow("admin")


@router.post(PAGE + "/feed")
async def new_feed_link(request: Request, caller: Caller, runtime: Services) -> Response:
    """Make the feed's link (the one before stops working); shown on this answer only."""
    _admin(caller)
    link = await api.new_feed_link(caller, runtime)
    return await _page(request, caller, runtime, feed_link=link.url)


@router.post(PAGE + "/feed/delete")
async def revoke_feed(request: Request, caller: Caller, runtime: Services) -> Response:
    _admin(caller)
    await runtime.calendar_feeds.revoke(caller.community_id, actor=caller.actor)
    return RedirectResponse(f"/c/{caller.community_id}/calendar#feed", 303)
