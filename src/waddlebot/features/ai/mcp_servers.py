"""A community's MCP servers, whose tools the model may call: each added by a community admin
in the ``ai`` settings (``mcp_servers``), by streamable HTTP URL or by the name of a command
the operator allowed (``WADDLEBOT_AI_MCP_COMMANDS``: a community never names a program to run
on the bot's host), and only the tools listed in ``mcp_tools`` (``"weather.forecast"``) are
offered. The model knows a server's tool as ``<server>-<tool>``: a name no built-in tool has
(theirs have no ``-``), and one both model APIs accept.

A session is kept open per community and server, in a small pool, rather than opened per
answer: a stdio server is a process, whose start (a second or more) is longer than a chat
answer can wait, and an HTTP one needs a handshake before its first call. A session unused
for ``WADDLEBOT_AI_MCP_IDLE_SECONDS`` is closed, the least recently used when the pool is
full, and all of them on stop. Each session is held by a task of its own: the SDK's client
must be entered and left in one task. A server that cannot be reached is logged and its
tools left out of the answer; it is tried again on the next."""

from __future__ import annotations

import asyncio
import shlex
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog

from waddlebot.core.services import Key
from waddlebot.core.tools import NAME_CHARACTERS, Caller
from waddlebot.features.ai.providers import ToolDefinition
from waddlebot.features.ai.tool_loop import OfferedTool, ToolFailed, ToolRun

if TYPE_CHECKING:
    from mcp import Client

log = structlog.get_logger("waddlebot.ai")

SERVER_NAME = "^[a-z][a-z0-9_]{0,29}$"
MAX_SESSIONS = 32  # per process: beyond it the least recently used is closed
SEPARATOR = "-"  # between the server's name and its tool's, as the model knows it
CHECK_SECONDS = 10.0  # an admin's check of a server waits this long (a stdio one starts first)

SERVERS_SCHEMA: dict[str, Any] = {
    "type": "array",
    "maxItems": 8,
    "default": [],
    "description": "MCP servers whose tools the model may call: "
    '{"name": "weather", "url": "https://.../mcp"} or {"name": "files", "command": "<a name '
    'the operator allowed>"}',
    "items": {
        "type": "object",
        "additionalProperties": False,
        "required": ["name"],
        "properties": {
            "name": {"type": "string", "pattern": SERVER_NAME},
            "url": {"type": "string", "pattern": "^https?://", "maxLength": 500},
            "command": {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,64}$"},
        },
        "oneOf": [{"required": ["url"]}, {"required": ["command"]}],
    },
}
TOOLS_SCHEMA: dict[str, Any] = {
    "type": "array",
    "items": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,29}\\.[^\\s]{1,64}$"},
    "uniqueItems": True,
    "maxItems": 64,
    "default": [],
    "description": 'the MCP tools offered, as "server.tool" (none listed: none offered)',
}


@dataclass(frozen=True, slots=True)
class ServerSpec:
    """Where a server is: ``url``, or ``command`` (the operator's command line it names)."""

    name: str
    url: str | None = None
    command: str | None = None


@dataclass(frozen=True, slots=True)
class ServerTool:
    """A tool a server offers, as a check lists it."""

    name: str
    description: str


class ServerUnavailable(Exception):
    """Why a server's tools could not be listed: said to the admin who checked it."""


class McpConnection:
    """One open session to one server, held by its own task until :meth:`close`."""

    def __init__(self, spec: ServerSpec, command_line: str | None) -> None:
        self.spec = spec
        self._command_line = command_line
        self.tools: list[Any] = []  # the server's tools (mcp.types.Tool), listed on opening
        self._client: Client | None = None
        self._ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self._hold(), name=f"mcp session {spec.name}")
        self.used = asyncio.get_running_loop().time()

    @property
    def broken(self) -> bool:
        return self._task.done() or (self._ready.done() and self._client is None)

    async def opened(self, within: float) -> None:
        """Wait for the session; :class:`TimeoutError` or why it could not open."""
        await asyncio.wait_for(asyncio.shield(self._ready), within)

    async def _hold(self) -> None:
        from mcp import Client

        try:
            async with Client(self._target()) as client:
                listing = await client.list_tools()  # the first page: plenty for a chat bot
                self.tools = list(listing.tools)
                self._client = client
                self._ready.set_result(None)
                await self._stop.wait()
        except Exception as exc:
            if not self._ready.done():
                self._ready.set_exception(exc)
            else:
                log.warning("ai mcp session ended", server=self.spec.name, reason=repr(exc))
        finally:
            self._client = None

    def _target(self) -> Any:
        if self.spec.url is not None:
            return self.spec.url
        from mcp.client.stdio import StdioServerParameters

        program, *args = shlex.split(self._command_line or "")
        return StdioServerParameters(command=program, args=args)

    async def call(self, tool: str, arguments: Mapping[str, Any]) -> str:
        """The tool's result as text; :class:`ToolFailed` when it reports an error. The
        caller bounds the time."""
        client = self._client
        if client is None:
            raise ToolFailed(f"the {self.spec.name} server is not connected")
        self.used = asyncio.get_running_loop().time()
        from mcp.shared.exceptions import MCPError

        try:
            result = await client.call_tool(tool, dict(arguments))
        except MCPError as exc:
            raise ToolFailed(exc.error.message) from exc
        text = "\n".join(
            block.text if block.type == "text" else f"[{block.type}]" for block in result.content
        )
        if result.is_error:
            raise ToolFailed(text or "the server reported an error")
        return text

    async def close(self) -> None:
        self._stop.set()
        if not self._ready.done():
            self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass


