"""The portal's Music page (moderators and up): what plays and the queue (refreshed every few
seconds), taking a song out, skipping, pausing and playing on, opening and closing requests,
the volume, and the bans; for admins, the community's own Spotify app and its connection.

Every change goes through the services the HTTP API calls: the moderators' controls
(:class:`~.controls.MusicControls`, which audits as chat does) and the Spotify endpoints'
functions (spotify/api.py), so the checks, the roles and the audit rows are the same."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError

from waddlebot.core.errors import ConfigurationError, WaddleError
from waddlebot.features.music.api import VolumeIn
from waddlebot.features.music.controls import (
    MUSIC_CONTROLS,
    MusicControls,
    NothingPlaying,
    ban_label,
)
from waddlebot.features.music.rules import clock_time
from waddlebot.features.music.spotify import api as spotify_api
from waddlebot.features.music.spotify.wiring import SPOTIFY, Spotify
from waddlebot.features.shared import FeatureServices, Services
from waddlebot.platforms.oauth_tickets import ConnectError
from waddlebot.portal.deps import Caller, PageAccess
from waddlebot.portal.forms import Errors, field_errors, form_of, from_htmx, sentence
from waddlebot.portal.rendering import render
from waddlebot.portal.security import HEADERS
from waddlebot.web.access import ROLE_RANK
from waddlebot.web.deps import CommunityCaller, needs

TEMPLATES = Path(__file__).resolve().parent / "templates"
PAGE = "/c/{community_id}/music"
ADMIN = [Depends(PageAccess("admin"))]  # as the API: a community's Spotify is its admins'

SOURCES = {"youtube": "YouTube", "spotify": "Spotify"}  # how the page names a song's source

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True, slots=True)
class Here:
    """What every route of the page works with: the request, the person as the API's caller,
    and the music feature's services."""

    request: Request
    caller: CommunityCaller
    controls: MusicControls
    spotify: Spotify
    runtime: FeatureServices

    @property
    def community(self) -> int:
        return self.caller.community_id

    @property
    def admin(self) -> bool:
        return ROLE_RANK[self.caller.role] >= ROLE_RANK["admin"]

    async def platforms(self) -> list[str]:
        """The platforms of the community's places: where an @person may be."""
        places = await self.runtime.directory.entity_ids(self.community)
        return sorted({place.split(":", 1)[0] for place in places})


async def here(
    request: Request,
    caller: Caller,
    runtime: Services,
    controls: Annotated[MusicControls, needs(MUSIC_CONTROLS)],
    spotify: Annotated[Spotify, needs(SPOTIFY)],
) -> Here:
    return Here(request, caller, controls, spotify, runtime)


At = Annotated[Here, Depends(here)]


def _length(seconds: float | int | None) -> str:
    return clock_time(int(seconds)) if seconds else ""


async def _queue_values(controls: MusicControls, community_id: int) -> dict[str, Any]:
    listing = await controls.listing(community_id)
    return {"listing": listing, "link": controls.link, "length": _length, "sources": SOURCES}


async def _page(at: Here, status_code: int = 200, **context: Any) -> Response:
    values: dict[str, Any] = {
        **await _queue_values(at.controls, at.community),
        "bans": await at.controls.listed_bans(at.community),
        "ban_label": ban_label,
        "platforms": await at.platforms(),
        "admin": at.admin,
        "spotify": await spotify_api.spotify_status(at.caller, at.spotify) if at.admin else None,
        "errors": {},
        "form": {},
        "notice": "",
    }
    values.update(context)
    return render(at.request, "music.html", values, status_code=status_code, directory=TEMPLATES)


async def _done(at: Here, notice: str, status_code: int = 200) -> Response:
    """After a change to the queue or the player: htmx gets the queue's section, a form the
    whole page, each saying what happened."""
    if from_htmx(at.request):
        values = {**await _queue_values(at.controls, at.community), "queue_notice": notice}
        return render(
            at.request, "music_queue.html", values, status_code=status_code, directory=TEMPLATES
        )
    return await _page(at, status_code, notice=notice)


@router.get(PAGE)
async def music(at: At) -> Response:
    return await _page(at)


@router.get(f"{PAGE}/queue")
async def queue_section(at: At) -> Response:
    """The queue's section alone: what the page fetches every few seconds."""
    values = await _queue_values(at.controls, at.community)
    return render(at.request, "music_queue.html", values, directory=TEMPLATES)


@router.post(f"{PAGE}/remove")
async def remove(at: At) -> Response:
    song = (await form_of(at.request)).get("song", "")
    if not song.isdecimal() or len(song) > 18:
        return await _done(at, "Choose a song to take out.", 400)
    try:
        taken = await at.controls.remove(at.community, int(song), actor=at.caller.actor)
    except WaddleError as refused:
        return await _done(at, sentence(str(refused)), 404)
    notice = f'Took "{taken.title}" out of the queue.'
    return await _done(at, notice)


@router.post(f"{PAGE}/skip")
async def skip(at: At) -> Response:
    try:
        done = await at.controls.skip(at.community, actor=at.caller.actor)
    except NothingPlaying:
        return await _done(at, "Nothing is playing.", 409)
    then = f'Now playing "{done.following.title}".' if done.following else "The queue is empty."
    notice = f'Skipped "{done.song.title}". {then} {sentence(done.refused)}'.strip()
    return await _done(at, notice)


