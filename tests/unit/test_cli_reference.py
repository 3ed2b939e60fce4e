"""docs/cli.md describes every ``waddlebot`` command (a heading each) and no command that is
gone."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer.main

from waddlebot.cli.main import app

CLI_DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def _commands(command: Any, path: str) -> Iterator[str]:
    subcommands = getattr(command, "commands", None)
    if subcommands is None or getattr(command, "invoke_without_command", False):
        yield path  # a command, or a group that does something by itself
    for name, sub in (subcommands or {}).items():
        yield from _commands(sub, f"{path} {name}")


def test_every_command_has_its_section() -> None:
    commands = set(_commands(typer.main.get_command(app), "waddlebot")) - {"waddlebot"}
    documented = set(re.findall(r"^### (waddlebot[\w -]*?)\s*$", CLI_DOC.read_text(), re.M))
    assert sorted(commands - documented) == [], "describe these commands in docs/cli.md"
    assert sorted(documented - commands) == [], "docs/cli.md describes commands that are gone"
