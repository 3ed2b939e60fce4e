"""The overlay pages OBS opens, their static files, and the WebSocket that feeds them.

``GET /overlay/<token>/<kind>`` is one static HTML page for every kind; the script reads the
kind and the options from its own URL and connects to ``.../<kind>/ws``;
``GET /overlay/<token>/uploads/<media id>`` is a file the community uploaded (an alert's
sound or image). Nothing on these
pages is built from user text on the server, and the script only ever uses ``textContent``;
the Content Security Policy allows no inline script or style and no other origin but
``https:`` images and media (the uploads are the page's own origin).

Page → server: anything (``{"type": "pong"}``) counts as a heartbeat answer, up to
``MAX_INBOUND`` bytes. Server → page: ``hello``, ``state``, ``update`` and ``ping`` messages,
see :mod:`waddlebot.features.overlay.hub`.
"""

from __future__ import annotations

import asyncio
import logging
import re
from functools import cache
from importlib import resources

from fastapi import APIRouter, Request, WebSocket
from fastapi.responses import PlainTextResponse, Response

from waddlebot.core.errors import NotFound
from waddlebot.core.overlay import PAGES
from waddlebot.features.overlay.hub import GOING_AWAY, TRY_AGAIN_LATER, OverlayClient
from waddlebot.features.shared import FeatureServices
from waddlebot.infra.objects import ObjectStoreError

router = APIRouter(include_in_schema=False)

MAX_INBOUND = 1024
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; "
    "media-src 'self' https:; frame-src https://clips.twitch.tv; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
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
    return Response(_asset("page.html"), media_type="text/html; charset=utf-8", headers=headers)


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
    listener = asyncio.create_task(_listen(websocket, client))
    try:
        await hub.serve(client)
    finally:
        listener.cancel()
        await asyncio.wait([listener])
        await hub.leave(client)


async def _listen(websocket: WebSocket, client: OverlayClient) -> None:
    """Heartbeat answers from the page; the end of the page."""
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
