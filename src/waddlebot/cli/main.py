from __future__ import annotations

import asyncio
import os
import sys
import traceback
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from waddlebot.cli.events import events_app
from waddlebot.core.errors import ConfigurationError
from waddlebot.platforms import BUILTINS, NAMES
from waddlebot.settings import Settings, get_settings

app = typer.Typer(
    help="WaddleBot: one community chat bot for Twitch, Discord and Slack at once.",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
keys_app = typer.Typer(help="Service API keys.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="apikey")
for platform in BUILTINS:  # waddlebot twitch|discord|slack ...
    if platform.cli is not None:
        app.add_typer(platform.cli(), name=platform.name)
app.add_typer(events_app, name="events")


class Role(StrEnum):
    everyone = "everyone"
    follower = "follower"
    subscriber = "subscriber"
    vip = "vip"
    moderator = "moderator"
    admin = "admin"
    owner = "owner"


def _settings(quiet: bool = False) -> Settings:
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    from waddlebot.infra.logging import configure_logging

    try:
        settings = get_settings()
    except ValidationError as exc:
        from waddlebot.settings_errors import settings_problems

        _refuse(settings_problems(exc), exc)
    except SettingsError as exc:  # a value pydantic-settings could not even read
        _refuse([ConfigurationError(str(exc))], exc)
    configure_logging("WARNING" if quiet else settings.log_level, settings.log_json)
    return settings


def _debugging() -> bool:
    """WADDLEBOT_LOG_LEVEL=DEBUG, read without the settings (they may be what is wrong)."""
    level = os.environ.get("WADDLEBOT_LOG_LEVEL")
    if level is None:
        from dotenv import dotenv_values

        level = dotenv_values(".env").get("WADDLEBOT_LOG_LEVEL")
    return (level or "").strip().upper() == "DEBUG"


def _refuse(problems: Sequence[ConfigurationError], cause: BaseException) -> NoReturn:
    """Say what to fix, one line per problem, and exit with status 2 (a usage error)."""
    if _debugging():
        traceback.print_exception(cause)
    for problem in problems:
        print(problem.line(), file=sys.stderr)
    raise SystemExit(2)


@app.command()
def up(
    host: Annotated[str | None, typer.Option(help="address to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="port to listen on")] = None,
) -> None:
    """Run every service in one process (embedded unless WADDLEBOT_REDIS_URL is set)."""
    from waddlebot.cli.serving import serve as serve_app
    from waddlebot.runtime import SERVICES

    settings = _settings()
    serve_app(settings, host, port, lambda: _started(settings, SERVICES))


@app.command()
def serve(
    service: Annotated[
        str,
        typer.Argument(help=f"api, router, {', '.join(NAMES)}, browser_source or module:<name>"),
    ],
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
) -> None:
    """Run one service in this process (the distributed mode runs one per process)."""
    from waddlebot.cli.serving import serve as serve_app

    settings = _settings()
    if service.startswith("module:"):
        secret = settings.module_secret.get_secret_value()
        if not secret:
            raise ConfigurationError(
                "is not set; a module served over HTTP signs its answers with it",
                setting="WADDLEBOT_MODULE_SECRET",
                fix="Set it to a random string, e.g. `openssl rand -hex 32`, and give the bot "
                "the same one.",
            )
        serve_app(settings, host, port, lambda: _module_app(service, secret))
        return
    from waddlebot.runtime import SERVICES

    if service not in SERVICES:
        raise typer.BadParameter(f"choose one of {', '.join(SERVICES)} or module:<name>")
    if not settings.distributed:
        raise ConfigurationError(
            f"is not set, and 'serve {service}' shares its bus with the other services "
            "through Redis",
            setting="WADDLEBOT_REDIS_URL",
            fix="Set it (e.g. redis://127.0.0.1:6379/0), or run every service in one process "
            "with `waddlebot up`.",
        )
    serve_app(settings, host, port, lambda: _started(settings, {service}))


@asynccontextmanager
async def _started(settings: Settings, services: Iterable[str]) -> AsyncIterator[object]:
    """The app with its services started; the first start of a process serving the API
    (``up``, ``serve api``) also makes the first API key, for ``waddlebot chat --url``."""
    from waddlebot.app import started_app
    from waddlebot.cli.bootstrap import ensure_api_key

    async with started_app(settings, services) as app:
        if "api" in services:
            await ensure_api_key(settings)
        yield app


@asynccontextmanager
async def _module_app(service: str, secret: str) -> AsyncIterator[object]:
    from waddlebot.sdk.loader import load_module
    from waddlebot.sdk.server import create_module_app

    spec = service.removeprefix("module:")
    try:
        module = load_module(spec)
    except ValueError as exc:
        raise ConfigurationError(
            str(exc), fix="Name it as package.module:attribute, importable from here."
        ) from exc
    yield create_module_app(module, secret.encode())


@app.command()
def chat(
    user: Annotated[str, typer.Option(help="who you are in the chat")] = "you",
    role: Annotated[Role, typer.Option(help="your platform role")] = Role.everyone,
    channel: Annotated[str, typer.Option(help="console channel")] = "local",
    url: Annotated[str | None, typer.Option(help="talk to a running WaddleBot at this URL")] = None,
    api_key: Annotated[
        str | None, typer.Option(envvar="WADDLEBOT_API_KEY", help="API key for --url")
    ] = None,
) -> None:
    """Chat with the bot on the console platform. Reads one message per line when stdin is
    not a terminal, printing each reply on its own line."""
    from waddlebot.cli.chat import chat_local, chat_remote

    settings = _settings(quiet=True)
    if url:
        asyncio.run(chat_remote(settings, url, api_key, user, role.value, channel))
    else:
        asyncio.run(chat_local(settings, user, role.value, channel))


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Migrate the database up to a revision (default: the newest)."""
    from waddlebot.infra.db.migrate import current, upgrade
    from waddlebot.infra.db.problems import database_reached

    settings = _settings()
    with database_reached(settings.database_url):
        upgrade(settings.database_url, revision)
        typer.echo(f"database at {current(settings.database_url)}")


@db_app.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument()] = "-1") -> None:
    """Migrate the database down (default: one revision; 'base' removes every table)."""
    from waddlebot.infra.db.migrate import current, downgrade
    from waddlebot.infra.db.problems import database_reached

    settings = _settings()
    with database_reached(settings.database_url):
        downgrade(settings.database_url, revision)
        typer.echo(f"database at {current(settings.database_url) or 'base'}")


@db_app.command("current")
def db_current() -> None:
    """Show the database's revision."""
    from waddlebot.infra.db.migrate import current
    from waddlebot.infra.db.problems import database_reached

    url = _settings().database_url
    with database_reached(url):
        typer.echo(current(url) or "base (no tables)")


@keys_app.command("create")
def apikey_create(
    name: Annotated[str, typer.Argument(help="who or what uses the key")],
    community: Annotated[
        int | None, typer.Option(help="tie the account to one community (default: all)")
    ] = None,
    role: Annotated[
        str, typer.Option(help="admin (everything) or collector (only delivers events)")
    ] = "admin",
) -> None:
    """Create a service account's API key; it is shown once and stored only as a hash."""
    from sqlalchemy.exc import IntegrityError

    from waddlebot.cli.bootstrap import create_key

    try:
        key = asyncio.run(create_key(_settings(quiet=True), name, community, role))
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    except IntegrityError as exc:
        raise typer.BadParameter(f"there is no community {community}") from exc
    typer.echo(key)


@keys_app.command("list")
def apikey_list() -> None:
    """List API keys (never their secrets)."""
    from waddlebot.cli.bootstrap import list_keys

    for line in asyncio.run(list_keys(_settings(quiet=True))):
        typer.echo(line)


@keys_app.command("revoke")
def apikey_revoke(key_id: Annotated[str, typer.Argument()]) -> None:
    """Revoke an API key by its id."""
    from waddlebot.cli.bootstrap import revoke_key

    if not asyncio.run(revoke_key(_settings(quiet=True), key_id)):
        typer.echo(f"no active API key {key_id!r}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {key_id}")


@app.command("secret-key")
def secret_key() -> None:
    """Print a new key for WADDLEBOT_SECRET_KEYS (it encrypts platform tokens at rest)."""
    from waddlebot.infra.secretbox import SecretBox

    typer.echo(SecretBox.generate_key())


@app.command()
def schema(
    out: Annotated[Path, typer.Option(help="directory to write the JSON Schemas to")] = Path(
        "docs/schema"
    ),
) -> None:
    """Export the JSON Schema of the event and module contracts."""
    from waddlebot.schema import write_schemas

    for path in write_schemas(out):
        typer.echo(str(path))


def main() -> None:
    try:
        app()
    except ConfigurationError as exc:  # found while starting, after the settings were read
        _refuse([exc], exc)
