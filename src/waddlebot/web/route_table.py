"""Every route an app serves, flat, with what it takes to call it: what the gateway in front
(``waddlebot kong config``) is generated from.

Who may call a route is read from the app's own OpenAPI document: an operation that declares
a security requirement (``web/deps.py``: an API key or a session) needs a key; one that does
not (webhooks, OAuth pages, the calendar feed, login) authenticates itself or is public.
Routes outside the document are told apart by kind: WebSockets carry their own token in the
path (overlay pages), the health router's routes are for the cluster only.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from fastapi import FastAPI
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute

from waddlebot.web import health


class Access(StrEnum):
    KEY = "key"  # an API key (or a session) is required
    PUBLIC = "public"  # no key: the route checks its caller itself, or is public
    INTERNAL = "internal"  # health and metrics: never exposed through the gateway


@dataclass(frozen=True)
class RouteEntry:
    path: str  # the template, e.g. /api/v1/identity/communities/{community_id}
    methods: tuple[str, ...]  # empty for a WebSocket
    access: Access
    prefix: bool = False  # a mount: everything under path
    websocket: bool = False


INTERNAL_PATHS = frozenset(route.path for route in health.router.routes)  # type: ignore[attr-defined]


def flat_routes(routes: Iterable[BaseRoute]) -> Iterator[BaseRoute]:
    """The routes, with those of included routers in place. FastAPI keeps an included router
    as one entry holding the original (``original_router``; its prefix in
    ``include_context``), so they are opened here; tests compare the result with the OpenAPI
    document, which fails if FastAPI changes that."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is None:
            yield route
            continue
        prefix = getattr(getattr(route, "include_context", None), "prefix", "") or ""
        if prefix:
            raise NotImplementedError(f"a router included with a prefix ({prefix})")
        yield from flat_routes(inner.routes)


def _secured(document: dict[str, Any]) -> dict[tuple[str, str], bool]:
    secured = {}
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            if isinstance(operation, dict) and "responses" in operation:
                secured[(method.upper(), path)] = bool(operation.get("security"))
    return secured


def route_table(app: FastAPI) -> list[RouteEntry]:
    """The app's routes, in the order it tries them."""
    secured = _secured(app.openapi())
    entries = []
    for route in flat_routes(app.routes):
        if isinstance(route, WebSocketRoute) or type(route).__name__ == "APIWebSocketRoute":
            path = route.path  # type: ignore[attr-defined]
            entries.append(RouteEntry(path, (), Access.PUBLIC, websocket=True))
        elif isinstance(route, Mount):
            entries.append(RouteEntry(route.path, ("GET",), Access.PUBLIC, prefix=True))
        elif isinstance(route, Route):
            methods = tuple(sorted((route.methods or set()) - {"HEAD"}))
            if route.path in INTERNAL_PATHS:
                access = Access.INTERNAL
            elif any(secured.get((method, route.path)) for method in methods):
                access = Access.KEY
            else:
                access = Access.PUBLIC
            entries.append(RouteEntry(route.path, methods, access))
    return entries
