"""Discord application (slash) commands made from the module manifests: every ``!`` command
of every module becomes ``/name`` with one string option per argument it declares.

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

STRING = 3  # application command option type
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
        "type": STRING,
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
        if len(spec.args) > MAX_OPTIONS:
            result.left_out.append(f"{spec.name}: more than {MAX_OPTIONS} arguments")
            continue
        if len(result.commands) == MAX_COMMANDS:
            result.left_out.append(f"{spec.name}: Discord takes at most {MAX_COMMANDS} commands")
            continue
        args = sorted(spec.args, key=lambda a: not a.required)  # required ones first, stable
        result.commands.append(
            {
                "name": spec.name,
                "type": 1,
                "description": _description(spec.description, f"Runs !{spec.name}"),
                "options": [_option(arg) for arg in args],
            }
        )
    return result
