"""The commands feature's tool (core/tools.py): the community's custom commands and what
each answers, those the caller could use in chat (enabled, at or below their level)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from waddlebot.core.tools import Caller, Tool
from waddlebot.features.commands.service import CommandInfo
from waddlebot.features.feature import Provider
from waddlebot.features.shared import COMMANDS

MAX_SHOWN = 50  # commands one answer lists at most


def _shown(command: CommandInfo) -> dict[str, str]:
    if command.alias_of:
        return {"name": command.name, "alias_of": command.alias_of}
    return {"name": command.name, "response": command.response}


async def _list(host: Provider, caller: Caller, arguments: Mapping[str, Any]) -> Any:
    wanted = str(arguments.get("search", "")).casefold()
    usable = [
        command
        for command in await host.need(COMMANDS).list(caller.community_id)
        if command.enabled
        and command.level <= caller.level
        and (wanted in command.name.casefold() or wanted in command.response.casefold())
    ]
    limit = int(arguments.get("limit", 20))
    return {
        "total": len(usable),
        "commands": [_shown(command) for command in usable[:limit]],
    }


TOOLS = (
    Tool(
        "custom_command_list",
        "The community's custom chat commands (names without the prefix) and what each "
        "answers; with search, those whose name or answer contains it.",
        {
            "type": "object",
            "properties": {
                "search": {"type": "string", "maxLength": 100},
                "limit": {"type": "integer", "minimum": 1, "maximum": MAX_SHOWN, "default": 20},
            },
            "additionalProperties": False,
        },
        _list,
    ),
)
