"""The MCP server: the tools a caller may use (:meth:`Toolbox.of`), and read-only resources
that show what some of them answer without arguments. A refused call comes back as a tool
error with the reason, as the model or the assistant should see it."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.shared.exceptions import MCPError

from waddlebot import __version__
from waddlebot.core.services import Provider
from waddlebot.core.tools import Tool, Toolbox, ToolRefused
from waddlebot.mcp_server.callers import Asking

INSTRUCTIONS = (
    "WaddleBot, a community chat bot: its tools read and change one community's quotes, "
    "calendar, inventory and custom commands, as the person whose API key is used."
)


@dataclass(frozen=True, slots=True)
class Resource:
    """A resource: what tool ``tool`` answers to ``arguments``."""

    uri: str
    name: str
    description: str
    tool: str
    arguments: Mapping[str, Any]


RESOURCES = (
    Resource(
        "waddlebot://community",
        "community",
        "The community: name, prefix, time zone, places and whether they are live",
        "community_info",
        {},
    ),
    Resource(
        "waddlebot://calendar/upcoming",
        "upcoming events",
        "The community's next events, within 30 days",
        "calendar_upcoming",
        {"limit": 20},
    ),
    Resource(
        "waddlebot://quotes/latest",
        "latest quotes",
        "The community's newest quotes, newest first",
        "quote_latest",
        {"limit": 10},
    ),
    Resource(
        "waddlebot://inventory",
        "inventory",
        "The community's items, and who has which",
        "inventory_list",
        {"limit": 25},
    ),
    Resource(
        "waddlebot://commands",
        "custom commands",
        "The community's custom commands and their answers",
        "custom_command_list",
        {"limit": 50},
    ),
)

WhoIsAsking = Callable[[ServerRequestContext[Any, Any]], Awaitable[Asking]]


def _tool(tool: Tool) -> types.Tool:
    return types.Tool(
        name=tool.name,
        description=tool.description,
        input_schema=dict(tool.parameters),
        annotations=types.ToolAnnotations(read_only_hint=not tool.writes),
    )


def _text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def build_server(host: Provider, tools: Toolbox, who: WhoIsAsking) -> Server[Any]:
    """The server over ``tools``; ``who(ctx)`` says whom each request runs as."""

    async def list_tools(
        ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        asking = await who(ctx)
        return types.ListToolsResult(
            tools=[_tool(tool) for tool in tools.of(asking.caller, off=asking.off)]
        )

    async def call_tool(
        ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        asking = await who(ctx)
        try:
            answer = await tools.call(
                host, asking.caller, params.name, params.arguments or {}, off=asking.off
            )
        except ToolRefused as exc:
            return types.CallToolResult(
                content=[types.TextContent(type="text", text=str(exc))], is_error=True
            )
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=_text(answer))],
            structured_content=answer if isinstance(answer, dict) else None,
        )

    def readable(asking: Asking) -> list[Resource]:
        usable = {tool.name for tool in tools.of(asking.caller, off=asking.off)}
        return [resource for resource in RESOURCES if resource.tool in usable]

    async def list_resources(
        ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        asking = await who(ctx)
        return types.ListResourcesResult(
            resources=[
                types.Resource(
                    uri=resource.uri,
                    name=resource.name,
                    description=resource.description,
                    mime_type="application/json",
                )
                for resource in readable(asking)
            ]
        )

    async def read_resource(
        ctx: ServerRequestContext[Any, Any], params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult:
        asking = await who(ctx)
        found = next((r for r in readable(asking) if r.uri == str(params.uri)), None)
        if found is None:
            raise MCPError(types.INVALID_PARAMS, f"there is no resource {params.uri}")
        try:
            answer = await tools.call(
                host, asking.caller, found.tool, found.arguments, off=asking.off
            )
        except ToolRefused as exc:
            raise MCPError(types.INVALID_PARAMS, str(exc)) from exc
        return types.ReadResourceResult(
            contents=[
                types.TextResourceContents(
                    uri=found.uri, mime_type="application/json", text=_text(answer)
                )
            ]
        )

    return Server(
        "waddlebot",
        version=__version__,
        instructions=INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_resources=list_resources,
        on_read_resource=read_resource,
    )
