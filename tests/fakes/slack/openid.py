"""Sign in with Slack (OpenID Connect): the ``/openid/connect/authorize`` page (the person the
test makes "signed in to Slack" approves at once), ``openid.connect.token`` (the code
exchange: a user token) and ``openid.connect.userInfo`` (who holds that token)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from . import wire
from .model import SlackState, Token
from .web_api import ApiError, ApiRequest, WebApi

CODE_LIFETIME = 600.0


@dataclass(frozen=True)
class _Code:
    team_id: str
    user_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    issued_at: float


class OpenId:
    def __init__(self, state: SlackState) -> None:
        self.state = state
        self.signed_in: tuple[str, str] | None = None  # (team id, user id)
        self._codes: dict[str, _Code] = {}

    def routes(self) -> list[Route]:
        return [Route("/openid/connect/authorize", self.authorize, methods=["GET"])]

    def register(self, api: WebApi) -> None:
        api.register("openid.connect.token", self.token, tokens=None)
        api.register("openid.connect.userInfo", self.user_info, tokens=("user",))

    async def authorize(self, request: Request) -> Response:
        query = request.query_params
        app = self.state.app
        if query.get("client_id") != app.client_id:
            return JSONResponse({"ok": False, "error": "invalid_client_id"}, status_code=400)
        redirect_uri = query.get("redirect_uri", "")
        if not redirect_uri or (
            app.redirect_uris and not any(redirect_uri.startswith(u) for u in app.redirect_uris)
        ):
            return JSONResponse({"ok": False, "error": "bad_redirect_uri"}, status_code=400)
        scopes = tuple(query.get("scope", "").split())
        if query.get("response_type") != "code" or "openid" not in scopes:
            return JSONResponse({"ok": False, "error": "invalid_scope"}, status_code=400)
        if self.signed_in is None:
            return JSONResponse({"ok": False, "error": "nobody signed in (authorize_as)"}, 400)
        code = secrets.token_hex(24)
        team_id, user_id = self.signed_in
        self._codes[code] = _Code(team_id, user_id, redirect_uri, scopes, self.state.clock())
        reply = {"code": code}
        if "state" in query:
            reply["state"] = query["state"]
        separator = "&" if "?" in redirect_uri else "?"
        return RedirectResponse(f"{redirect_uri}{separator}{urlencode(reply)}", status_code=302)

    async def token(self, request: ApiRequest) -> dict[str, object]:
        app = self.state.app
        request.check_client(app.client_id, app.client_secret)
        pending = self._codes.pop(request.arg("code"), None)
        if pending is None or self.state.clock() - pending.issued_at > CODE_LIFETIME:
            raise ApiError("invalid_code")
        if request.arg("redirect_uri") != pending.redirect_uri:
            raise ApiError("bad_redirect_uri")
        token = Token(wire.user_token(), "user", pending.team_id, pending.user_id, pending.scopes)
        self.state.tokens[token.value] = token
        return {
            "access_token": token.value,
            "token_type": "Bearer",
            "id_token": secrets.token_urlsafe(32),  # not a JWT the fake signs: unused here
        }

    async def user_info(self, request: ApiRequest) -> dict[str, object]:
        token = request.token
        assert token is not None and token.user_id is not None
        if "openid" not in token.scopes:
            raise ApiError("missing_scope", needed="openid")
        person = self.state.users[token.user_id]
        claims: dict[str, object] = {
            "sub": person.id,
            "https://slack.com/user_id": person.id,
            "https://slack.com/team_id": token.team_id,
        }
        if "profile" in token.scopes:
            claims["name"] = person.real_name or person.name
        return claims
