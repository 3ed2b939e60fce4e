"""A community's ``mcp_servers`` and ``mcp_tools`` settings as the portal's AI page changes
them: a server added, a server removed with its tools, a server's allowed tools set. Each
gives the settings to save; saving them (``Installs.configure``) checks them against the
module's schema, as ``!module config ai mcp_servers [...]`` is checked."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from waddlebot.core.errors import UserError


def servers_of(config: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [dict(item) for item in config.get("mcp_servers") or ()]


def allowed_tools(config: Mapping[str, Any]) -> dict[str, list[str]]:
    """Each server's allowed tools by server name (``"weather.forecast"``: weather's
    forecast)."""
    allowed: dict[str, list[str]] = {}
    for entry in config.get("mcp_tools") or ():
        server, _, tool = str(entry).partition(".")
        allowed.setdefault(server, []).append(tool)
    return allowed


def tool_names(text: str, server: str) -> list[str]:
    """The tool names typed for ``server`` (spaces or commas between; ``server.`` before a
    name is allowed), each once."""
    names = []
    for word in re.split(r"[\s,]+", text.strip()):
        name = word.removeprefix(f"{server}.")
        if name and name not in names:
            names.append(name)
    return names


def with_server(
    config: Mapping[str, Any], server: Mapping[str, str], tools: Iterable[str]
) -> dict[str, Any]:
    """The settings with ``server`` added, and ``tools`` of it allowed."""
    name = server["name"]
    if any(item.get("name") == name for item in servers_of(config)):
        raise UserError(f"there is a server named {name} here already")
    return {
        "mcp_servers": [*servers_of(config), dict(server)],
        "mcp_tools": [*_others(config, name), *(f"{name}.{tool}" for tool in tools)],
    }


def without_server(config: Mapping[str, Any], name: str) -> dict[str, Any]:
    """The settings with the server ``name`` and its allowed tools gone."""
    servers = servers_of(config)
    if not any(item.get("name") == name for item in servers):
        raise UserError(f"there is no server named {name} here")
    return {
        "mcp_servers": [item for item in servers if item.get("name") != name],
        "mcp_tools": _others(config, name),
    }


def with_tools(config: Mapping[str, Any], name: str, tools: Iterable[str]) -> dict[str, Any]:
    """The settings with exactly ``tools`` of the server ``name`` allowed."""
    if not any(item.get("name") == name for item in servers_of(config)):
        raise UserError(f"there is no server named {name} here")
    return {"mcp_tools": [*_others(config, name), *(f"{name}.{tool}" for tool in tools)]}


def _others(config: Mapping[str, Any], name: str) -> list[str]:
    """The allowed tools of every server but ``name``."""
    return [str(e) for e in config.get("mcp_tools") or () if str(e).partition(".")[0] != name]
