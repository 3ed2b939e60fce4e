"""The ASGI application of one process: every service (embedded, ``waddlebot up``) or a few."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from typing import TYPE_CHECKING

from fastapi import FastAPI
from starlette.routing import Route

from waddlebot import __version__, mcp_server
from waddlebot.features import builtin_features
from waddlebot.features.kong.declarative import EXPOSED, RouteTables
from waddlebot.features.shared import ROUTE_TABLES
from waddlebot.platforms import BUILTINS
from waddlebot.portal import shell as portal
from waddlebot.router import api
from waddlebot.runtime import SERVICES, Runtime
from waddlebot.settings import Settings
from waddlebot.web import errors, health, openapi, outages
from waddlebot.web.docs import add_docs
from waddlebot.web.hot_paths import Endpoint, HotPathApp
from waddlebot.web.request_ids import RequestIds
from waddlebot.web.request_metrics import RequestMetrics
from waddlebot.web.route_table import RouteEntry, route_table

if TYPE_CHECKING:
    from waddlebot.mcp_server.http import McpEndpoint


def create_app(
    settings: Settings,
    services: Iterable[str] = SERVICES,
    runtime: Runtime | None = None,
    *,
    stop_runtime: bool = False,
) -> FastAPI:
    """The app; it starts its runtime in its lifespan, unless given one already started (then
    whoever started it stops it, or the app's shutdown does when ``stop_runtime``)."""
    chosen = frozenset(services)
    mcp = _mcp_endpoint() if "api" in chosen else None

    def serving_mcp(host: Runtime) -> AbstractAsyncContextManager[None]:
        return nullcontext() if mcp is None else mcp.running(host)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if runtime is not None:
            app.state.runtime = runtime
            try:
                async with serving_mcp(runtime):
                    yield
            finally:
                if stop_runtime:
                    await runtime.stop()
            return
        app.state.runtime = started = await Runtime.start(settings, chosen)
        started.provide(ROUTE_TABLES, _route_tables)
        try:
            async with serving_mcp(started):
                yield
        finally:
            await started.stop()

    app = HotPathApp(
        title="WaddleBot",
        version=__version__,
        description="One community chat bot for Twitch, Discord and Slack at once.",
        lifespan=lifespan,
        docs_url=None,  # served from the package instead of a CDN: web/docs.py
        redoc_url=None,
    )
    errors.install(app)
    outages.install(app)
    app.serve_hot(_hot_paths(chosen))
    app.add_middleware(RequestMetrics)
    app.add_middleware(RequestIds)  # outermost: the metrics' work is logged with the id
    add_docs(app)
    app.include_router(health.router)
    if mcp is not None:  # the MCP server over streamable HTTP (docs/mcp.md)
        # stateless: no GET stream to open, no session to DELETE
        app.router.routes.append(
            Route(mcp_server.PATH, mcp, methods=["POST"], include_in_schema=False)
        )
    if "api" in chosen:
        app.include_router(api.router)
        for platform in BUILTINS:
            for router in platform.api_routes():
                app.include_router(router)
    for platform in BUILTINS:  # webhooks, OAuth pages, interactions, the console's socket
        if platform.name in chosen:
            for router in platform.routes():
                app.include_router(router)
    for feature in builtin_features():
        for route in feature.routes_for(chosen):
            if route.on_include is not None:
                route.on_include()
            guards = portal.GUARDS if route.service == "portal" else ()
            app.include_router(route.router, dependencies=guards)
    if "portal" in chosen:  # the shell at /, after every other route it must not shadow
        portal.install(app, [page for feature in builtin_features() for page in feature.pages])
    openapi.install(app, api.event_schemas if "api" in chosen else dict)
    return app


def _mcp_endpoint() -> McpEndpoint | None:
    """``/mcp``, when the ``mcp`` SDK is installed (the ``ai`` extra)."""
    if not mcp_server.available():
        return None
    from waddlebot.mcp_server.http import McpEndpoint

    return McpEndpoint()


@functools.cache
def exposed_route_tables() -> dict[str, list[RouteEntry]]:
    """Each service Kong routes to, with its routes in order: those of the app it runs (the
    code's routes, not a deployment's), for Kong's configuration."""
    settings = Settings(_env_file=None)
    return {service: route_table(create_app(settings, {service})) for service in EXPOSED}


def _route_tables() -> RouteTables:
    return exposed_route_tables()


def _hot_paths(chosen: frozenset[str]) -> dict[str, Endpoint]:
    """The hot endpoints of the routes this process serves (web/hot_paths.py)."""
    endpoints: dict[str, Endpoint] = {}
    if "api" in chosen:
        endpoints[api.EVENTS_PATH] = api.post_events_hot
    for platform in BUILTINS:
        if platform.name in chosen:
            endpoints.update(platform.hot_paths())
    return endpoints


@asynccontextmanager
async def started_app(
    settings: Settings, services: Iterable[str] = SERVICES
) -> AsyncIterator[FastAPI]:
    """The app with its runtime started first, so a failure to start reaches the caller as
    itself (see cli/serving.py). The runtime stops with the server's shutdown: uvicorn ends
    its run by raising the signal that stopped it again, so after ``serve()`` returns nothing
    more would run; it also stops when the context ends (stopping twice is harmless)."""
    chosen = frozenset(services)
    runtime = await Runtime.start(settings, chosen)
    runtime.provide(ROUTE_TABLES, _route_tables)
    try:
        yield create_app(settings, chosen, runtime, stop_runtime=True)
    finally:
        await runtime.stop()
