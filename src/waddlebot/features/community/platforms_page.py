"""The platforms page of the portal (admins): the community's places on each platform, adding
one (Twitch's and Slack's OAuth connect links, as ``/api/v1/twitch/.../connect`` and
``/api/v1/slack/.../install`` give them; for any platform the code of ``!community link``),
sending one away (``!community unlink``), and each platform's health: the collectors'
connections, Twitch's tokens and EventSub subscriptions, the collectors running here. Adding by
code and unlinking are the owner's, as the chat commands are."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from waddlebot.core.errors import WaddleError
from waddlebot.core.events import PLATFORMS
from waddlebot.features.community.service import PlaceInfo
from waddlebot.features.shared import FeatureServices, Services
from waddlebot.platforms import DISCORD, SLACK, TWITCH
from waddlebot.platforms.platform import running_collector
from waddlebot.platforms.slack import api as slack_api
from waddlebot.platforms.twitch import api as twitch_api
from waddlebot.platforms.twitch import status_report
from waddlebot.platforms.twitch.status_report import Snapshot
from waddlebot.portal import connections
from waddlebot.portal.deps import Caller, RoleTooLow
from waddlebot.portal.forms import Errors, form_of, from_htmx, sentence
from waddlebot.portal.rendering import render
from waddlebot.portal.security import HEADERS
from waddlebot.web.deps import CommunityCaller
from waddlebot.web.host import Running, api_host

TEMPLATES = Path(__file__).resolve().parent / "templates"
PAGE = "/c/{community_id}/platforms"
LINK_MINUTES = 10  # a !community link code's life (community/service.py's issue_code)
TITLES = {
    "twitch": "Twitch channels",
    "discord": "Discord servers",
    "slack": "Slack workspaces",
    "console": "Console",
}

router = APIRouter(include_in_schema=False)


def _owner(caller: CommunityCaller) -> None:
    if caller.role != "owner":
        raise RoleTooLow("owner")


async def _twitch_status(request: Request, places: list[PlaceInfo]) -> Snapshot | None:
    """The tokens and EventSub subscriptions of the community's Twitch channels, as ``waddlebot
    twitch status`` shows them: from the collector when it runs in this process, else as the
    leading collector last published them (None: none has lately)."""
    twitch = running_collector(request, TWITCH)
    if twitch is not None:
        found: Snapshot | None = await status_report.take(
            twitch.tokens, twitch.subscriptions, twitch.transport
        )
    else:
        found = await status_report.latest(api_host(request).ports.cache)
    return None if found is None else found.of(p.id for p in places)


def _collectors(request: Request) -> dict[str, str]:
    """Which collectors run in this process, and whether each leads (sends the replies)."""
    found: dict[str, str] = {}
    for package in (TWITCH, DISCORD, SLACK):
        collector = running_collector(request, package)
        if collector is not None:
            leading = getattr(collector, "leading", None)
            role = "" if leading is None else (" (leading)" if leading else " (standing by)")
            found[package.name] = f"one runs in this process{role}"
    return found


async def _page(
    request: Request,
    caller: CommunityCaller,
    runtime: FeatureServices,
    status_code: int = 200,
    **context: Any,
) -> Response:
    places = await runtime.community.places(caller.community_id)
    ports = api_host(request).ports
    live = await connections.health(ports.cache, ports.lease, [p.id for p in places])
    twitch_here = running_collector(request, TWITCH) is not None
    twitch = await _twitch_status(request, places)
    by_platform: dict[str, list[PlaceInfo]] = {}
    for place in places:
        by_platform.setdefault(place.platform, []).append(place)
    values: dict[str, Any] = {
        "by_platform": by_platform,
        "titles": TITLES,
        "owner": caller.role == "owner",
        "platform_names": PLATFORMS,
        "twitch_connect": twitch_here,  # a ticket for the collector of this process
        "slack_install": getattr(running_collector(request, SLACK), "connect", None) is not None,
        "twitch": twitch,
        "twitch_as_of": "" if twitch is None else connections.moment(twitch.at, time.time()),
        "twitch_here": twitch_here,
        "collectors": _collectors(request),
        "live": {h.platform: h for h in live},
        "errors": {},
        "notice": "",
        "code": None,
        "link_minutes": LINK_MINUTES,
    }
    values.update(context)
    return render(request, "platforms.html", values, status_code=status_code, directory=TEMPLATES)


@router.get(PAGE)
async def platforms(request: Request, caller: Caller, runtime: Services) -> Response:
    return await _page(request, caller, runtime)


def _go(request: Request, url: str, platform: str) -> Response:
    """To a connect link: htmx navigates there (a form's redirect to another site would meet
    the CSP's ``form-action 'self'``); without it, a page with the link to follow."""
    if from_htmx(request):
        return Response(status_code=204, headers={**HEADERS, "HX-Redirect": url})
    context = {"url": url, "platform": platform}
    return render(request, "connect_link.html", context, directory=TEMPLATES)


@router.post(f"{PAGE}/twitch/connect")
async def connect_twitch(request: Request, caller: Caller, runtime: Services) -> Response:
    twitch = running_collector(request, TWITCH)
    if twitch is None:
        errors = {"twitch": "Twitch is not configured in this process."}
        return await _page(request, caller, runtime, 400, errors=errors)
    out = await twitch_api.connect_channel(caller, twitch)
    return _go(request, out.url, "Twitch")


@router.post(f"{PAGE}/slack/install")
async def install_slack(
    request: Request, caller: Caller, runtime: Services, host: Running
) -> Response:
    collector = running_collector(request, SLACK)
    connect = getattr(collector, "connect", None)
    if connect is None:
        errors = {"slack": "Slack installs are not configured in this process."}
        return await _page(request, caller, runtime, 400, errors=errors)
    out = await slack_api.install_link(caller, connect, host)
    return _go(request, out.url, "Slack")


@router.post(f"{PAGE}/link")
async def link_code(request: Request, caller: Caller, runtime: Services) -> Response:
    """A ``!community link`` code: the owner of a place types ``!community join <code>`` there."""
    _owner(caller)
    platform = (await form_of(request)).get("platform", "")
    user_id = caller.principal.user_id
    errors: Errors = {}
    if platform not in PLATFORMS:
        errors["link-platform"] = "Choose the platform of the place to add."
    elif user_id is not None:
        try:
            code = await runtime.community.start_link(caller.community_id, platform, user_id)
        except WaddleError as exc:
            errors["link-platform"] = sentence(str(exc))
        else:
            return await _page(request, caller, runtime, code=(platform, code))
    return await _page(request, caller, runtime, 400, errors=errors)


@router.post(f"{PAGE}/unlink")
async def unlink(request: Request, caller: Caller, runtime: Services) -> Response:
    _owner(caller)
    place = (await form_of(request)).get("place", "")
    entity_id = await runtime.community.entity_of(caller.community_id, place)
    if entity_id is None:
        errors = {"places": f"{place} is not a place of this community."}
        return await _page(request, caller, runtime, 400, errors=errors)
    try:
        new_id = await runtime.community.unlink(caller.community_id, entity_id, caller.actor)
    except WaddleError as exc:
        return await _page(request, caller, runtime, 400, errors={"places": sentence(str(exc))})
    notice = f"{entity_id} has left this community; it is community #{new_id} of its own now."
    return await _page(request, caller, runtime, notice=notice)
