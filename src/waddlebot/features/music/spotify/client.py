"""Spotify over HTTP: the accounts service (the consent page, ``/api/token``) and the Web API
(``/v1/...``) called as a community's connected account.

A thin client on httpx2 rather than Spotipy or tekore: the bot is async end to end (Spotipy
is synchronous), every other outside service already goes through one httpx2 stack (timeouts,
pooling, tests against loopback fakes), and the refresh token must be refreshed into our own
encrypted table under our own rules (tekore and Spotipy keep tokens in their own objects or
cache files). The few endpoints song requests need are a handful of lines each.

Spotify's own rules handled here: a 401 means the access token expired early (refreshed, and
the call tried once more); a 429 names its wait in ``Retry-After`` (waited once when it is
short, else :class:`SpotifyBusy`, which says how long)."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlencode

import httpx2
import orjson

SCOPES = ("user-read-currently-playing", "user-read-playback-state", "user-modify-playback-state")
RETRY_WITHIN = 2.0  # the longest Retry-After waited for: a chat command has 5 s in all


@dataclass(frozen=True, slots=True)
class App:
    """A streamer's Spotify app (its client credentials)."""

    client_id: str
    client_secret: str


@dataclass(frozen=True, slots=True)
class Grant:
    """What the token endpoint gave: ``refresh_token`` empty when it kept the old one."""

    access_token: str
    expires_in: int
    refresh_token: str = ""
    scope: str = ""


class SpotifyError(Exception):
    """Spotify refused or failed a call: its status, and its ``reason`` when it gave one
    (``PREMIUM_REQUIRED``, ``NO_ACTIVE_DEVICE``, ``invalid_grant``...)."""

    def __init__(self, status: int, reason: str = "", message: str = "") -> None:
        super().__init__(message or reason or f"Spotify answered {status}")
        self.status = status
        self.reason = reason


class SpotifyBusy(SpotifyError):
    """Spotify asked us to wait longer than a chat command can (429)."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(429, "rate_limited")
        self.retry_after = retry_after


class Tokens(Protocol):
    """A community's access tokens (kept encrypted by whoever implements it)."""

    async def access_token(self, community_id: int, *, stale: str = "") -> str:
        """A token good for a while yet; a fresh one when ``stale`` was refused."""


class SpotifyAccounts:
    """The accounts service: where a streamer consents, and where codes and refresh tokens
    become access tokens (client authentication by HTTP Basic, as Spotify asks)."""

    def __init__(self, http: httpx2.AsyncClient, url: str) -> None:
        self._http = http
        self._url = url.rstrip("/")

    def authorize_url(self, client_id: str, *, redirect_uri: str, state: str) -> str:
        query = {
            "client_id": client_id,
            "response_type": "code",
            "redirect_uri": redirect_uri,
            "state": state,
            "scope": " ".join(SCOPES),
        }
        return f"{self._url}/authorize?{urlencode(query)}"

    async def exchange_code(self, app: App, code: str, redirect_uri: str) -> Grant:
        return await self._token(
            app, {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        )

    async def refresh(self, app: App, refresh_token: str) -> Grant:
        return await self._token(
            app, {"grant_type": "refresh_token", "refresh_token": refresh_token}
        )

    async def _token(self, app: App, form: Mapping[str, str]) -> Grant:
        basic = base64.b64encode(f"{app.client_id}:{app.client_secret}".encode()).decode()
        answer = await self._http.post(
            f"{self._url}/api/token", data=dict(form), headers={"Authorization": f"Basic {basic}"}
        )
        body = _json(answer.content)
        if answer.status_code != 200 or not isinstance(body, dict) or "access_token" not in body:
            reason = str(body.get("error", "")) if isinstance(body, dict) else ""
            raise SpotifyError(answer.status_code, reason)
        return Grant(
            access_token=str(body["access_token"]),
            expires_in=int(body.get("expires_in", 3600)),
            refresh_token=str(body.get("refresh_token") or ""),
            scope=str(body.get("scope", "")),
        )


class SpotifyApi:
    """The Web API as a community's connected account."""

    def __init__(
        self,
        http: httpx2.AsyncClient,
        url: str,
        tokens: Tokens,
        *,
        retry_within: float = RETRY_WITHIN,
    ) -> None:
        self._http = http
        self._url = f"{url.rstrip('/')}/v1"
        self._tokens = tokens
        self._retry_within = retry_within

    async def get(self, community_id: int, path: str, **params: str) -> Any:
        """The JSON answer; None for Spotify's 204 (nothing playing)."""
        return await self.call(community_id, "GET", path, params=params)

    async def call(
        self,
        community_id: int,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
    ) -> Any:
        token = await self._tokens.access_token(community_id)
        answer = await self._send(method, path, token, params, json)
        if answer.status_code == 401:
            token = await self._tokens.access_token(community_id, stale=token)
            answer = await self._send(method, path, token, params, json)
        if answer.status_code == 429:
            wait = _retry_after(answer.headers.get("retry-after"))
            if wait > self._retry_within:
                raise SpotifyBusy(wait)
            await asyncio.sleep(wait)
            answer = await self._send(method, path, token, params, json)
            if answer.status_code == 429:
                raise SpotifyBusy(_retry_after(answer.headers.get("retry-after")))
        body = _json(answer.content) if answer.content else None
        if answer.status_code >= 400:
            error = body.get("error") if isinstance(body, dict) else None
            error = error if isinstance(error, dict) else {}
            raise SpotifyError(
                answer.status_code, str(error.get("reason", "")), str(error.get("message", ""))
            )
        return body

    async def _send(
        self,
        method: str,
        path: str,
        token: str,
        params: Mapping[str, str] | None,
        json: Any,
    ) -> httpx2.Response:
        return await self._http.request(
            method,
            f"{self._url}/{path.lstrip('/')}",
            params=dict(params or {}),
            json=json,
            headers={"Authorization": f"Bearer {token}"},
        )


def _retry_after(value: str | None) -> int:
    try:
        return max(0, int(value or "1"))
    except ValueError:
        return 1


def _json(content: bytes) -> Any:
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        return None
