"""Discord application (slash) commands made from the module manifests: every ``!`` command
of every module becomes ``/name`` with one option per argument it declares (a whole number,
number or person as Discord's own option type, anything else as a string); a command group's
subcommands become Discord subcommands, each with its own options.

Discord's rules, checked here so a registration is never refused for one bad command: names
of 1 to 32 lower case letters, digits, ``-`` or ``_``; descriptions of 1 to 100 characters;
required options before optional ones; at most 25 options and 100 commands. A command that
cannot be expressed is left out and reported.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from waddlebot.core.manifest import ArgSpec, CommandSpec

SUB_COMMAND, STRING, INTEGER, USER, NUMBER = 1, 3, 4, 6, 10  # application command option types
_OPTION_TYPES = {"int": INTEGER, "number": NUMBER, "person": USER}
MAX_COMMANDS = 100
MAX_OPTIONS = 25
MAX_DESCRIPTION = 100
_NAME = re.compile(r"^[-_a-z0-9]{1,32}$")


@dataclass
class CommandSet:
    commands: list[dict[str, Any]] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)  # "name: why"


def _description(text: str, fallback: str) -> str:
    text = " ".join(text.split()) or fallback
    return text if len(text) <= MAX_DESCRIPTION else text[: MAX_DESCRIPTION - 1] + "…"


def _option(arg: ArgSpec) -> dict[str, Any]:
    return {
        "type": _OPTION_TYPES.get(arg.type, STRING),
        "name": arg.name,
        "description": _description(arg.description, arg.name),
        "required": arg.required,
    }


def application_commands(specs: Iterable[CommandSpec]) -> CommandSet:
    """The commands to register (bulk overwrite), sorted by name."""
    result = CommandSet()
    for spec in sorted(specs, key=lambda s: s.name):
        if spec.serverless:
            continue  # '#' commands are typed, not offered as slash commands
        if not _NAME.fullmatch(spec.name):
            result.left_out.append(f"{spec.name}: not a name Discord accepts")
            continue
        if why := _inexpressible(spec):
            result.left_out.append(f"{spec.name}: {why}")
            continue
        if len(result.commands) == MAX_COMMANDS:
            result.left_out.append(f"{spec.name}: Discord takes at most {MAX_COMMANDS} commands")
            continue
        result.commands.append(
            {
                "name": spec.name,
                "type": 1,
                "description": _description(spec.description, f"Runs !{spec.name}"),
                "options": _subcommands(spec) if spec.subcommands else _options(spec.args),
            }
        )
    return result


def _inexpressible(spec: CommandSpec) -> str:
    """Why Discord would refuse the command; empty when it would not."""
    if not spec.subcommands:
        return f"more than {MAX_OPTIONS} arguments" if len(spec.args) > MAX_OPTIONS else ""
    if len(spec.subcommands) > MAX_OPTIONS:
        return f"more than {MAX_OPTIONS} subcommands"
    crowded = next((sub.name for sub in spec.subcommands if len(sub.args) > MAX_OPTIONS), None)
    return f"{crowded}: more than {MAX_OPTIONS} arguments" if crowded else ""


def _options(args: Iterable[ArgSpec]) -> list[dict[str, Any]]:
    ordered = sorted(args, key=lambda a: not a.required)  # required ones first, stable
    return [_option(arg) for arg in ordered]


def _subcommands(spec: CommandSpec) -> list[dict[str, Any]]:
    return [
        {
            "type": SUB_COMMAND,
            "name": sub.name,
            "description": _description(sub.description, f"Runs !{spec.name} {sub.name}"),
            "options": _options(sub.args),
        }
        for sub in spec.subcommands
    ]
