"""Per-route request metrics: ``waddlebot_http_requests_total`` and
``waddlebot_http_request_seconds``, labelled by method, route template
(``/api/v1/memories/communities/{community_id}/quotes``, never the path asked for, which
would make a series per community and per number) and status class (``2xx``...``5xx``).

A request no route took (a 404 for an unknown path) counts under the route ``unmatched``; a
mounted app (the Swagger UI files) under its mount path. Pure ASGI, for the same reason as
``web/request_ids.py``; WebSockets are not counted (their life is not a request's).
"""

from __future__ import annotations

import functools
import time

from prometheus_client.metrics import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from waddlebot.infra import metrics

UNMATCHED = "unmatched"


def route_of(scope: Scope) -> str:
    """The template of the route that took the request (FastAPI puts it in the scope)."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    if "app_root_path" in scope:  # a mount took it, and made its path the root path
        return str(scope.get("root_path", ""))
    return UNMATCHED


@functools.cache
def _series(method: str, route: str, status_class: str) -> tuple[Counter, Histogram]:
    # the labelled children, looked up once: ``labels()`` takes a lock and checks its
    # arguments on every call, a few microseconds a request on the webhooks' hot path
    labels = (method, route, status_class)
    return metrics.HTTP_REQUESTS.labels(*labels), metrics.HTTP_LATENCY.labels(*labels)


def observe(method: str, route: str, status: int, seconds: float) -> None:
    """Count one answered request and its time."""
    requests, latency = _series(method, route, f"{status // 100}xx")
    requests.inc()
    latency.observe(seconds)


class RequestMetrics:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the server answers when the app fails before starting an answer

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            observe(scope["method"], route_of(scope), status, time.perf_counter() - started)
