from __future__ import annotations

import asyncio
import contextlib
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from waddlebot.cli.discord import discord_app
from waddlebot.cli.events import events_app
from waddlebot.cli.slack import slack_app
from waddlebot.cli.twitch import twitch_app
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
app.add_typer(twitch_app, name="twitch")
app.add_typer(discord_app, name="discord")
app.add_typer(slack_app, name="slack")
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
    from waddlebot.infra.logging import configure_logging

    settings = get_settings()
    configure_logging("WARNING" if quiet else settings.log_level, settings.log_json)
    return settings


def _serve(settings: Settings, app_factory: object, host: str | None, port: int | None) -> None:
    import uvicorn

    from waddlebot.web.server import server_config

    config = server_config(
        settings, app_factory, host=host or settings.host, port=port or settings.port
    )
    server = uvicorn.Server(config)
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    if not server.started:  # e.g. the database was unreachable at start: like uvicorn.run
        raise typer.Exit(3)


@app.command()
def up(
    host: Annotated[str | None, typer.Option(help="address to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="port to listen on")] = None,
) -> None:
    """Run every service in one process (embedded unless WADDLEBOT_REDIS_URL is set)."""
    from waddlebot.app import create_app
    from waddlebot.cli.bootstrap import ensure_api_key

    settings = _settings()
    asyncio.run(ensure_api_key(settings))
    _serve(settings, create_app(settings), host, port)


@app.command()
def serve(
    service: Annotated[
        str,
        typer.Argument(
            help="api, router, console, twitch, discord, slack, browser_source or module:<name>"
        ),
    ],
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
) -> None:
    """Run one service in this process (the distributed mode runs one per process)."""
    settings = _settings()
    if service.startswith("module:"):
        from waddlebot.modules.loader import load_module
        from waddlebot.modules.server import create_module_app

        secret = settings.module_secret.get_secret_value()
        if not secret:
            raise typer.BadParameter("set WADDLEBOT_MODULE_SECRET to serve a module over HTTP")
        module = load_module(service.removeprefix("module:"))
        _serve(settings, create_module_app(module, secret.encode()), host, port)
        return
    from waddlebot.app import create_app
    from waddlebot.runtime import SERVICES

    if service not in SERVICES:
        raise typer.BadParameter(f"choose one of {', '.join(SERVICES)} or module:<name>")
    if not settings.distributed:
        raise typer.BadParameter(
            f"'serve {service}' shares its bus with the other services through Redis: set "
            "WADDLEBOT_REDIS_URL, or run every service in one process with 'waddlebot up'"
        )
    _serve(settings, create_app(settings, {service}), host, port)


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

    settings = _settings()
    upgrade(settings.database_url, revision)
    typer.echo(f"database at {current(settings.database_url)}")


@db_app.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument()] = "-1") -> None:
    """Migrate the database down (default: one revision; 'base' removes every table)."""
    from waddlebot.infra.db.migrate import current, downgrade

    settings = _settings()
    downgrade(settings.database_url, revision)
    typer.echo(f"database at {current(settings.database_url) or 'base'}")


@db_app.command("current")
def db_current() -> None:
    """Show the database's revision."""
    from waddlebot.infra.db.migrate import current

    typer.echo(current(_settings().database_url) or "base (no tables)")


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
    app()
