"""Twitch's OAuth endpoints (id.twitch.tv): the app token, the authorization code flow,
refresh, validation and revocation.

Written on httpx2 rather than with a Twitch library: the few calls are simple form posts, and
WaddleBot keeps the tokens itself (encrypted, per account, shared by every process), which the
libraries' own token handling would fight.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx2

from waddlebot.core.clock import Clock, SystemClock


class TwitchAuthError(Exception):
    """Twitch refused: a bad client secret, an expired or used code, a dead refresh token."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"Twitch said {status}: {message}")
        self.status = status


@dataclass(frozen=True, slots=True)
class Grant:
    access_token: str = field(repr=False)  # never in a log line or a traceback's repr
    refresh_token: str = field(repr=False)
    expires_in: int
    scopes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Validation:
    client_id: str
    user_id: str  # empty for an app token
    login: str
    scopes: tuple[str, ...]
    expires_in: int


class TwitchAuth:
    def __init__(
        self,
        http: httpx2.AsyncClient,
        *,
        base_url: str,
        client_id: str,
        client_secret: str,
        clock: Clock | None = None,
    ) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self.client_id = client_id
        self._secret = client_secret
        self._clock = clock or SystemClock()
        self._app_token = ""
        self._app_token_until = 0.0

    def authorize_url(self, *, redirect_uri: str, scopes: Sequence[str], state: str) -> str:
        query = urlencode(
            {
                "client_id": self.client_id,
                "redirect_uri": redirect_uri,
                "response_type": "code",
                "scope": " ".join(scopes),
                "state": state,
                "force_verify": "true",  # show whose account is connected, every time
            }
        )
        return f"{self._base}/authorize?{query}"

    async def app_token(self, *, renew: bool = False) -> str:
        """The app access token (client credentials), fetched again a minute before it
        expires or when ``renew`` says the last one was refused."""
        now = self._clock.now().timestamp()
        if renew or not self._app_token or now >= self._app_token_until:
            grant = await self._token({"grant_type": "client_credentials"})
            self._app_token = grant.access_token
            self._app_token_until = now + max(grant.expires_in - 60, 0)
        return self._app_token

    async def exchange_code(self, code: str, redirect_uri: str) -> Grant:
        return await self._token(
            {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        )

    async def refresh(self, refresh_token: str) -> Grant:
        return await self._token({"grant_type": "refresh_token", "refresh_token": refresh_token})

    async def validate(self, access_token: str) -> Validation | None:
        """What Twitch knows of a token; None when it is no longer valid."""
        response = await self._http.get(
            f"{self._base}/validate", headers={"Authorization": f"OAuth {access_token}"}
        )
        if response.status_code == 401:
            return None
        body = _json(response)
        return Validation(
            client_id=str(body.get("client_id", "")),
            user_id=str(body.get("user_id") or ""),
            login=str(body.get("login") or ""),
            scopes=tuple(body.get("scopes") or ()),
            expires_in=int(body.get("expires_in") or 0),
        )

    async def revoke(self, access_token: str) -> None:
        await self._http.post(
            f"{self._base}/revoke", data={"client_id": self.client_id, "token": access_token}
        )

    async def _token(self, form: dict[str, str]) -> Grant:
        response = await self._http.post(
            f"{self._base}/token",
            data={"client_id": self.client_id, "client_secret": self._secret, **form},
        )
        body = _json(response)
        scope = body.get("scope") or ()
        return Grant(
            access_token=str(body["access_token"]),
            refresh_token=str(body.get("refresh_token") or ""),
            expires_in=int(body.get("expires_in") or 0),
            scopes=tuple(scope.split() if isinstance(scope, str) else scope),
        )


def _json(response: httpx2.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code >= 400 or not isinstance(body, dict):
        message = body.get("message") if isinstance(body, dict) else response.text[:200]
        raise TwitchAuthError(response.status_code, str(message or "no message"))
    if response.request.url.path.endswith("/token") and "access_token" not in body:
        raise TwitchAuthError(response.status_code, "no access_token in the answer")
    return body
