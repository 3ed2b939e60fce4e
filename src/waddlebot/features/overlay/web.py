"""The overlay pages OBS opens, their static files, and the WebSocket that feeds them.

``GET /overlay/<token>/<kind>`` is one static HTML page for every kind; the script reads the
kind and the options from its own URL and connects to ``.../<kind>/ws``;
``GET /overlay/<token>/uploads/<media id>`` is a file the community uploaded (an alert's
sound or image). Nothing on these
pages is built from user text on the server, and the script only ever uses ``textContent``;
the Content Security Policy allows no inline script or style and no other origin but
``https:`` images and media (the uploads are the page's own origin).

The media page plays YouTube songs with YouTube's IFrame Player API: for that page kind
alone the policy also lets scripts and frames come from ``overlay_youtube_player_url``, which
the page is told in its ``data-youtube`` attribute (the script is loaded only once a YouTube
song is to play).

Page → server: anything (``{"type": "pong"}``) counts as a heartbeat answer, up to
``MAX_INBOUND`` bytes. A media page may also send its player's reports
(:class:`~waddlebot.core.overlay.PlayerReport`: a song's progress, end or error), at most
``REPORTS_PER_WINDOW`` in ``REPORT_WINDOW`` seconds; they are checked and handed to the music
feature with the community the page's token belongs to, which acts only on that community's
song playing. Anything else a page sends is ignored. Server → page: ``hello``, ``state``,
``update`` and ``ping`` messages, see :mod:`waddlebot.features.overlay.hub`.
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
import time
from collections import deque
from functools import cache
from importlib import resources

import orjson
import structlog
from fastapi import APIRouter, Request, WebSocket
from fastapi.responses import PlainTextResponse, Response
from pydantic import ValidationError

from waddlebot.core.errors import NotFound
from waddlebot.core.overlay import PAGES, PlayerReport, PlayerReports
from waddlebot.features.identity.settings import IdentitySettings
from waddlebot.features.overlay.hub import GOING_AWAY, TRY_AGAIN_LATER, OverlayClient
from waddlebot.features.overlay.settings import OverlaySettings
from waddlebot.features.shared import PLAYER_REPORTS, FeatureServices
from waddlebot.infra.objects import ObjectStoreError
from waddlebot.portal.security import origin_of

router = APIRouter(include_in_schema=False)

log = structlog.get_logger("waddlebot.features.overlay")

MAX_INBOUND = 1024
REPORTS_PER_WINDOW = 20  # a player reports every few seconds; more is not a player
REPORT_WINDOW = 10.0


def content_security_policy(youtube: str = "", portal: str = "") -> str:
    """The pages' policy; ``youtube`` (the media page's) is the one more origin its scripts
    and frames may come from; ``portal`` the portal's origin, whose overlays page previews
    the pages in frames (besides this origin's own pages: the embedded mode's portal)."""
    scripts = f"'self' {youtube}" if youtube else "'self'"
    frames = f"https://clips.twitch.tv {youtube}" if youtube else "https://clips.twitch.tv"
    ancestors = f"'self' {portal}" if portal else "'self'"
    return (
        f"default-src 'none'; script-src {scripts}; style-src 'self'; "
        "img-src 'self' data: https:; media-src 'self' https:; "
        f"frame-src {frames}; connect-src 'self'; base-uri 'none'; form-action 'none'; "
        f"frame-ancestors {ancestors}"
    )


CONTENT_SECURITY_POLICY = content_security_policy()
_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # the token is in the page's URL
}
_STATIC = {
    "overlay.js": "text/javascript; charset=utf-8",
    "overlay.css": "text/css; charset=utf-8",
}
IMMUTABLE = "public, max-age=31536000, immutable"
UNKNOWN = "This overlay URL is not (or no longer) valid. Ask for the current one: !overlay url\n"
_TOKEN_IN_PATH = re.compile(r"/overlay/(?!static/)[^/\s\"?]+")


class HideTokens(logging.Filter):
    """uvicorn logs each WebSocket's path ("WebSocket /overlay/<token>/alerts/ws" [accepted]):
    the token is a secret, so it is masked before any handler sees the line."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "/overlay/" in message:
            record.msg, record.args = _TOKEN_IN_PATH.sub("/overlay/[redacted]", message), ()
        return True


