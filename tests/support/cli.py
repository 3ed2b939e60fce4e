"""Running ``waddlebot`` commands in this process (typer's ``CliRunner``), leaving the
process's logging as it was: a command sets logging up on the stream the runner puts in place
of stderr and closes afterwards, and later tests would log into that closed stream."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Mapping, Sequence

import structlog
from typer.testing import CliRunner, Result

from waddlebot.cli.main import app
from waddlebot.settings import get_settings


def invoke(
    args: Sequence[str],
    *,
    env: Mapping[str, str | None] | None = None,
    input: str | None = None,
    prog_name: str = "waddlebot",
) -> Result:
    """The command run as ``waddlebot <args>``, its settings read afresh from ``env`` (over
    this process's environment; the command's own ``WADDLEBOT_LOG_LEVEL`` left out)."""
    structlog_config = structlog.get_config()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(
            app,
            list(args),
            env={"WADDLEBOT_LOG_LEVEL": None, **(env or {})},
            input=input,
            prog_name=prog_name,
        )
    finally:
        get_settings.cache_clear()
        structlog.configure(**structlog_config)
        root.handlers[:] = handlers
        root.setLevel(level)


def traceback_of(result: Result) -> str:
    """What a ``waddlebot`` process would have shown as a traceback on stderr: the exception
    the command ended with, other than an exit; empty when it ended by exiting."""
    if result.exception is None or isinstance(result.exception, SystemExit):
        return ""
    return "".join(traceback.format_exception(result.exception))
