"""``/mcp`` of the API: the MCP server over streamable HTTP, stateless (each request says
its key again, and runs as who that key is at that moment), answering ``POST`` in plain JSON
(no ``GET`` stream: nothing is ever sent unasked).

A request without a valid key is answered ``401`` before the MCP layer sees it, one whose key
may not act in the community asked for (``?community=<id>``) ``403``, as the HTTP API does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import parse_qs

from mcp.server.context import ServerRequestContext
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from starlette.datastructures import Headers
from starlette.types import Receive, Scope, Send

from waddlebot.core.tools import Toolbox
from waddlebot.features.shared import TOOLS
from waddlebot.mcp_server.callers import Asking, CallerRefused, KeyRefused, asking
from waddlebot.mcp_server.server import build_server
from waddlebot.web.deps import presented_key
from waddlebot.web.host import ApiHost
from waddlebot.web.problems import problem_response

ASKING = "waddlebot.mcp.asking"  # the scope's key for who the request runs as


async def _who(ctx: ServerRequestContext[object, object]) -> Asking:
    """Who the HTTP request carrying this message runs as (found by :class:`McpEndpoint`)."""
    found = getattr(ctx.request, "scope", {}).get(ASKING)
    if not isinstance(found, Asking):  # every request passes McpEndpoint first
        raise RuntimeError("an MCP request reached the server without its caller")
    return found


def _community(scope: Scope) -> int | None:
    """``?community=<id>``; ValueError when it is not a number."""
    given = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("community")
    if not given:
        return None
    number = int(given[-1])
    if number < 1:
        raise ValueError(number)
    return number


class McpEndpoint:
    """The ASGI app at ``/mcp``; it serves while :meth:`running` (the app's lifespan)."""

    def __init__(self) -> None:
        self._host: ApiHost | None = None
        self._tools: Toolbox | None = None
        self._manager: StreamableHTTPSessionManager | None = None

    @asynccontextmanager
    async def running(self, host: ApiHost) -> AsyncIterator[None]:
        tools = host.need(TOOLS)
        manager = StreamableHTTPSessionManager(
            build_server(host, tools, _who), stateless=True, json_response=True
        )
        async with manager.run():
            self._host, self._tools, self._manager = host, tools, manager
            try:
                yield
            finally:
                self._host = self._tools = self._manager = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        host, tools, manager = self._host, self._tools, self._manager
        if host is None or tools is None or manager is None:
            await problem_response(503, "the MCP server is starting or stopping", scope=scope)(
                scope, receive, send
            )
            return
        try:
            community = _community(scope)
        except ValueError:
            refusal = problem_response(400, "community: give a community id", scope=scope)
            await refusal(scope, receive, send)
            return
        try:
            who = await asking(host, tools, presented_key(Headers(scope=scope)), community)
        except KeyRefused as exc:
            refusal = problem_response(
                401, str(exc), scope=scope, headers={"WWW-Authenticate": "Bearer"}
            )
            await refusal(scope, receive, send)
            return
        except CallerRefused as exc:
            await problem_response(403, str(exc), scope=scope)(scope, receive, send)
            return
        await manager.handle_request({**scope, ASKING: who}, receive, send)
