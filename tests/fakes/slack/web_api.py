"""The Web API's plumbing: ``/api/<method>`` over GET or POST with arguments in the query
string, a form body or a JSON body; the token from ``Authorization: Bearer`` (or a ``token``
argument, except in JSON bodies, where Slack does not read it); forced and realistic 429s; and
every call recorded. Failures are HTTP 200 with ``{"ok": false, "error": ...}``, as on Slack."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import wire
from .model import Call, SlackState, Team, Token, TokenKind
from .ratelimit import ForcedLimits


class ApiError(Exception):
    """Answer ``{"ok": false, "error": error, **fields}``."""

    def __init__(self, error: str, status: int = 200, **fields: Any) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.fields = fields


class RateLimited(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


@dataclass
class ApiRequest:
    method: str
    params: dict[str, Any]
    token: Token | None
    basic_auth: tuple[str, str] | None  # (client_id, client_secret) from HTTP Basic
    state: SlackState

    def arg(self, name: str, default: str = "") -> str:
        value = self.params.get(name)
        return default if value is None else str(value)

    def flag(self, name: str) -> bool:
        return wire.truthy(self.params.get(name, False))

    def require(self, name: str, error: str = "invalid_arguments") -> str:
        value = self.arg(name)
        if not value:
            raise ApiError(error)
        return value

    def check_client(self, client_id: str, client_secret: str) -> None:
        """A token endpoint's client authentication: HTTP Basic, else the form's fields."""
        given_id, secret = self.basic_auth or (self.arg("client_id"), self.arg("client_secret"))
        if given_id != client_id:
            raise ApiError("invalid_client_id")
        if secret != client_secret:
            raise ApiError("bad_client_secret")

    @property
    def team(self) -> Team:
        assert self.token is not None and self.token.team_id is not None
        return self.state.teams[self.token.team_id]


Handler = Callable[[ApiRequest], Awaitable[dict[str, Any]]]
WORKSPACE_TOKENS: tuple[TokenKind, ...] = ("bot", "user")


@dataclass
class Method:
    handler: Handler
    tokens: frozenset[TokenKind] | None  # None: the method takes no token


class WebApi:
    def __init__(self, state: SlackState) -> None:
        self.state = state
        self.forced = ForcedLimits()
        self.methods: dict[str, Method] = {}

    def register(
        self, name: str, handler: Handler, tokens: Iterable[TokenKind] | None = WORKSPACE_TOKENS
    ) -> None:
        self.methods[name] = Method(handler, None if tokens is None else frozenset(tokens))

    def routes(self) -> list[Route]:
        return [Route("/api/{method}", self.endpoint, methods=["GET", "POST"])]

    async def endpoint(self, request: Request) -> Response:
        name = request.path_params["method"]
        params: dict[str, Any] = {}
        raw_token: str | None = None
        status, headers = 200, {}
        try:
            params, raw_token, basic = await _read(request)
            body = await self._answer(name, params, raw_token, basic)
        except ApiError as failure:
            status, body = failure.status, {"ok": False, "error": failure.error, **failure.fields}
        except RateLimited as limited:
            status, body = 429, {"ok": False, "error": "ratelimited"}
            headers = {"Retry-After": str(limited.retry_after)}
        call = Call(name, params, raw_token, self.state.clock(), status, body)
        self.state.record_call(call)
        return JSONResponse(body, status_code=status, headers=headers)

    async def _answer(
        self,
        name: str,
        params: dict[str, Any],
        raw_token: str | None,
        basic: tuple[str, str] | None,
    ) -> dict[str, Any]:
        method = self.methods.get(name)
        if method is None:
            raise ApiError("unknown_method", status=404, req_method=name)
        retry_after = self.forced.take(name)
        if retry_after is not None:
            raise RateLimited(retry_after)
        token = None if method.tokens is None else self._authenticate(raw_token, method.tokens)
        result = await method.handler(ApiRequest(name, params, token, basic, self.state))
        return {"ok": True, **result}

    def _authenticate(self, raw_token: str | None, allowed: frozenset[TokenKind]) -> Token:
        if not raw_token:
            raise ApiError("not_authed")
        token = self.state.tokens.get(raw_token)
        if token is None:
            raise ApiError("invalid_auth")
        if token.revoked:
            raise ApiError("token_revoked")
        if token.kind not in allowed:
            raise ApiError("not_allowed_token_type")
        return token


async def _read(request: Request) -> tuple[dict[str, Any], str | None, tuple[str, str] | None]:
    """(arguments, token, basic auth) of a Web API request."""
    params: dict[str, Any] = dict(request.query_params)
    raw = await request.body()
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media == "application/json":
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            raise ApiError("invalid_json") from None
        if not isinstance(body, dict):
            raise ApiError("invalid_json")
        body.pop("token", None)  # Slack reads a JSON request's token from the header only
        params.update(body)
    elif media in ("", "application/x-www-form-urlencoded"):
        params.update(parse_qsl(raw.decode(errors="replace"), keep_blank_values=True))
    else:
        raise ApiError("invalid_form_data")
    token = params.pop("token", None)
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    basic = None
    if scheme.lower() == "bearer" and credentials:
        token = credentials.strip()
    elif scheme.lower() == "basic" and credentials:
        basic = _basic(credentials)
    return params, token, basic


def _basic(credentials: str) -> tuple[str, str] | None:
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, separator, password = decoded.partition(":")
    return (user, password) if separator else None
