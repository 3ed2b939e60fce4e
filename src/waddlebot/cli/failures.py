"""What a ``waddlebot`` command that could not do its work prints, and its exit status.

Every failure an operator can act on is one line on standard error, saying what failed and
what to do, and an exit status that tells them apart (``sysexits.h``, so supervisors and
scripts can tell "fix the configuration" from "retry later"):

- 1: the command ran and says no (an id that is not there, an unhealthy account);
- 2: the command line itself is wrong (an unknown option; click says so);
- 69 (``EX_UNAVAILABLE``): a service it needs does not answer (the database, Redis, a module,
  a running WaddleBot);
- 78 (``EX_CONFIG``): a setting to fix (a bad value, a missing setting, a database without
  tables or behind the code, an API key refused).

The traceback comes before the line only with ``--debug`` (or ``WADDLEBOT_LOG_LEVEL=DEBUG``).
Anything else is a bug and keeps Python's traceback.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import typer
from typer.core import TyperGroup

from waddlebot.core.errors import ConfigurationError, ServiceUnavailable, WaddleError

EXIT_NO = 1
EX_UNAVAILABLE = 69
EX_CONFIG = 78

# --debug of the command running now (set by the root group for the length of the command)
_DEBUG: ContextVar[bool] = ContextVar("waddlebot_cli_debug", default=False)
_OUTAGE_SETTINGS = {"database": "WADDLEBOT_DATABASE_URL", "redis": "WADDLEBOT_REDIS_URL"}


class CommandFailed(Exception):
    """A command could not do its work for a reason the message tells; exits ``code``."""

    def __init__(self, message: str, code: int = EXIT_NO) -> None:
        super().__init__(message)
        self.code = code


class SettingsRefused(Exception):
    """The settings could not be read: one :class:`ConfigurationError` per problem."""

    def __init__(self, problems: Sequence[ConfigurationError]) -> None:
        super().__init__("; ".join(problem.line() for problem in problems))
        self.problems = list(problems)


@dataclass(frozen=True, slots=True)
class Failure:
    lines: list[str]
    code: int


def failure_of(exc: BaseException) -> Failure | None:
    """What to print and the exit status for ``exc``; None for a bug (a traceback)."""
    if isinstance(exc, SettingsRefused):
        return Failure([problem.line() for problem in exc.problems], EX_CONFIG)
    if isinstance(exc, ServiceUnavailable):
        return Failure([exc.line()], EX_UNAVAILABLE)
    if isinstance(exc, ConfigurationError):
        return Failure([exc.line()], EX_CONFIG)
    if isinstance(exc, CommandFailed):
        return Failure([str(exc)], exc.code)
    if isinstance(exc, WaddleError):  # a service refused what was asked: the person can fix it
        return Failure([exc.sentence], EXIT_NO)
    return _outage(exc)


def _outage(exc: BaseException) -> Failure | None:
    """The database or Redis went away while the command was running."""
    from waddlebot.infra.outages import describe, unavailable

    what = unavailable(exc)
    if what is None:
        return None
    setting = _OUTAGE_SETTINGS.get(what)
    if setting is None:
        line = f"a connection failed ({describe(exc)}). Check the network, then try again."
    else:
        line = (
            f"{setting}: the {'Redis' if what == 'redis' else what} stopped answering "
            f"({describe(exc)}). Check that it runs, then try again."
        )
    return Failure([line], EX_UNAVAILABLE)


def debug_flag() -> bool:
    """``--debug`` was given: tracebacks, and logs at the debug level."""
    return _DEBUG.get()


def debugging() -> bool:
    """``--debug``, or ``WADDLEBOT_LOG_LEVEL=DEBUG`` read without the settings (they may be
    what is wrong)."""
    if debug_flag():
        return True
    level = os.environ.get("WADDLEBOT_LOG_LEVEL")
    if level is None:
        from dotenv import dotenv_values

        level = dotenv_values(".env").get("WADDLEBOT_LOG_LEVEL")
    return (level or "").strip().upper() == "DEBUG"


def report(failure: Failure, exc: BaseException, *, debug: bool) -> None:
    if debug:
        traceback.print_exception(exc)
    for line in failure.lines:
        print(line, file=sys.stderr)


class Commands(TyperGroup):
    """The root group: a failure of any command under it becomes its line and exit status."""

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        flag = _DEBUG.set(bool(ctx.params.get("debug")))
        try:
            return super().invoke(ctx)
        except Exception as exc:
            failure = failure_of(exc)
            if failure is None:  # click's own ways out (typer.Exit, usage errors), or a bug
                raise
            report(failure, exc, debug=debugging())
            raise typer.Exit(failure.code) from exc
        finally:
            _DEBUG.reset(flag)
