"""``waddlebot mcp serve --stdio``: the MCP server on this process's stdin and stdout, for
an assistant that starts it (Claude Desktop and the like). The key comes from
``WADDLEBOT_MCP_API_KEY``; each request is checked against it again, so a revoked key or a
changed role counts at once."""

from __future__ import annotations

from mcp.server.context import ServerRequestContext
from mcp.server.stdio import stdio_server

from waddlebot.features.shared import TOOLS
from waddlebot.mcp_server.callers import Asking, asking
from waddlebot.mcp_server.server import build_server
from waddlebot.web.host import ApiHost


async def serve_stdio(host: ApiHost, key: str, community: int | None) -> None:
    """Serve until stdin closes. :class:`~waddlebot.mcp_server.callers.CallerRefused` before
    anything is served when the key may not act (the command says why and exits)."""
    tools = host.need(TOOLS)
    await asking(host, tools, key, community)

    async def who(ctx: ServerRequestContext[object, object]) -> Asking:
        return await asking(host, tools, key, community)

    server = build_server(host, tools, who)
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())
