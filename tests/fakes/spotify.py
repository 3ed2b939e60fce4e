"""``FakeSpotify``: the Spotify accounts service and the parts of the Web API song requests
use, on a loopback port, answering as Spotify does:

- accounts: ``GET /authorize`` (checks the app and its registered redirect URI, then sends the
  browser back with a one-time ``code`` and the ``state``, as if the user signed in as
  :meth:`authorize_as` and agreed), ``POST /api/token`` (``authorization_code`` and
  ``refresh_token`` grants, client authenticated by HTTP Basic; errors as
  ``{"error": "invalid_grant", "error_description": ...}``);
- Web API (``Authorization: Bearer``; a bad or expired token: 401 with Spotify's error
  object): ``/v1/me``, ``/v1/search?type=track``, ``/v1/tracks?ids=``, and the player:
  ``/v1/me/player`` (204 without a device), ``currently-playing``, ``queue`` (GET and POST),
  ``next``, ``pause``, ``play``, ``volume``.

Switches, as Spotify behaves: a user without Premium gets 403 ``PREMIUM_REQUIRED`` from
player commands, a user without an active device 404 ``NO_ACTIVE_DEVICE``; :meth:`throttle`
answers the next calls 429 with ``Retry-After``; :meth:`expire_tokens` makes every access
token issued so far expired. Each user's player is a small state machine: what plays, the
user's queue, the context (their own playlist) that plays when the queue is empty."""

from __future__ import annotations

import base64
import binascii
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.fakes.served import ServedFake

MAX_IDS = 50
COVERS = "https://i.scdn.co/image/"  # Spotify's image host


@dataclass
class SpotifyTrack:
    id: str  # 22 base62 characters
    name: str
    artists: list[str] = field(default_factory=lambda: ["Some Artist"])
    duration_ms: int = 200_000
    explicit: bool = False
    markets: list[str] = field(default_factory=lambda: ["US", "DE", "FR", "GB"])

    @property
    def uri(self) -> str:
        return f"spotify:track:{self.id}"

    def resource(self) -> dict[str, Any]:
        return {
            "album": {
                "album_type": "album",
                "id": "album" + self.id[5:],
                "name": f"{self.name} (Album)",
                "images": [  # as Spotify lists them: the largest first
                    {"url": f"{COVERS}{size}{self.id}", "height": size, "width": size}
                    for size in (640, 300, 64)
                ],
                "type": "album",
            },
            "artists": [
                {"id": f"artist{n}", "name": name, "type": "artist", "uri": f"spotify:artist:{n}"}
                for n, name in enumerate(self.artists)
            ],
            "available_markets": self.markets,
            "disc_number": 1,
            "duration_ms": self.duration_ms,
            "explicit": self.explicit,
            "external_urls": {"spotify": f"https://open.spotify.com/track/{self.id}"},
            "href": f"https://api.spotify.com/v1/tracks/{self.id}",
            "id": self.id,
            "is_local": False,
            "name": self.name,
            "popularity": 50,
            "track_number": 1,
            "type": "track",
            "uri": self.uri,
        }


@dataclass
class SpotifyApp:
    client_id: str
    secret: str
    redirect_uris: list[str]


@dataclass
class Player:
    """One user's playback: ``device`` False is no active device."""

    device: bool = True
    playing: str | None = None  # track id
    is_playing: bool = False
    progress_ms: int = 0
    volume: int = 50
    queue: list[str] = field(default_factory=list)
    context: list[str] = field(default_factory=list)  # their own playlist, after the queue
    autoplay: list[str] = field(default_factory=list)  # what Spotify picks once both ran out

    def advance(self) -> None:
        if self.queue:
            self.playing = self.queue.pop(0)
        elif self.context:
            self.playing = self.context.pop(0)
        elif self.autoplay:
            self.playing = self.autoplay.pop(0)
        else:
            self.playing, self.is_playing = None, False
            return
        self.is_playing, self.progress_ms = True, 0