async def _steer(at: Here, *, pause: bool) -> Response:
    steer = at.controls.pause if pause else at.controls.resume
    try:
        song = await steer(at.community, actor=at.caller.actor)
    except WaddleError as refused:  # nothing plays, or its player refused
        return await _done(at, sentence(str(refused)), 409)
    notice = f'Paused "{song.title}".' if pause else f'Playing "{song.title}" again.'
    return await _done(at, notice)


@router.post(f"{PAGE}/pause")
async def pause(at: At) -> Response:
    return await _steer(at, pause=True)


@router.post(f"{PAGE}/play")
async def play(at: At) -> Response:
    return await _steer(at, pause=False)


@router.post(f"{PAGE}/clear")
async def clear(at: At) -> Response:
    count = await at.controls.clear(at.community, actor=at.caller.actor)
    notice = f"Cleared the queue ({count} {'song' if count == 1 else 'songs'})."
    return await _done(at, notice)


@router.post(f"{PAGE}/open")
async def set_open(at: At) -> Response:
    open_ = (await form_of(at.request)).get("open") == "yes"
    await at.controls.set_open(at.community, open_, actor=at.caller.actor)
    notice = "Song requests are open." if open_ else "Song requests are closed."
    return await _page(at, notice=notice)


@router.post(f"{PAGE}/volume")
async def set_volume(at: At) -> Response:
    form = await form_of(at.request)
    try:
        wanted = VolumeIn.model_validate({"volume": form.get("volume", "")})
    except ValidationError as exc:
        errors = {"music-volume": "The volume is a whole number from 0 to 100."}
        if "music-volume" not in field_errors(exc, "music"):
            errors = field_errors(exc, "music")
        return await _page(at, 400, errors=errors, form=form)
    try:
        await at.controls.set_volume(at.community, wanted.volume, actor=at.caller.actor)
    except WaddleError as refused:  # the player playing now refused it; it is kept
        errors = {"music-volume": sentence(str(refused))}
        return await _page(at, 409, errors=errors, form=form)
    notice = f"The volume is {wanted.volume} now."
    return await _page(at, notice=notice)


@router.post(f"{PAGE}/bans")
async def add_ban(at: At) -> Response:
    form = await form_of(at.request)
    target, platform = form.get("target", "")[:200], form.get("platform", "")
    errors: Errors = {}
    if not target:
        errors["ban-target"] = "Say what to ban: a song link, a channel's name or @person."
    elif target.startswith(("@", "<@")) and platform not in await at.platforms():
        errors["ban-platform"] = f"Choose the platform {target} is on."
    else:
        try:
            ban = await at.controls.ban_named(at.community, target.split(), platform, {})
            banned = await at.controls.ban(at.community, ban, actor=at.caller.actor)
        except WaddleError as refused:  # an unknown person, a source that cannot say
            errors["ban-target"] = sentence(str(refused))
        else:
            if banned is not None:
                notice = f"{ban_label(ban)} is banned from song requests."
                return await _page(at, notice=notice)
            errors["ban-target"] = f"{ban_label(ban)} is banned from song requests already."
    return await _page(at, 400, errors=errors, form=form)


@router.post(f"{PAGE}/bans/remove")
async def remove_ban(at: At) -> Response:
    ban_id = (await form_of(at.request)).get("ban", "")
    if not ban_id.isdecimal() or len(ban_id) > 18:
        return await _page(at, 400, notice="Choose a ban to lift.")
    try:
        lifted = await at.controls.unban_id(at.community, int(ban_id), actor=at.caller.actor)
    except WaddleError as refused:
        notice = sentence(str(refused))
        return await _page(at, 404, notice=notice)
    again = "may request songs" if lifted.kind == "person" else "may be requested"
    notice = f"{ban_label(lifted)} {again} again."
    return await _page(at, notice=notice)


@router.post(f"{PAGE}/spotify/app", dependencies=ADMIN)
async def set_spotify_app(at: At) -> Response:
    form = await form_of(at.request)
    try:
        body = spotify_api.AppIn.model_validate(
            {"client_id": form.get("client_id", ""), "client_secret": form.get("client_secret", "")}
        )
    except ValidationError as exc:
        errors = field_errors(exc, "spotify")
        if "spotify-client_id" in errors:
            errors["spotify-client_id"] = "The client id is the letters and digits Spotify shows."
        kept = {"client_id": form.get("client_id", "")}
        return await _page(at, 400, errors=errors, form=kept)
    try:
        await spotify_api.set_app(body, at.caller, at.spotify)
    except ConfigurationError as exc:  # no key to seal the secret with
        errors = {"spotify": sentence(exc.line())}
        return await _page(at, 503, errors=errors)
    notice = f"Saved the Spotify app {body.client_id}."
    return await _page(at, notice=notice)


@router.post(f"{PAGE}/spotify/connect", dependencies=ADMIN)
async def connect_spotify(at: At) -> Response:
    try:
        url = await at.spotify.connect.ticket_url(at.community, actor=at.caller.actor)
    except ConnectError as exc:
        errors = {"spotify": sentence(str(exc))}
        return await _page(at, 400, errors=errors)
    if from_htmx(at.request):  # a form's redirect to another site would meet form-action 'self'
        return Response(status_code=204, headers={**HEADERS, "HX-Redirect": url})
    return render(at.request, "spotify_connect.html", {"url": url}, directory=TEMPLATES)


@router.post(f"{PAGE}/spotify/disconnect", dependencies=ADMIN)
async def disconnect_spotify(at: At) -> Response:
    if await at.spotify.store.disconnect(at.community):
        notice = "Spotify is disconnected; the app's settings are kept."
    else:
        notice = "No Spotify account is connected here."
    return await _page(at, notice=notice)
