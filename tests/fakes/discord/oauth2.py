"""OAuth2 for a person (not the bot): the ``/oauth2/authorize`` consent page (the person
the test makes "signed in to Discord" approves at once, as Discord does for an app already
authorized), the ``/oauth2/token`` code exchange (client secret in the form or by Basic
auth) and the Bearer tokens ``GET /users/@me`` takes."""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from .model import DiscordState
from .rest import Call, RestApi, ok

TOKEN_SECONDS = 604_800  # a week, as Discord's


@dataclass(frozen=True)
class _Code:
    user_id: str
    redirect_uri: str
    scopes: tuple[str, ...]


def _oauth_error(error: str, description: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


class OAuth2:
    def __init__(self, state: DiscordState) -> None:
        self.state = state
        self.client_secret = secrets.token_urlsafe(24)
        self.redirect_uris: tuple[str, ...] = ()  # empty: any
        self.signed_in_user: str | None = None
        self._codes: dict[str, _Code] = {}

    def routes(self) -> list[Route]:
        return [Route("/oauth2/authorize", self.authorize, methods=["GET"])]

    def register(self, api: RestApi) -> None:
        api.add("POST", "/oauth2/token", self.token, auth=False)

    async def authorize(self, request: Request) -> Response:
        query = request.query_params
        if query.get("client_id") != self.state.application.id:
            return _oauth_error("invalid_client", "Unknown application")
        redirect_uri = query.get("redirect_uri", "")
        if not redirect_uri or (self.redirect_uris and redirect_uri not in self.redirect_uris):
            return _oauth_error("invalid_request", "Invalid OAuth2 redirect_uri")
        if query.get("response_type") != "code":
            return _oauth_error("unsupported_response_type", "response_type must be code")
        if self.signed_in_user is None:
            return _oauth_error("access_denied", "nobody is signed in to the fake (authorize_as)")
        code = secrets.token_urlsafe(20)
        scopes = tuple(query.get("scope", "").split())
        self._codes[code] = _Code(self.signed_in_user, redirect_uri, scopes)
        reply = {"code": code}
        if "state" in query:
            reply["state"] = query["state"]
        separator = "&" if "?" in redirect_uri else "?"
        return RedirectResponse(f"{redirect_uri}{separator}{urlencode(reply)}", status_code=302)

    def _client(self, request: Request, fields: dict[str, str]) -> tuple[str, str]:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "basic":
            client_id, _, secret = base64.b64decode(value).decode().partition(":")
            return client_id, secret
        return fields.get("client_id", ""), fields.get("client_secret", "")

    async def token(self, call: Call) -> Response:
        fields = dict(parse_qsl(call.raw.decode(errors="replace")))
        client_id, secret = self._client(call.request, fields)
        if client_id != self.state.application.id or secret != self.client_secret:
            return _oauth_error("invalid_client", "Invalid client", 401)
        if fields.get("grant_type") != "authorization_code":
            return _oauth_error("unsupported_grant_type", "Unsupported grant type")
        pending = self._codes.pop(fields.get("code", ""), None)
        if pending is None or pending.redirect_uri != fields.get("redirect_uri"):
            return _oauth_error("invalid_grant", 'Invalid "code" in request.')
        token = secrets.token_urlsafe(24)
        self.state.bearer_tokens[token] = (pending.user_id, pending.scopes)
        return ok(
            {
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": TOKEN_SECONDS,
                "refresh_token": secrets.token_urlsafe(24),
                "scope": " ".join(pending.scopes),
            }
        )