@dataclass
class SpotifyUser:
    id: str
    display_name: str
    premium: bool = True
    player: Player = field(default_factory=Player)


@dataclass
class _Token:
    user: str
    client_id: str
    expired: bool = False


def _api_error(status: int, message: str, reason: str = "") -> JSONResponse:
    error: dict[str, Any] = {"status": status, "message": message}
    if reason:
        error["reason"] = reason
    return JSONResponse({"error": error}, status_code=status)


def _oauth_error(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


class FakeSpotify(ServedFake):
    def __init__(self, *, token_seconds: int = 3600) -> None:
        self.apps: dict[str, SpotifyApp] = {}
        self.users: dict[str, SpotifyUser] = {}
        self.tracks: dict[str, SpotifyTrack] = {}
        self.token_seconds = token_seconds
        self.calls: list[str] = []  # "METHOD /path" of each Web API call answered
        self.grants: list[str] = []  # grant_type of each token issued
        self.unauthorized = 0  # calls answered 401 (a bad or expired token)
        self._signing_in: str = ""
        self._codes: dict[str, tuple[str, str, str, str]] = {}  # code: user, app, uri, scope
        self._tokens: dict[str, _Token] = {}
        self._refresh: dict[str, tuple[str, str]] = {}  # refresh token: user, app
        self._throttled: list[int] = []  # Retry-After of each call still to refuse

    # the test's side

    def register_app(self, redirect_uris: list[str]) -> SpotifyApp:
        app = SpotifyApp(secrets.token_hex(16), secrets.token_hex(16), redirect_uris)
        self.apps[app.client_id] = app
        return app

    def add_user(self, user_id: str, name: str, *, premium: bool = True) -> SpotifyUser:
        self.users[user_id] = SpotifyUser(user_id, name, premium)
        return self.users[user_id]

    def add(self, track: SpotifyTrack) -> SpotifyTrack:
        self.tracks[track.id] = track
        return track

    def authorize_as(self, user_id: str) -> None:
        """Who signs in at the next ``/authorize`` (and agrees)."""
        self._signing_in = user_id

    def throttle(self, retry_after: int, times: int = 1) -> None:
        self._throttled += [retry_after] * times

    def expire_tokens(self) -> None:
        for token in self._tokens.values():
            token.expired = True

    def finish(self, user_id: str) -> None:
        """The track playing on the user's device ends: the next one plays."""
        self.users[user_id].player.advance()

    def issued_secrets(self) -> list[str]:
        """Every token issued (to look for in logs and answers)."""
        return [*self._tokens, *self._refresh]

    def app(self) -> Starlette:
        player = "/v1/me/player"
        return Starlette(
            routes=[
                Route("/authorize", self._authorize),
                Route("/api/token", self._token, methods=["POST"]),
                Route("/v1/me", self._me),
                Route("/v1/search", self._search),
                Route("/v1/tracks", self._tracks),
                Route(player, self._state),
                Route(f"{player}/currently-playing", self._currently_playing),
                Route(f"{player}/queue", self._queue, methods=["GET", "POST"]),
                Route(f"{player}/next", self._next, methods=["POST"]),
                Route(f"{player}/pause", self._pause, methods=["PUT"]),
                Route(f"{player}/play", self._play, methods=["PUT"]),
                Route(f"{player}/volume", self._volume, methods=["PUT"]),
            ]
        )

    # accounts service

    async def _authorize(self, request: Request) -> Response:
        query = request.query_params
        app = self.apps.get(query.get("client_id", ""))
        if app is None:
            return JSONResponse({"error": "INVALID_CLIENT: Invalid client"}, status_code=400)
        uri = query.get("redirect_uri", "")
        if uri not in app.redirect_uris:
            return JSONResponse({"error": "INVALID_CLIENT: Invalid redirect URI"}, status_code=400)
        if query.get("response_type") != "code":
            return JSONResponse({"error": "unsupported_response_type"}, status_code=400)
        back = {"state": query.get("state", "")}
        if not self._signing_in:
            back["error"] = "access_denied"
        else:
            code = secrets.token_urlsafe(24)
            self._codes[code] = (self._signing_in, app.client_id, uri, query.get("scope", ""))
            back["code"] = code
        return RedirectResponse(f"{uri}?{urlencode(back)}", status_code=302)

    def _client(self, request: Request) -> SpotifyApp | None:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        app = self.apps.get(client_id)
        return app if app is not None and secrets.compare_digest(app.secret, secret) else None

    async def _token(self, request: Request) -> JSONResponse:
        app = self._client(request)
        if app is None:
            return _oauth_error(400, "invalid_client", "Invalid client")
        form = await request.form()
        grant = str(form.get("grant_type", ""))
        scope = ""
        if grant == "authorization_code":
            held = self._codes.pop(str(form.get("code", "")), None)
            if held is None or held[1] != app.client_id:
                return _oauth_error(400, "invalid_grant", "Invalid authorization code")
            user, _, uri, scope = held
            if str(form.get("redirect_uri", "")) != uri:
                return _oauth_error(400, "invalid_grant", "Invalid redirect URI")
            refresh = secrets.token_urlsafe(32)
            self._refresh[refresh] = (user, app.client_id)
        elif grant == "refresh_token":
            found = self._refresh.get(str(form.get("refresh_token", "")))
            if found is None or found[1] != app.client_id:
                return _oauth_error(400, "invalid_grant", "Invalid refresh token")
            user, refresh = found[0], ""
        else:
            return _oauth_error(400, "unsupported_grant_type", f"grant_type: {grant}")
        access = secrets.token_urlsafe(32)
        self._tokens[access] = _Token(user, app.client_id)
        self.grants.append(grant)
        body: dict[str, Any] = {
            "access_token": access,
            "token_type": "Bearer",
            "scope": scope,
            "expires_in": self.token_seconds,
        }
        if refresh:
            body["refresh_token"] = refresh
        return JSONResponse(body)

    # Web API

    def _user(self, request: Request) -> SpotifyUser | Response:
        if self._throttled:
            wait = self._throttled.pop(0)
            return Response(status_code=429, headers={"Retry-After": str(wait)})
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        held = self._tokens.get(token) if scheme.lower() == "bearer" else None
        if held is None or held.expired:
            self.unauthorized += 1
            message = "Invalid access token" if held is None else "The access token expired"
            return _api_error(401, message)
        self.calls.append(f"{request.method} {request.url.path}")
        return self.users[held.user]

    def _player(self, request: Request) -> SpotifyUser | Response:
        """The user, for a player command: Premium and an active device needed."""
        user = self._user(request)
        if isinstance(user, Response):
            return user
        if not user.premium:
            return _api_error(403, "Player command failed: Premium required", "PREMIUM_REQUIRED")
        if not user.player.device:
            return _api_error(
                404, "Player command failed: No active device found", "NO_ACTIVE_DEVICE"
            )
        return user

    async def _me(self, request: Request) -> Response:
        user = self._user(request)
        if isinstance(user, Response):
            return user
        return JSONResponse(
            {
                "id": user.id,
                "display_name": user.display_name,
                "type": "user",
                "uri": f"spotify:user:{user.id}",
                "product": "premium" if user.premium else "free",
            }
        )

    async def _search(self, request: Request) -> Response:
        user = self._user(request)
        if isinstance(user, Response):
            return user
        query = request.query_params
        if query.get("type") != "track" or not query.get("q"):
            return _api_error(400, "Bad search type field")
        words = query["q"].casefold().split()
        limit = int(query.get("limit", "20"))
        found = [
            track.resource()
            for track in self.tracks.values()
            if all(w in f"{track.name} {' '.join(track.artists)}".casefold() for w in words)
        ][:limit]
        return JSONResponse(
            {
                "tracks": {
                    "href": str(request.url),
                    "items": found,
                    "limit": limit,
                    "next": None,
                    "offset": 0,
                    "previous": None,
                    "total": len(found),
                }
            }
        )

    async def _tracks(self, request: Request) -> Response:
        user = self._user(request)
        if isinstance(user, Response):
            return user
        ids = [i for i in request.query_params.get("ids", "").split(",") if i]
        if not ids or len(ids) > MAX_IDS:
            return _api_error(400, "Too many ids requested" if ids else "invalid id")
        if any(len(i) != 22 or not i.isalnum() for i in ids):
            return _api_error(400, "invalid id")
        return JSONResponse(
            {"tracks": [self.tracks[i].resource() if i in self.tracks else None for i in ids]}
        )

    def _playback(self, user: SpotifyUser) -> dict[str, Any]:
        player = user.player
        item = self.tracks[player.playing].resource() if player.playing else None
        return {
            "timestamp": 1_700_000_000_000,
            "context": None,
            "progress_ms": player.progress_ms,
            "is_playing": player.is_playing,
            "item": item,
            "currently_playing_type": "track" if item else "unknown",
            "actions": {"disallows": {"resuming": True} if player.is_playing else {}},
        }

    async def _state(self, request: Request) -> Response:
        user = self._user(request)
        if isinstance(user, Response):
            return user
        if not user.player.device:
            return Response(status_code=204)
        state = self._playback(user)
        state["device"] = {
            "id": f"device-{user.id}",
            "is_active": True,
            "is_private_session": False,
            "is_restricted": False,
            "name": "Streaming PC",
            "type": "Computer",
            "volume_percent": user.player.volume,
            "supports_volume": True,
        }
        state["shuffle_state"], state["repeat_state"] = False, "off"
        return JSONResponse(state)

    async def _currently_playing(self, request: Request) -> Response:
        user = self._user(request)
        if isinstance(user, Response):
            return user
        if not user.player.device or user.player.playing is None:
            return Response(status_code=204)
        return JSONResponse(self._playback(user))

    async def _queue(self, request: Request) -> Response:
        if request.method == "GET":
            user = self._user(request)
            if isinstance(user, Response):
                return user
            player = user.player
            return JSONResponse(
                {
                    "currently_playing": self.tracks[player.playing].resource()
                    if player.playing
                    else None,
                    "queue": [self.tracks[t].resource() for t in player.queue + player.context],
                }
            )
        user = self._player(request)
        if isinstance(user, Response):
            return user
        track = self._track_of(request.query_params.get("uri", ""))
        if track is None:
            return _api_error(400, "Invalid base62 id")
        user.player.queue.append(track)
        return Response(status_code=204)

    def _track_of(self, uri: str) -> str | None:
        kind, _, track = uri.removeprefix("spotify:").partition(":")
        return track if kind == "track" and track in self.tracks else None

    async def _next(self, request: Request) -> Response:
        user = self._player(request)
        if isinstance(user, Response):
            return user
        user.player.advance()
        return Response(status_code=204)

    async def _pause(self, request: Request) -> Response:
        user = self._player(request)
        if isinstance(user, Response):
            return user
        user.player.is_playing = False
        return Response(status_code=204)

    async def _play(self, request: Request) -> Response:
        user = self._player(request)
        if isinstance(user, Response):
            return user
        body = await request.body()
        uris = (await request.json()).get("uris") if body else None
        player = user.player
        if uris:
            tracks = [self._track_of(str(uri)) for uri in uris]
            if None in tracks:
                return _api_error(400, "Invalid track uri")
            player.playing, player.progress_ms = tracks[0], 0
            player.context = [t for t in tracks[1:] if t]
        elif player.playing is None:
            return _api_error(
                404, "Player command failed: No active device found", "NO_ACTIVE_DEVICE"
            )
        player.is_playing = True
        return Response(status_code=204)

    async def _volume(self, request: Request) -> Response:
        user = self._player(request)
        if isinstance(user, Response):
            return user
        try:
            volume = int(request.query_params.get("volume_percent", ""))
        except ValueError:
            return _api_error(400, "Invalid volume_percent")
        if not 0 <= volume <= 100:
            return _api_error(400, "Invalid volume_percent")
        user.player.volume = volume
        return Response(status_code=204)
