"""What every ``waddlebot`` command reads and starts: the settings (each problem said as its
line) and, for the platforms' CLI groups, a runtime that runs nothing.

The platforms' groups get these through :class:`CommandHost` (``PlatformPackage.cli``), so
``platforms/`` imports nothing of ``cli/`` or of the runtime for its commands.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from waddlebot.cli.failures import SettingsRefused, debug_flag
from waddlebot.core.errors import ConfigurationError
from waddlebot.platforms.platform import CommandParts
from waddlebot.settings import Settings, get_settings

CLI_CONSUMER = "cli"  # the consumer name a command's collector would read replies as


def read_settings(quiet: bool = False) -> Settings:
    """The settings, with logging set up from them (warnings only when ``quiet``; everything
    with ``--debug``)."""
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    from waddlebot.infra.logging import configure_logging

    try:
        settings = get_settings()
    except ValidationError as exc:
        from waddlebot.settings_errors import settings_problems

        raise SettingsRefused(settings_problems(exc)) from exc
    except SettingsError as exc:  # a value pydantic-settings could not even read
        raise SettingsRefused([ConfigurationError(str(exc))]) from exc
    level = "DEBUG" if debug_flag() else "WARNING" if quiet else settings.log_level
    configure_logging(level, settings.log_json)
    return settings


class CommandHost:
    """:class:`~waddlebot.platforms.platform.CommandLine` for the platforms' CLI groups."""

    def settings(self) -> Settings:
        return read_settings(quiet=True)

    @asynccontextmanager
    async def runtime(self) -> AsyncIterator[CommandParts]:
        from waddlebot.runtime import Runtime

        runtime = await Runtime.start(self.settings(), services=())
        try:
            yield CommandParts(
                collector=runtime.collector_parts(CLI_CONSUMER),
                commands=[route.spec for route in runtime.registry.routes()],
            )
        finally:
            await runtime.stop()

    def print_json(self, value: object) -> None:
        print_json(value)


def print_json(value: object) -> None:
    """``--json`` output: indented, keys in the order the command gives them."""
    import orjson
    import typer

    typer.echo(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode())
