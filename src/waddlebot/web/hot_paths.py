"""The endpoints platforms and collectors call hardest (webhooks, ``POST /api/v1/events``),
served ahead of FastAPI.

FastAPI finds a request's route by trying the routes one after the other, through every
included router, and every request first passes its own middleware (the outermost error
handler, a check of whether OpenTelemetry is configured, a body limit) and ours (request ids,
metrics): for a webhook, that took about as much of a delivery's time as the delivery itself
(``python -m bench.ingest``). :class:`HotPathApp` answers a few exact ``POST`` paths from a
dict before any of that, and does itself what those layers do that such a request needs: the
request id (``web/request_ids.py``), the request metrics (``web/request_metrics.py``), and
the app's exception handlers. Everything else goes to FastAPI as before. The routes stay
declared as FastAPI routes too, so they are in the OpenAPI document.

A hot endpoint is a plain Starlette endpoint (a :class:`Request` in, a response out). What it
raises is answered by the app's own exception handlers, as under FastAPI (an outage is a
503, a refusal is audited); anything else by the app's answer to a bug (a 500 with the
request id), and raised on to the server, which logs it, as Starlette's outermost middleware
does.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import structlog
from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from waddlebot.web.request_ids import HEADER, request_id_of
from waddlebot.web.request_metrics import observe

Endpoint = Callable[[Request], Awaitable[Response]]
Handler = Callable[[Request, Exception], Awaitable[Response]]


class HotPathApp(FastAPI):
    """FastAPI, with ``POST`` to the exact paths in :attr:`hot_paths` answered first."""

    hot_paths: Mapping[str, Route] = {}

    def serve_hot(self, endpoints: Mapping[str, Endpoint]) -> None:
        # as routes, so what reads the scope's route (the request metrics) sees its template
        self.hot_paths = {
            path: Route(path, endpoint, methods=["POST"]) for path, endpoint in endpoints.items()
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and not scope.get("root_path"):
            route = self.hot_paths.get(scope["path"])
            if route is not None:
                await self._serve(route, scope, receive, send)
                return
        await super().__call__(scope, receive, send)

    async def _serve(self, route: Route, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        scope["app"] = self
        scope["route"] = route
        request_id = request_id_of(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        tokens = structlog.contextvars.bind_contextvars(request_id=request_id)
        request = Request(scope, receive)
        status = 500
        try:
            try:
                response = await route.endpoint(request)
            except Exception as exc:
                handler = _handler_of(self.exception_handlers, exc)
                if handler is None:  # a bug: answered, then raised on for the server to log
                    status = await self._answer_bug(request, exc, send)
                    raise
                response = await handler(request, exc)
            response.raw_headers.append((HEADER, request_id.encode("ascii")))
            status = response.status_code
            await response(scope, receive, send)
        finally:
            observe("POST", route.path, status, time.perf_counter() - started)
        # left bound after a bug, as RequestIds does: the server logs it in this task next
        structlog.contextvars.reset_contextvars(**tokens)

    async def _answer_bug(self, request: Request, exc: Exception, send: Send) -> int:
        handlers: Mapping[Any, Any] = self.exception_handlers  # WaddleBot's are all async
        handler: Handler | None = handlers.get(500) or handlers.get(Exception)
        if handler is None:  # the server answers 500 itself
            return 500
        response = await handler(request, exc)
        await response(request.scope, request.receive, send)
        return response.status_code


def _handler_of(handlers: Mapping[Any, Any], exc: Exception) -> Handler | None:
    """The app's exception handler for ``exc``, looked up as Starlette's exception middleware
    does: an HTTP error's status first, then the classes of the exception, most specific
    first. The handler of last resort (``Exception`` or 500) is the bug's, left to
    :meth:`HotPathApp._answer_bug`."""
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
