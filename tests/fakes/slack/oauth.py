"""OAuth v2 installs: the ``/oauth/v2/authorize`` page, what clicking Allow or Cancel on it
does (``approve``/``deny``, test controls that return the redirect Slack would send), and the
``oauth.v2.access`` code exchange."""

from __future__ import annotations

import html
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from . import wire
from .examples import example
from .model import SlackState, Team, Token, User
from .web_api import ApiError, ApiRequest, WebApi

CODE_LIFETIME = 600.0  # seconds an authorization code can be exchanged


class AuthorizeError(ValueError):
    """The authorize request is one Slack shows an error page for instead of redirecting."""


@dataclass
class Authorization:
    client_id: str
    redirect_uri: str
    redirect_uri_given: bool
    scopes: tuple[str, ...]
    user_scopes: tuple[str, ...]
    state: str | None


@dataclass
class PendingCode:
    request: Authorization
    team_id: str
    user_id: str
    issued_at: float


def _scopes(value: str) -> tuple[str, ...]:
    return tuple(s for s in value.replace(" ", ",").split(",") if s)


class OAuth:
    def __init__(self, state: SlackState) -> None:
        self.state = state
        self._codes: dict[str, PendingCode] = {}

    def routes(self) -> list[Route]:
        return [Route("/oauth/v2/authorize", self.authorize_page, methods=["GET"])]

    def register(self, api: WebApi) -> None:
        api.register("oauth.v2.access", self.access, tokens=None)

    # --- the authorize page ---------------------------------------------------------------

    def parse(self, query: dict[str, str]) -> Authorization:
        app = self.state.app
        if query.get("client_id") != app.client_id:
            raise AuthorizeError("invalid_client_id")
        redirect_uri = query.get("redirect_uri", "")
        if redirect_uri:
            if app.redirect_uris and not any(redirect_uri.startswith(u) for u in app.redirect_uris):
                raise AuthorizeError("bad_redirect_uri")
        elif app.redirect_uris:
            redirect_uri = app.redirect_uris[0]
        else:
            raise AuthorizeError("no_redirect_uri")
        scopes, user_scopes = _scopes(query.get("scope", "")), _scopes(query.get("user_scope", ""))
        if not scopes and not user_scopes:
            raise AuthorizeError("invalid_scope")
        return Authorization(
            app.client_id,
            redirect_uri,
            "redirect_uri" in query,
            scopes,
            user_scopes,
            query.get("state"),
        )

    async def authorize_page(self, request: Request) -> Response:
        try:
            wanted = self.parse(dict(request.query_params))
        except AuthorizeError as error:
            page = f"<h1>Something went wrong when authorizing this app.</h1><p>{error}</p>"
            return HTMLResponse(page, status_code=400)
        scopes = "".join(f"<li>{html.escape(s)}</li>" for s in wanted.scopes + wanted.user_scopes)
        name = html.escape(self.state.app.name)
        title = f"{name} is requesting permission to access a Slack workspace"
        page = f"<h1>{title}</h1><ul>{scopes}</ul>"
        return HTMLResponse(page)

    def approve(self, authorize_url: str, team: Team, user: User) -> str:
        """``user`` clicks Allow for ``team``: the redirect URL with ``code`` and ``state``."""
        wanted = self.parse(_query(authorize_url))
        code = f"{wire.digits(10)}.{wire.digits(13)}.{secrets.token_hex(32)}"
        self._codes[code] = PendingCode(wanted, team.id, user.id, self.state.clock())
        return _redirect(wanted, {"code": code})

    def deny(self, authorize_url: str) -> str:
        """The user clicks Cancel: the redirect URL with ``error=access_denied``."""
        return _redirect(self.parse(_query(authorize_url)), {"error": "access_denied"})

    # --- oauth.v2.access ------------------------------------------------------------------

    async def access(self, request: ApiRequest) -> dict[str, Any]:
        app = self.state.app
        request.check_client(app.client_id, app.client_secret)
        if request.arg("grant_type", "authorization_code") != "authorization_code":
            raise ApiError("invalid_grant_type")
        code = request.arg("code")
        pending = self._codes.pop(code, None)
        if pending is None or self.state.clock() - pending.issued_at > CODE_LIFETIME:
            raise ApiError("invalid_code")  # also a code already exchanged once
        wanted = pending.request
        if wanted.redirect_uri_given and request.arg("redirect_uri") != wanted.redirect_uri:
            raise ApiError("bad_redirect_uri")
        return self._install(pending)

    def _install(self, pending: PendingCode) -> dict[str, Any]:
        team = self.state.teams[pending.team_id]
        wanted = pending.request
        if wanted.scopes:
            team.scopes = wanted.scopes
            self.state.tokens[team.bot_token].scopes = wanted.scopes
        answer = example("web.oauth.v2.access")
        answer.pop("ok")
        answer.update(
            access_token=team.bot_token,
            scope=",".join(team.scopes),
            bot_user_id=team.bot_user_id,
            app_id=self.state.app.id,
            team={"name": team.name, "id": team.id},
            authed_user={"id": pending.user_id},
        )
        if wanted.user_scopes:
            token = Token(wire.user_token(), "user", team.id, pending.user_id, wanted.user_scopes)
            self.state.tokens[token.value] = token
            answer["authed_user"].update(
                scope=",".join(wanted.user_scopes), access_token=token.value, token_type="user"
            )
        if not wanted.scopes:
            for key in ("access_token", "token_type", "scope", "bot_user_id"):
                answer.pop(key)
        return answer


def _query(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def _redirect(wanted: Authorization, fields: dict[str, str]) -> str:
    if wanted.state is not None:
        fields = {**fields, "state": wanted.state}
    separator = "&" if "?" in wanted.redirect_uri else "?"
    return f"{wanted.redirect_uri}{separator}{urlencode(fields)}"
