"""The timers feature's portal page: a community's timers (list, search as one types, add,
edit, switch on or off, remove) for moderators and up, as ``!timer`` in chat. The page reads the
form and calls the same :class:`~waddlebot.features.timers.service.TimerService` methods."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from waddlebot.core.errors import Taken
from waddlebot.core.language import read_minutes
from waddlebot.features.shared import Services
from waddlebot.features.timers.service import (
    MAX_INTERVAL,
    MAX_MESSAGE,
    MAX_MIN_LINES,
    MIN_INTERVAL,
    VARIABLES,
    TimerError,
    TimerInfo,
)
from waddlebot.portal.deps import InCommunity, SignedIn
from waddlebot.portal.rendering import render

TEMPLATES = Path(__file__).resolve().parent / "templates"

router = APIRouter(include_in_schema=False)
Text = Annotated[str, Form(max_length=1024)]


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def _matching(timers: list[TimerInfo], query: str) -> list[TimerInfo]:
    words = query.lower().split()
    return [
        timer
        for timer in timers
        if all(word in timer.name or word in timer.message.lower() for word in words)
    ]


def _page(request: Request, template: str, status_code: int = 200, **context: Any) -> Response:
    values = {
        "min_interval": MIN_INTERVAL,
        "max_interval": MAX_INTERVAL,
        "max_message": MAX_MESSAGE,
        "max_lines": MAX_MIN_LINES,
        "variables": sorted(VARIABLES),
        **context,
    }
    return render(request, template, values, status_code=status_code, directory=TEMPLATES)


async def _list_page(
    request: Request,
    runtime: Services,
    community_id: int,
    status_code: int = 200,
    **context: Any,
) -> Response:
    values: dict[str, Any] = {
        "timers": await runtime.timers.list(community_id),
        "places": await runtime.directory.entity_ids(community_id),
        "query": "",
        "errors": {},
        "form": {},
    }
    values.update(context)
    return _page(request, "timers.html", status_code, **values)


@router.get("/c/{community_id}/timers")
async def timers(
    request: Request, community: InCommunity, runtime: Services, q: str = ""
) -> Response:
    listed = _matching(await runtime.timers.list(community.id), q[:100])
    return await _list_page(request, runtime, community.id, timers=listed, query=q[:100])


@router.get("/c/{community_id}/timers/rows")
async def timer_rows(
    request: Request, community: InCommunity, runtime: Services, q: str = ""
) -> Response:
    listed = _matching(await runtime.timers.list(community.id), q[:100])
    return _page(request, "timer_rows.html", timers=listed, query=q[:100])


def _error_field(exc: TimerError) -> str:
    text = str(exc)
    if isinstance(exc, Taken) or "timer name" in text or "timers" in text:
        return "name"
    if "minutes" in text:
        return "minutes"
    if "lines" in text:
        return "lines"
    return "message"


def _read_definition(form: dict[str, str], errors: dict[str, str]) -> tuple[int, int]:
    """The minutes and chat lines of the add or edit form; a value that cannot be read is
    its field's error (the service checks the ranges)."""
    interval = read_minutes(form["minutes"].strip())
    if interval is None:
        errors["minutes"] = "Give the minutes between posts, e.g. 15 (or 1h)."
    count = form["lines"].strip() or "0"
    if not count.isdigit():
        errors["lines"] = "Give a whole number of chat lines, 0 for any."
    return interval or 0, int(count) if count.isdigit() else 0


