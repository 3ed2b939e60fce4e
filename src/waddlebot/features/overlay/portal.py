"""The overlays page of the portal: each kind of overlay page previewed live (in a frame of
its real URL), the URLs to copy and their rotation (the owner's, as ``!overlay url`` and
``!overlay rotate``: the URLs let anyone put things on the stream), test alerts (moderators,
as ``!overlay test``), and the uploaded images and sounds (moderators, through the same
service as ``/api/v1/overlay/communities/{id}/media``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import escape
from starlette.datastructures import UploadFile

from waddlebot.core.errors import WaddleError
from waddlebot.core.overlay import PAGES
from waddlebot.features.overlay.samples import TEST_ALERTS, sample_alert
from waddlebot.features.overlay.settings import OverlaySettings
from waddlebot.features.overlay.tokens import TokenError, overlay_url
from waddlebot.features.shared import Services
from waddlebot.infra.objects import ObjectStoreError
from waddlebot.portal.deps import Caller, RoleTooLow, SignedIn
from waddlebot.portal.forms import Errors, form_of, from_htmx, said_in_place, sentence
from waddlebot.portal.rendering import render
from waddlebot.portal.security import HEADERS, framing, origin_of
from waddlebot.web.access import ROLE_RANK
from waddlebot.web.deps import CommunityCaller

TEMPLATES = Path(__file__).resolve().parent / "templates"
PAGE = "/c/{community_id}/overlays"

router = APIRouter(include_in_schema=False)


def _owner(caller: CommunityCaller) -> bool:
    return ROLE_RANK[caller.role] >= ROLE_RANK["owner"]


def _base_url(runtime: Services) -> str:
    """Where OBS (and the preview) open the pages, as ``!overlay url`` says."""
    settings = runtime.settings
    return settings.public_base_url(settings.section(OverlaySettings).overlay_public_url)


async def _page(
    request: Request,
    caller: CommunityCaller,
    runtime: Services,
    *,
    errors: Errors | None = None,
    status_code: int = 200,
) -> Response:
    errors = dict(errors or {})
    urls: dict[str, str] = {}
    base = _base_url(runtime)
    if _owner(caller):
        try:
            token = await runtime.overlay_tokens.current(caller.community_id, actor=caller.actor)
            urls = {kind: overlay_url(base, token, kind) for kind in PAGES}
        except TokenError as exc:
            errors["urls"] = sentence(str(exc))
    try:
        media = await runtime.overlay_media.files(caller.community_id)
    except ObjectStoreError as exc:
        media, errors["media"] = [], sentence(f"the object store failed: {exc}")
    context: dict[str, Any] = {
        "urls": urls,
        "owner": _owner(caller),
        "alerts": tuple(TEST_ALERTS),
        "media": media,
        "errors": errors,
    }
    headers = framing(origin_of(base)) if urls else HEADERS
    return render(
        request,
        "overlays.html",
        context,
        status_code=status_code,
        directory=TEMPLATES,
        headers=headers,
    )


@router.get(PAGE)
async def overlays(request: Request, caller: Caller, runtime: Services) -> Response:
    return await _page(request, caller, runtime)


@router.post(PAGE + "/rotate")
async def rotate(request: Request, caller: Caller, runtime: Services) -> Response:
    """New URLs: the old ones stop working at once and their open pages close (the owner's)."""
    if not _owner(caller):
        raise RoleTooLow("owner")
    try:
        await runtime.overlay_tokens.rotate(caller.community_id, actor=caller.actor)
    except TokenError as exc:
        return await _page(
            request, caller, runtime, errors={"urls": sentence(str(exc))}, status_code=503
        )
    return RedirectResponse(f"/c/{caller.community_id}/overlays#urls", 303)


@router.post(PAGE + "/test")
async def test_alert(
    request: Request, caller: Caller, runtime: Services, person: SignedIn
) -> Response:
    """A made-up alert on the alerts page (moderators, as ``!overlay test alerts``)."""
    kind = (await form_of(request)).get("kind", "")
    if kind not in TEST_ALERTS:
        return _said(request, caller, f"there is no {kind!r} test alert", 400)
    update = runtime.overlays.prepare("", "alerts", sample_alert(kind, person.name))
    await runtime.overlays.publish(caller.community_id, [update])
    return _said(request, caller, f"sent a test {kind} alert to the alerts overlay", 200)


def _said(request: Request, caller: CommunityCaller, message: str, status_code: int) -> Response:
    if not from_htmx(request):
        return RedirectResponse(f"/c/{caller.community_id}/overlays#tests", 303)
    if status_code >= 400:
        return said_in_place("tests-status", message)
    return HTMLResponse(str(escape(sentence(message))), headers=HEADERS)


@router.post(PAGE + "/media")
async def upload(request: Request, caller: Caller, runtime: Services) -> Response:
    """An image or a sound from a file form (moderators, as ``POST .../media``)."""
    media = runtime.overlay_media
    file = (await request.form()).get("file")
    if not isinstance(file, UploadFile) or not file.filename:
        return await _media_refused(request, caller, runtime, "choose a file to upload", 400)
    data = await file.read(media.largest + 1)
    if len(data) > media.largest:
        refusal = media.too_large()
        return await _media_refused(request, caller, runtime, str(refusal), refusal.status)
    try:
        await media.upload(caller.community_id, data, actor=caller.actor)
    except WaddleError as exc:
        return await _media_refused(request, caller, runtime, str(exc), exc.status)
    except ObjectStoreError as exc:
        return await _media_refused(
            request, caller, runtime, f"the object store failed: {exc}", 503
        )
    return RedirectResponse(f"/c/{caller.community_id}/overlays#media", 303)


async def _media_refused(
    request: Request, caller: CommunityCaller, runtime: Services, message: str, status_code: int
) -> Response:
    errors = {"media-file": sentence(message)}
    return await _page(request, caller, runtime, errors=errors, status_code=status_code)


@router.post(PAGE + "/media/delete")
async def delete_media(request: Request, caller: Caller, runtime: Services) -> Response:
    """Delete an upload (moderators, as ``DELETE .../media/{id}``)."""
    media_id = (await form_of(request)).get("media_id", "")
    try:
        await runtime.overlay_media.delete(caller.community_id, media_id, actor=caller.actor)
    except WaddleError as exc:
        errors = {"media": sentence(str(exc))}
        return await _page(request, caller, runtime, errors=errors, status_code=exc.status)
    except ObjectStoreError as exc:
        errors = {"media": sentence(f"the object store failed: {exc}")}
        return await _page(request, caller, runtime, errors=errors, status_code=503)
    return RedirectResponse(f"/c/{caller.community_id}/overlays#media", 303)
