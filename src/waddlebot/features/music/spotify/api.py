"""``/api/v1/music/communities/{community_id}/spotify``: a community's own Spotify app (the
secret is written, never read back), its connect link and its connected account (admin
role); and the OAuth pages Spotify sends the streamer's browser through
(``/api/v1/music/spotify/oauth/start`` and ``/callback``: no key, the sealed ticket and state
are the proof)."""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, Field

from waddlebot.core.errors import NotFound, UserError
from waddlebot.features.music.spotify.client import App
from waddlebot.features.music.spotify.connect import CALLBACK_PATH, OAUTH_PATH, START_PATH
from waddlebot.features.music.spotify.wiring import SPOTIFY, Spotify
from waddlebot.platforms.oauth_pages import (
    Callback,
    ConnectOut,
    browser_of,
    finish,
    result_page,
    to_platform,
)
from waddlebot.platforms.oauth_tickets import TICKET_SECONDS, ConnectError
from waddlebot.web.deps import Admin, needs

router = APIRouter(prefix="/api/v1/music/communities/{community_id}/spotify", tags=["music"])
oauth_router = APIRouter(tags=["music"])
Parts = Annotated[Spotify, needs(SPOTIFY)]


class AppIn(BaseModel):
    client_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9]+$")
    client_secret: str = Field(
        min_length=1, max_length=128, description="kept encrypted; never shown again"
    )


class SpotifyOut(BaseModel):
    client_id: str = Field(description="the community's Spotify app; empty when none")
    client_secret_set: bool
    connected: bool
    account_id: str
    account_name: str
    scopes: list[str]
    redirect_uri: str = Field(description="what the Spotify app must list as a redirect URI")


async def _out(spotify: Spotify, community_id: int) -> SpotifyOut:
    found = await spotify.store.status(community_id)
    return SpotifyOut(
        client_id=found.client_id if found else "",
        client_secret_set=found is not None,
        connected=bool(found and found.connected),
        account_id=found.account_id if found else "",
        account_name=found.account_name if found else "",
        scopes=list(found.scopes) if found else [],
        redirect_uri=spotify.connect.redirect_uri,
    )


@router.get("", response_model=SpotifyOut, summary="The community's Spotify (admin role)")
async def spotify_status(caller: Admin, spotify: Parts) -> SpotifyOut:
    return await _out(spotify, caller.community_id)


@router.put(
    "/app",
    response_model=SpotifyOut,
    summary="Set the community's own Spotify app: client id and secret (admin role)",
)
async def set_app(body: AppIn, caller: Admin, spotify: Parts) -> SpotifyOut:
    await spotify.store.set_app(caller.community_id, App(body.client_id, body.client_secret))
    return await _out(spotify, caller.community_id)


@router.post(
    "/connect",
    response_model=ConnectOut,
    summary="A link that connects the streamer's Spotify account (admin role)",
)
async def connect_link(caller: Admin, spotify: Parts) -> ConnectOut:
    try:
        url = await spotify.connect.ticket_url(caller.community_id, actor=caller.actor)
    except ConnectError as exc:
        raise UserError(str(exc)) from exc
    return ConnectOut(url=url, expires_in=TICKET_SECONDS)


@router.delete(
    "/account",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Forget the connected Spotify account, keeping the app (admin role)",
)
async def disconnect(caller: Admin, spotify: Parts) -> Response:
    if not await spotify.store.disconnect(caller.community_id):
        raise NotFound("no Spotify account is connected")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@oauth_router.get(START_PATH, summary="Send the browser to Spotify to connect an account")
async def oauth_start(
    spotify: Parts, request: Request, ticket: str = Query(max_length=4096)
) -> RedirectResponse:
    return await to_platform(
        "Spotify", request, partial(spotify.connect.authorize_url, ticket), cookie_path=OAUTH_PATH
    )


@oauth_router.get(
    CALLBACK_PATH, summary="Spotify sends the browser back here", response_class=HTMLResponse
)
async def oauth_callback(
    spotify: Parts,
    request: Request,
    state: str = Query(default="", max_length=4096),
    code: str = Query(default="", max_length=1024),
    error: str = Query(default="", max_length=200),
) -> HTMLResponse:
    callback = Callback(code, state, error, "", browser_of("Spotify", request))
    done = await finish("Spotify", callback, spotify.connect.complete)
    if isinstance(done, HTMLResponse):
        return done
    return result_page("Connected", f"The Spotify account {done} is connected.")