@router.post("/c/{community_id}/timers")
async def add_timer(
    request: Request,
    community: InCommunity,
    person: SignedIn,
    runtime: Services,
    name: Text = "",
    place: Text = "",
    minutes: Text = "",
    lines: Text = "0",
    message: Text = "",
) -> Response:
    form = {"name": name, "place": place, "minutes": minutes, "lines": lines, "message": message}
    errors: dict[str, str] = {}
    interval, count = _read_definition(form, errors)
    if place not in await runtime.directory.entity_ids(community.id):
        errors["place"] = "Choose where the timer posts."
    if not errors:
        try:
            info = await runtime.timers.add(
                community.id,
                place,
                name,
                interval,
                message,
                min_lines=count,
                actor=person.actor,
            )
        except TimerError as exc:
            errors[_error_field(exc)] = _sentence(str(exc))
        else:
            notice = f"Added the timer {info.name}."
            return await _list_page(request, runtime, community.id, notice=notice)
    return await _list_page(request, runtime, community.id, 400, errors=errors, form=form)


@router.post("/c/{community_id}/timers/switch")
async def switch_timer(
    request: Request,
    community: InCommunity,
    person: SignedIn,
    runtime: Services,
    name: Text = "",
    on: Text = "",
) -> Response:
    switch = runtime.timers.enable if on == "on" else runtime.timers.disable
    try:
        await switch(community.id, name, actor=person.actor)
    except TimerError as exc:
        return await _list_page(request, runtime, community.id, 404, notice=_sentence(str(exc)))
    if request.headers.get("hx-request"):  # the row, switched
        info = await runtime.timers.get(community.id, name)
        return _page(request, "timer_rows.html", timers=[info] if info else [], query="")
    done = "on" if on == "on" else "off"
    notice = f"Switched the timer {name.strip().lower()} {done}."
    return await _list_page(request, runtime, community.id, notice=notice)


@router.post("/c/{community_id}/timers/remove")
async def remove_timer(
    request: Request, community: InCommunity, person: SignedIn, runtime: Services, name: Text = ""
) -> Response:
    try:
        await runtime.timers.remove(community.id, name, actor=person.actor)
    except TimerError as exc:
        notice, removed = _sentence(str(exc)), False
    else:
        notice, removed = f"Removed the timer {name.strip().lower()}.", True
    if request.headers.get("hx-request"):
        return _page(request, "timer_removed.html", notice=notice)
    return await _list_page(request, runtime, community.id, 200 if removed else 404, notice=notice)


def _edit_page(request: Request, status_code: int = 200, **context: Any) -> Response:
    values: dict[str, Any] = {"errors": {}}
    values.update(context)
    return _page(request, "timer_edit.html", status_code, **values)


async def _no_such(request: Request, runtime: Services, community_id: int, name: str) -> Response:
    notice = f"There is no timer {name.strip().lower()[:40]} here."
    return await _list_page(request, runtime, community_id, 404, notice=notice)


@router.get("/c/{community_id}/timers/edit")
async def edit_form(
    request: Request, community: InCommunity, runtime: Services, name: str = ""
) -> Response:
    info = await runtime.timers.get(community.id, name)
    if info is None:
        return await _no_such(request, runtime, community.id, name)
    form = {
        "minutes": str(info.interval_minutes),
        "lines": str(info.min_lines),
        "message": info.message,
    }
    return _edit_page(request, timer=info, form=form)


@router.post("/c/{community_id}/timers/edit")
async def edit_timer(
    request: Request,
    community: InCommunity,
    person: SignedIn,
    runtime: Services,
    name: Text = "",
    minutes: Text = "",
    lines: Text = "0",
    message: Text = "",
) -> Response:
    info = await runtime.timers.get(community.id, name)
    if info is None:
        return await _no_such(request, runtime, community.id, name)
    form = {"minutes": minutes, "lines": lines, "message": message}
    errors: dict[str, str] = {}
    interval, count = _read_definition(form, errors)
    if not errors:
        try:
            info = await runtime.timers.edit(
                community.id, name, interval, message, min_lines=count, actor=person.actor
            )
        except TimerError as exc:
            errors[_error_field(exc)] = _sentence(str(exc))
        else:
            notice = f"Saved the timer {info.name}."
            return await _list_page(request, runtime, community.id, notice=notice)
    return _edit_page(request, 400, timer=info, form=form, errors=errors)