class McpServers:
    """The pool of sessions, and a :class:`~waddlebot.features.ai.tool_loop.ToolSource` of
    the allowed tools of a community's servers. ``commands``: the operator's command lines
    by name."""

    def __init__(self, commands: Mapping[str, str], *, idle_seconds: float) -> None:
        self._commands = dict(commands)
        self._idle_seconds = idle_seconds
        self._sessions: OrderedDict[tuple[int, ServerSpec], McpConnection] = OrderedDict()

    async def offer(
        self, caller: Caller, config: Mapping[str, Any], *, within: float
    ) -> list[OfferedTool]:
        allowed: dict[str, set[str]] = {}
        for entry in config.get("mcp_tools") or ():
            server, _, tool = str(entry).partition(".")
            allowed.setdefault(server, set()).add(tool)
        specs = [
            spec
            for spec in (server_spec(item) for item in config.get("mcp_servers") or ())
            if spec.name in allowed
        ]
        if not specs:
            return []
        await self._close_idle()
        found = await asyncio.gather(
            *(
                self._tools_of(caller.community_id, spec, allowed[spec.name], within)
                for spec in specs
            )
        )
        return [tool for tools in found for tool in tools]

    async def check(self, spec: ServerSpec, *, within: float = CHECK_SECONDS) -> list[ServerTool]:
        """The tools ``spec``'s server offers, from a session of its own (opened and closed
        here: a check sees the server as it is now, and leaves the pool alone);
        :class:`ServerUnavailable` saying why not."""
        if spec.command is not None and spec.command not in self._commands:
            raise ServerUnavailable(
                f"the operator allows no MCP command named {spec.command} "
                "(WADDLEBOT_AI_MCP_COMMANDS)"
            )
        session = McpConnection(spec, self._commands.get(spec.command or ""))
        try:
            await session.opened(within)
        except TimeoutError as exc:
            raise ServerUnavailable(
                f"the {spec.name} server did not answer within {within:g} seconds"
            ) from exc
        except Exception as exc:
            log.warning("ai mcp check failed", server=spec.name, reason=repr(exc))
            raise ServerUnavailable(
                f"the {spec.name} server could not be reached, or did not speak MCP"
            ) from exc
        finally:
            await session.close()
        return [ServerTool(tool.name, tool.description or "") for tool in session.tools]

    async def _tools_of(
        self, community_id: int, spec: ServerSpec, allowed: set[str], within: float
    ) -> list[OfferedTool]:
        if spec.command is not None and spec.command not in self._commands:
            log.warning(
                "ai mcp command not allowed by the operator",
                community_id=community_id,
                server=spec.name,
                command=spec.command,
            )
            return []
        session = await self._session(community_id, spec)
        try:
            await session.opened(within)
        except Exception as exc:
            log.warning(
                "ai mcp server unavailable",
                community_id=community_id,
                server=spec.name,
                reason=repr(exc) if not isinstance(exc, TimeoutError) else "no answer in time",
            )
            return []
        return [
            OfferedTool(
                ToolDefinition(
                    f"{spec.name}{SEPARATOR}{tool.name}",
                    tool.description or "",
                    tool.input_schema or {"type": "object"},
                ),
                _runner(session, tool.name),
            )
            for tool in session.tools
            if tool.name in allowed and _fits(f"{spec.name}{SEPARATOR}{tool.name}")
        ]

    async def _session(self, community_id: int, spec: ServerSpec) -> McpConnection:
        key = (community_id, spec)
        session = self._sessions.get(key)
        if session is not None and not session.broken:
            self._sessions.move_to_end(key)
            session.used = asyncio.get_running_loop().time()
            return session
        if session is not None:  # down since: try it anew
            del self._sessions[key]
            await session.close()
        session = McpConnection(spec, self._commands.get(spec.command or ""))
        self._sessions[key] = session
        while len(self._sessions) > MAX_SESSIONS:
            _, oldest = self._sessions.popitem(last=False)
            await oldest.close()
        return session

    async def _close_idle(self) -> None:
        now = asyncio.get_running_loop().time()
        idle = [k for k, s in self._sessions.items() if now - s.used > self._idle_seconds]
        for key in idle:
            await self._sessions.pop(key).close()

    async def close(self) -> None:
        sessions = list(self._sessions.values())
        self._sessions.clear()
        await asyncio.gather(*(session.close() for session in sessions))


MCP_SERVERS: Key[McpServers] = Key("ai mcp servers")


def server_spec(item: Mapping[str, Any]) -> ServerSpec:
    return ServerSpec(str(item["name"]), url=item.get("url"), command=item.get("command"))


def _fits(name: str) -> bool:
    """Whether both model APIs take the name (letters, digits, ``_`` and ``-``, 64 at most)."""
    return len(name) <= 64 and set(name.lower()) <= NAME_CHARACTERS | {SEPARATOR}


def _runner(session: McpConnection, tool: str) -> ToolRun:
    async def run(arguments: Mapping[str, Any], within: float) -> str:
        return await session.call(tool, arguments)

    return run
