"""Every Helix call passes here: bearer token + Client-Id check, then the per-app/per-user point
bucket, whose state is reported in ``Ratelimit-*`` headers on every answer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .limits import TokenBucket
from .model import Token, TwitchState
from .wire import helix_error

Handler = Callable[[Request, Token], Awaitable[Response]]


class HelixGate:
    def __init__(self, state: TwitchState, points_per_minute: int) -> None:
        self.state = state
        self.points_per_minute = points_per_minute
        self._buckets: dict[tuple[str, str | None], TokenBucket] = {}
        self.throttled = 0  # how many calls were answered 429 for lack of points

    def bucket(self, client_id: str, user_id: str | None = None) -> TokenBucket:
        key = (client_id, user_id)
        if key not in self._buckets:
            self._buckets[key] = TokenBucket(self.points_per_minute, 60.0, self.state.clock)
        return self._buckets[key]

    def authenticate(self, request: Request) -> Token | Response:
        header = request.headers.get("authorization")
        if not header:
            return helix_error(401, "OAuth token is missing")
        scheme, _, value = header.partition(" ")
        token = self.state.live_token(value) if scheme.lower() == "bearer" else None
        if token is None:
            return helix_error(401, "Invalid OAuth token")
        client_id = request.headers.get("client-id")
        if not client_id:
            return helix_error(401, "Client-Id header required")
        if client_id != token.client_id:
            return helix_error(401, "Client ID and OAuth token do not match")
        return token

    def route(self, path: str, handler: Handler, methods: list[str]) -> Route:
        async def endpoint(request: Request) -> Response:
            token = self.authenticate(request)
            if isinstance(token, Response):
                return token
            bucket = self.bucket(token.client_id, token.user_id)
            if bucket.take():
                response = await handler(request, token)
            else:
                self.throttled += 1
                response = helix_error(429, "Too Many Requests")
            response.headers.update(bucket.headers())
            return response

        return Route(path, endpoint, methods=methods)


def missing_scope(token: Token, *anyof: str) -> Response | None:
    """401 unless the token carries one of ``anyof``, as Helix answers a missing scope."""
    if any(scope in token.scopes for scope in anyof):
        return None
    return helix_error(401, f"Missing scope: {' or '.join(anyof)}")
