"""Slack slash commands made from the module manifests, for the ``slash_commands`` part of the
app's manifest (``waddlebot slack commands``): ``/waddle`` runs any command, and each ``!``
command may have its own (``/quote 12``), its usage hint listing a command group's
subcommands (``give <who> <points> | top``).

Slack's limits, kept so the manifest is accepted: descriptions of at most 2000 characters,
usage hints of at most 1000.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from waddlebot.core.manifest import CommandSpec
from waddlebot.platforms.slack.translate import MAIN_COMMAND

MAX_DESCRIPTION = 2000
MAX_HINT = 1000


def usage_hint(spec: CommandSpec) -> str:
    """What Slack shows while the command is typed: its arguments, or for a group each
    subcommand with its own."""
    if not spec.subcommands:
        return spec.usage
    return " | ".join(sub.usage_part for sub in spec.subcommands)


def slash_commands(specs: Iterable[CommandSpec], url: str) -> list[dict[str, Any]]:
    """``/waddle``, then every ``!`` command by name, each sent to ``url`` (the commands
    endpoint); escaped, so a person named comes as ``<@U123|bob>``."""
    made = [_command(MAIN_COMMAND, "Runs any WaddleBot command", "<command> <args>", url)]
    for spec in sorted(specs, key=lambda s: s.name):
        if not spec.serverless:  # '#' commands are typed, not offered as slash commands
            description = spec.description or f"Runs !{spec.name}"
            made.append(_command(f"/{spec.name}", description, usage_hint(spec), url))
    return made


def _command(command: str, description: str, hint: str, url: str) -> dict[str, Any]:
    made: dict[str, Any] = {
        "command": command,
        "url": url,
        "description": _cut(description, MAX_DESCRIPTION),
        "should_escape": True,
    }
    if hint:
        made["usage_hint"] = _cut(hint, MAX_HINT)
    return made


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
