"""The id.twitch.tv half: ``/oauth2/authorize``, ``/token``, ``/validate`` and ``/revoke``."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from .model import Token, TwitchState
from .wire import new_token, oauth_error


async def _fields(request: Request) -> dict[str, str]:
    """Query string plus form body: Twitch takes a form, many clients use the query string.
    (Parsed by hand: Starlette's form parser needs python-multipart, not a project dependency.)"""
    fields = dict(request.query_params)
    fields.update(parse_qsl((await request.body()).decode(errors="replace")))
    return fields


@dataclass
class _PendingCode:
    client_id: str
    user_id: str
    redirect_uri: str
    scopes: tuple[str, ...]


class OAuth:
    def __init__(self, state: TwitchState) -> None:
        self.state = state
        self.signed_in_user: str | None = None  # who "clicks Authorize" on /oauth2/authorize
        self.deny_next = False
        self._codes: dict[str, _PendingCode] = {}

    def routes(self) -> list[Route]:
        return [
            Route("/authorize", self.authorize, methods=["GET"]),
            Route("/token", self.token, methods=["POST"]),
            Route("/validate", self.validate, methods=["GET"]),
            Route("/revoke", self.revoke, methods=["POST"]),
        ]

    # --- issuing, shared with the test controls ---------------------------------------------

    def issue(self, client_id: str, user_id: str | None, scopes: tuple[str, ...] = ()) -> Token:
        lifetime = (
            self.state.app_token_lifetime if user_id is None else self.state.user_token_lifetime
        )
        token = Token(
            access_token=new_token(),
            client_id=client_id,
            user_id=user_id,
            scopes=scopes,
            expires_at=self.state.clock() + lifetime,
            refresh_token=None if user_id is None else new_token(),
        )
        self.state.tokens[token.access_token] = token
        if token.refresh_token:
            self.state.refresh_tokens[token.refresh_token] = token
        if user_id is not None:
            self.state.grants.setdefault((client_id, user_id), set()).update(scopes)
        return token

    def _token_body(self, token: Token) -> dict[str, object]:
        body: dict[str, object] = {
            "access_token": token.access_token,
            "expires_in": int(token.expires_at - self.state.clock()),
            "token_type": "bearer",
        }
        if not token.is_app:
            body["refresh_token"] = token.refresh_token
            body["scope"] = list(token.scopes)
        return body

    # --- endpoints ---------------------------------------------------------------------------

    async def authorize(self, request: Request) -> Response:
        params = request.query_params
        client = self.state.clients.get(params.get("client_id", ""))
        if client is None:
            return oauth_error(400, "invalid client")
        redirect_uri = params.get("redirect_uri", "")
        if not redirect_uri or (client.redirect_uris and redirect_uri not in client.redirect_uris):
            return oauth_error(400, "Parameter redirect_uri does not match registered URI")
        if params.get("response_type") != "code":
            return oauth_error(400, "unsupported response_type")
        scope_text = params.get("scope", "")
        reply: dict[str, str] = {}
        if self.deny_next:
            self.deny_next = False
            reply = {"error": "access_denied", "error_description": "The user denied you access"}
        elif self.signed_in_user is None:
            return oauth_error(400, "no user is signed in to the fake (call authorize_as first)")
        else:
            code = new_token()
            self._codes[code] = _PendingCode(
                client.client_id, self.signed_in_user, redirect_uri, tuple(scope_text.split())
            )
            reply = {"code": code, "scope": scope_text}
        if "state" in params:
            reply["state"] = params["state"]
        separator = "&" if "?" in redirect_uri else "?"
        return RedirectResponse(f"{redirect_uri}{separator}{urlencode(reply)}", status_code=302)

    async def token(self, request: Request) -> Response:
        fields = await _fields(request)
        client = self.state.clients.get(fields.get("client_id", ""))
        if client is None:
            return oauth_error(400, "invalid client")
        if fields.get("client_secret") != client.secret:
            return oauth_error(403, "invalid client secret")
        grant = fields.get("grant_type")
        if grant == "client_credentials":
            return JSONResponse(self._token_body(self.issue(client.client_id, None)))
        if grant == "authorization_code":
            pending = self._codes.pop(fields.get("code", ""), None)
            if (
                pending is None
                or pending.client_id != client.client_id
                or pending.redirect_uri != fields.get("redirect_uri")
            ):
                return oauth_error(400, "Invalid authorization code")
            token = self.issue(client.client_id, pending.user_id, pending.scopes)
            return JSONResponse(self._token_body(token))
        if grant == "refresh_token":
            old = self.state.refresh_tokens.get(fields.get("refresh_token", ""))
            if old is None or old.client_id != client.client_id:
                return oauth_error(400, "Invalid refresh token")
            # The refresh token rotates: the old one is spent, the old access token lives on.
            del self.state.refresh_tokens[fields["refresh_token"]]
            token = self.issue(client.client_id, old.user_id, old.scopes)
            return JSONResponse(self._token_body(token))
        return oauth_error(400, "unsupported grant type")

    async def validate(self, request: Request) -> Response:
        self.state.validate_calls += 1
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() not in ("oauth", "bearer") or not value:
            return oauth_error(401, "missing authorization token")
        known = self.state.tokens.get(value)
        if known is not None:
            known.validate_calls += 1
        token = self.state.live_token(value)
        if token is None:
            return oauth_error(401, "invalid access token")
        body: dict[str, object] = {"client_id": token.client_id, "scopes": list(token.scopes)}
        if token.user_id is not None:
            user = self.state.user(token.user_id)
            body.update(login=user.login, user_id=user.id)
        body["expires_in"] = int(token.expires_at - self.state.clock())
        return JSONResponse(body)

    async def revoke(self, request: Request) -> Response:
        fields = await _fields(request)
        if fields.get("client_id", "") not in self.state.clients:
            return oauth_error(404, "client does not exist")
        token = self.state.tokens.get(fields.get("token", ""))
        if token is None or token.client_id != fields["client_id"]:
            return oauth_error(400, "Invalid token")
        token.revoked = True
        return Response(status_code=200)
