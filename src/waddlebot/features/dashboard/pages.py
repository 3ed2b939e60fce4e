"""The dashboard page: messages, commands and command errors per minute over the last hour
(a chart kept current over Server-Sent Events, and the same figures as a table), the last
commands the audit log holds (those of moderator level and up, and every refusal), the last
commands that came to an error, the
community's places with when each was last heard from, one line on the health of the bot's
connection to each of its platforms, and the accounts connected to it by OAuth with their
tokens' state.

The figures come from the cache every process shares (infra/activity.py), so any portal
process serves any page. A stream ends after :data:`STREAM_SECONDS`; the browser's
``EventSource`` opens a new one at once, which checks the session and role again."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from waddlebot.features.dashboard.connections import connections
from waddlebot.features.dashboard.settings import DashboardSettings
from waddlebot.features.shared import DIRECTORY
from waddlebot.infra import activity
from waddlebot.infra.audit import AuditFilter
from waddlebot.infra.ports import Cache
from waddlebot.portal import connections as portal_connections
from waddlebot.portal.deps import InCommunity
from waddlebot.portal.rendering import render
from waddlebot.portal.security import HEADERS
from waddlebot.web.host import Running

TEMPLATES = Path(__file__).resolve().parent / "templates"
STREAM_SECONDS = 600  # then the browser reconnects, and is checked again
KEEPALIVE_SECONDS = 15  # a comment line when nothing changed, so a closed tab is noticed
LAST_COMMANDS = 10
TABLE_MINUTES = 10  # the table shows the last few minutes; the chart the whole hour

router = APIRouter(include_in_schema=False)


def _clock(at: int | None) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC") if at else "not lately"


def _figures(minutes: list[activity.Minute]) -> dict[str, Any]:
    """What the page shows of the hour, and what each update sends the chart."""
    return {
        "at": [m.at for m in minutes],
        "messages": [m.messages for m in minutes],
        "commands": [m.commands for m in minutes],
        "errors": [m.errors for m in minutes],
        "totals": {
            "messages": sum(m.messages for m in minutes),
            "commands": sum(m.commands for m in minutes),
            "errors": sum(m.errors for m in minutes),
        },
    }


@router.get("/c/{community_id}/dashboard")
async def dashboard(request: Request, community: InCommunity, host: Running) -> Response:
    cache = host.ports.cache
    minutes = await activity.last_hour(cache, community.id)
    places = await host.need(DIRECTORY).entity_ids(community.id)
    seen = await activity.last_seen(cache, places)
    accounts = await connections(host.db, community.id)
    live = await portal_connections.health(cache, host.ports.lease, places)
    commands = await host.audit.search(
        community.id, AuditFilter(action="command."), limit=LAST_COMMANDS
    )
    failures = await activity.last_failures(cache, community.id)
    context = {
        "figures": _figures(minutes),
        "recent": [
            (datetime.fromtimestamp(m.at, UTC).strftime("%H:%M"), m)
            for m in reversed(minutes[-TABLE_MINUTES:])
        ],
        "places": [(e.partition(":")[0], e, _clock(seen[e])) for e in places],
        "commands": commands,
        "failures": [(datetime.fromtimestamp(f.at, UTC), f) for f in failures],
        "accounts": accounts,
        "health": live,
        "live_url": f"/c/{community.id}/dashboard/live",
    }
    return render(request, "dashboard.html", context, directory=TEMPLATES)


@router.get("/c/{community_id}/dashboard/live")
async def live(request: Request, community: InCommunity, host: Running) -> Response:
    """The hour's figures as Server-Sent Events: at once, then whenever they change."""
    every = host.settings.section(DashboardSettings).portal_live_seconds
    stream = _updates(request, host.ports.cache, community.id, every)
    headers = {**HEADERS, "X-Accel-Buffering": "no"}  # a proxy must not hold events back
    return StreamingResponse(stream, media_type="text/event-stream", headers=headers)


async def _updates(
    request: Request, cache: Cache, community_id: int, every: float
) -> AsyncIterator[bytes]:
    end = time.monotonic() + STREAM_SECONDS
    sent = b""
    quiet = 0.0
    yield b"retry: 2000\n\n"
    while time.monotonic() < end and not await request.is_disconnected():
        data = orjson.dumps(_figures(await activity.last_hour(cache, community_id)))
        if data != sent:
            sent, quiet = data, 0.0
            yield b"event: minutes\ndata: " + data + b"\n\n"
        elif quiet >= KEEPALIVE_SECONDS:
            quiet = 0.0
            yield b": still here\n\n"
        await asyncio.sleep(every)
        quiet += every
