"""The endpoints platforms and collectors call hardest (webhooks, ``POST /api/v1/events``),
served ahead of the route table.

FastAPI finds a request's route by trying the routes one after the other, through every
included router: with a hundred routes that took more of a webhook delivery's time than the
delivery itself (``python -m bench.ingest``). :class:`HotPaths` answers a few exact
``POST`` paths from a dict instead and lets everything else through to FastAPI. The routes
stay declared as FastAPI routes too, so they are in the OpenAPI document.

A hot endpoint is a plain Starlette endpoint (a :class:`Request` in, a response out). What it
raises is answered by the app's own exception handlers, as under FastAPI (an outage is a
503, a refusal is audited); anything they do not handle goes on up as a bug.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

Endpoint = Callable[[Request], Awaitable[Response]]
Handler = Callable[[Request, Exception], Awaitable[Response]]


class HotPaths:
    """ASGI middleware answering ``POST`` to the exact paths in ``endpoints``."""

    def __init__(self, app: ASGIApp, endpoints: Mapping[str, Endpoint]) -> None:
        self.app = app
        # as routes, so what reads the scope's route (the request metrics) sees its template
        self.routes = {
            path: Route(path, endpoint, methods=["POST"]) for path, endpoint in endpoints.items()
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and not scope.get("root_path"):
            route = self.routes.get(scope["path"])
            if route is not None:
                scope["route"] = route
                await self._serve(route.endpoint, scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _serve(self, endpoint: Any, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            response = await endpoint(request)
        except Exception as exc:
            handler = _handler_of(request, exc)
            if handler is None:
                raise
            response = await handler(request, exc)
        await response(scope, receive, send)


def _handler_of(request: Request, exc: Exception) -> Handler | None:
    """The app's exception handler for ``exc``, looked up as Starlette's exception middleware
    does: an HTTP error's status first, then the classes of the exception, most specific
    first. The handler of last resort (``Exception`` or 500) is left to the server-error
    middleware, which also logs the bug."""
    handlers = request.app.exception_handlers
    if isinstance(exc, HTTPException) and exc.status_code != 500:
        by_status: Handler | None = handlers.get(exc.status_code)
        if by_status is not None:
            return by_status
    for kind in type(exc).__mro__:
        if kind is Exception:
            return None
        handler: Handler | None = handlers.get(kind)
        if handler is not None:
            return handler
    return None
