"""Every ``waddlebot`` command can be built and shows its help.

typer builds a command's options from its signature only when the command line is built, so a
typer or click version that cannot read one of them (``str | None`` on typer 0.15.1 and older
with a newer click) breaks the whole command line at start. These tests run in the
lowest-versions check too (``make test-lowest``), where that is what they catch.
"""

from __future__ import annotations

from typing import Any

import typer
from typer.testing import CliRunner

from waddlebot.cli import app


def _paths(command: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    # duck-typed: newer typer builds on a click of its own (typer._click), older on click
    found = [path]
    for name, sub in getattr(command, "commands", {}).items():
        found += _paths(sub, (*path, name))
    return found


def test_every_command_shows_its_help() -> None:
    paths = _paths(typer.main.get_command(app))
    assert ("db", "upgrade") in paths and ("up",) in paths
    runner = CliRunner()
    failed = {}
    for path in paths:
        result = runner.invoke(app, [*path, "--help"])
        if result.exit_code != 0 or "Usage" not in result.output:
            failed[" ".join(path)] = result.output or repr(result.exception)
    assert not failed, failed