def hide_tokens_in_logs() -> None:
    for name in ("uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, HideTokens) for f in logger.filters):
            logger.addFilter(HideTokens())


@cache
def _asset(name: str) -> bytes:
    return resources.files("waddlebot.features.overlay").joinpath("static", name).read_bytes()


@router.get("/overlay/static/{name}")
async def static_file(name: str) -> Response:
    media_type = _STATIC.get(name)
    if media_type is None:
        return PlainTextResponse("not found\n", 404, headers=_HEADERS)
    return Response(
        _asset(name), media_type=media_type, headers={**_HEADERS, "Cache-Control": "no-cache"}
    )


@router.get("/overlay/{token}/{kind}")
async def page(token: str, kind: str, request: Request) -> Response:
    runtime: FeatureServices = request.app.state.runtime
    headers = {**_HEADERS, "Cache-Control": "no-store"}
    if kind not in PAGES or await runtime.overlay_tokens.find(token) is None:
        return PlainTextResponse(UNKNOWN, 404, headers=headers)
    body, youtube = _asset("page.html"), ""
    if kind == "media":
        youtube = runtime.settings.section(OverlaySettings).overlay_youtube_player_url
        body = _with_player(body, youtube)
    headers["Content-Security-Policy"] = content_security_policy(youtube, portal_origin(runtime))
    return Response(body, media_type="text/html; charset=utf-8", headers=headers)


def portal_origin(runtime: FeatureServices) -> str:
    """Where the portal is served (``WADDLEBOT_PORTAL_PUBLIC_URL``, else this process)."""
    settings = runtime.settings
    return origin_of(settings.public_base_url(settings.section(IdentitySettings).portal_public_url))


def _with_player(page_html: bytes, youtube: str) -> bytes:
    """The page told where YouTube's player comes from (an attribute of its root)."""
    attribute = f' data-youtube="{html.escape(youtube, quote=True)}"'.encode()
    return page_html.replace(b'<html lang="en"', b'<html lang="en"' + attribute, 1)


@router.get("/overlay/{token}/uploads/{media_id}")
async def upload(token: str, media_id: str, request: Request) -> Response:
    """A file the community uploaded (features/overlay/media.py). Its URL names its content,
    so it may be cached for good; the token is checked on every request all the same."""
    runtime: FeatureServices = request.app.state.runtime
    refused = {**_HEADERS, "Cache-Control": "no-store"}
    match = await runtime.overlay_tokens.find(token)
    if match is None:
        return PlainTextResponse(UNKNOWN, 404, headers=refused)
    try:
        file, data = await runtime.overlay_media.get(match.community_id, media_id)
    except NotFound:
        return PlainTextResponse("no such file\n", 404, headers=refused)
    except ObjectStoreError:
        return PlainTextResponse("the file store is not answering\n", 503, headers=refused)
    etag = f'"{file.media_id}"'
    headers = {**_HEADERS, "Cache-Control": IMMUTABLE, "ETag": etag}
    if etag in _etags(request.headers.get("if-none-match", "")):
        return Response(status_code=304, headers=headers)
    return Response(data, media_type=file.content_type, headers=headers)


def _etags(header: str) -> set[str]:
    return {tag.strip().removeprefix("W/") for tag in header.split(",")}


@router.websocket("/overlay/{token}/{kind}/ws")
async def feed(websocket: WebSocket, token: str, kind: str) -> None:
    runtime: FeatureServices = websocket.app.state.runtime
    hub = runtime.overlay_hub
    match = await runtime.overlay_tokens.find(token) if kind in PAGES else None
    if hub is None or match is None:
        await websocket.close(code=1008)  # before accepting: the browser sees a refusal
        return
    await websocket.accept()
    client = hub.client(websocket, match.community_id, kind, match.token_hash)
    if not await hub.join(client):
        await websocket.close(TRY_AGAIN_LATER, "too many overlays open for this community")
        return
    if await runtime.overlay_tokens.find(token) is None:  # rotated while this page joined,
        await hub.leave(client)  # so the rotation's notice may have missed it
        await websocket.close(code=1008)
        return
    reports = runtime.find(PLAYER_REPORTS) if kind == "media" else None
    listener = asyncio.create_task(_listen(websocket, client, reports))
    try:
        await hub.serve(client)
    finally:
        listener.cancel()
        await asyncio.wait([listener])
        await hub.leave(client)


async def _listen(
    websocket: WebSocket, client: OverlayClient, reports: PlayerReports | None
) -> None:
    """Heartbeat answers and player reports from the page; the end of the page."""
    recent: deque[float] = deque(maxlen=REPORTS_PER_WINDOW)
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            client.end(GOING_AWAY, "", tell=False)
            return
        data = message.get("text") or message.get("bytes") or ""
        if len(data) > MAX_INBOUND:
            client.end(1009, "message too big")
            return
        client.seen()
        if reports is None:
            continue
        report = _player_report(data)
        if report is None:
            continue
        now = time.monotonic()
        if len(recent) == REPORTS_PER_WINDOW and now - recent[0] < REPORT_WINDOW:
            continue  # too many: this one is dropped, the next in time counts
        recent.append(now)
        try:
            await reports.report(client.community_id, report)
        except Exception:  # the database away for a moment: the page reports again
            log.warning("player report failed", community_id=client.community_id, exc_info=True)


def _player_report(data: str | bytes) -> PlayerReport | None:
    """A player report, or None for anything else (a heartbeat answer, or nonsense)."""
    if b'"player"' not in (data.encode() if isinstance(data, str) else data):
        return None
    try:
        return PlayerReport.model_validate(orjson.loads(data))
    except (orjson.JSONDecodeError, ValidationError):
        return None
