"""The ``waddlebot`` command: every command and group (docs/cli.md)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from waddlebot.cli.community import community_app
from waddlebot.cli.events import events_app
from waddlebot.cli.failures import Commands
from waddlebot.cli.host import CommandHost, print_json, read_settings
from waddlebot.cli.init import init
from waddlebot.cli.kong import kong_app
from waddlebot.cli.mcp import mcp_app
from waddlebot.cli.secret_keys import secret_key_app
from waddlebot.core.errors import ConfigurationError, WaddleError
from waddlebot.platforms import BUILTINS, NAMES
from waddlebot.settings import Settings

app = typer.Typer(
    cls=Commands,
    help="WaddleBot: one community chat bot for Twitch, Discord and Slack at once.",
    epilog="Exit status: 0 done, 1 the command says no, 2 a mistake on the command line, "
    "69 a service it needs does not answer (database, Redis, a module, a running WaddleBot), "
    "78 a setting to fix. Every command: docs/cli.md.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # a bug's traceback must not show a secret
)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
keys_app = typer.Typer(help="Service API keys.", no_args_is_help=True)
module_app = typer.Typer(help="Writing modules.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="apikey")
app.add_typer(module_app, name="module")
app.add_typer(secret_key_app, name="secret-key")
for platform in BUILTINS:  # waddlebot twitch|discord|slack ...
    if platform.cli is not None:
        app.add_typer(platform.cli(CommandHost()), name=platform.name)
app.add_typer(events_app, name="events")
app.add_typer(kong_app, name="kong")
app.add_typer(community_app, name="community")
app.add_typer(mcp_app, name="mcp")
app.command("init")(init)

JsonOption = Annotated[bool, typer.Option("--json", help="JSON for scripts (see docs/cli.md)")]


def _version(shown: bool) -> None:
    if shown:
        from importlib.metadata import version

        typer.echo(f"waddlebot {version('waddlebot')}")
        raise typer.Exit()


@app.callback()
def options(
    debug: Annotated[
        bool,
        typer.Option("--debug", help="show the traceback of a failure, and log at the debug level"),
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="show the version"),
    ] = False,
) -> None:
    """WaddleBot: one community chat bot for Twitch, Discord and Slack at once."""


class Role(StrEnum):
    everyone = "everyone"
    follower = "follower"
    subscriber = "subscriber"
    vip = "vip"
    moderator = "moderator"
    admin = "admin"
    owner = "owner"


@app.command()
def up(
    host: Annotated[str | None, typer.Option(help="address to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="port to listen on")] = None,
) -> None:
    """Run every service in one process (embedded unless WADDLEBOT_REDIS_URL is set)."""
    from waddlebot.cli.serving import serve as serve_app
    from waddlebot.runtime import SERVICES

    settings = read_settings()
    serve_app(settings, host, port, lambda: _started(settings, SERVICES))


@app.command()
def serve(
    service: Annotated[
        str,
        typer.Argument(
            help=f"api, router, {', '.join(NAMES)}, browser_source, portal or module:<name>"
        ),
    ],
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
) -> None:
    """Run one service in this process (the distributed mode runs one per process)."""
    from waddlebot.cli.serving import serve as serve_app

    settings = read_settings()
    if service.startswith("module:"):
        secret = settings.module_secret.get_secret_value()
        if not secret:
            raise ConfigurationError(
                "is not set; a module served over HTTP signs its answers with it",
                setting="WADDLEBOT_MODULE_SECRET",
                fix="Set it to a random string, e.g. `openssl rand -hex 32`, and give the bot "
                "the same one.",
            )
        store_url = settings.module_store_url
        serve_app(settings, host, port, lambda: _module_app(service, secret, store_url))
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
async def _module_app(service: str, secret: str, store_url: str) -> AsyncIterator[object]:
    from waddlebot.sdk.loader import load_module
    from waddlebot.sdk.server import create_module_app

    spec = service.removeprefix("module:")
    try:
        module = load_module(spec)
    except ValueError as exc:
        raise ConfigurationError(
            str(exc), fix="Name it as package.module:attribute, importable from here."
        ) from exc
    yield create_module_app(module, secret.encode(), store_url=store_url)


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

    settings = read_settings(quiet=True)
    if url:
        asyncio.run(chat_remote(settings, url, api_key, user, role.value, channel))
    else:
        asyncio.run(chat_local(settings, user, role.value, channel))


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Migrate the database up to a revision (default: the newest)."""
    from waddlebot.infra.db.migrate import current, upgrade
    from waddlebot.infra.db.problems import database_reached

    settings = read_settings()
    with database_reached(settings.database_url):
        upgrade(settings.database_url, revision)
        typer.echo(f"database at {current(settings.database_url)}")


@db_app.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument()] = "-1") -> None:
    """Migrate the database down (default: one revision; 'base' removes every table)."""
    from waddlebot.infra.db.migrate import current, downgrade
    from waddlebot.infra.db.problems import database_reached

    settings = read_settings()
    with database_reached(settings.database_url):
        downgrade(settings.database_url, revision)
        typer.echo(f"database at {current(settings.database_url) or 'base'}")


@db_app.command("current")
def db_current(as_json: JsonOption = False) -> None:
    """Show the database's revision, and whether it is the newest this WaddleBot knows."""
    from waddlebot.infra.db.migrate import current, head_revision
    from waddlebot.infra.db.problems import database_reached

    url = read_settings().database_url
    with database_reached(url):
        revision = current(url)
    if as_json:
        head = head_revision()
        print_json({"revision": revision, "head": head, "up_to_date": revision == head})
    else:
        typer.echo(revision or "base (no tables)")


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
        key = asyncio.run(create_key(read_settings(quiet=True), name, community, role))
    except WaddleError as exc:  # a name or role the service refuses
        raise typer.BadParameter(str(exc)) from exc
    except IntegrityError as exc:
        raise typer.BadParameter(f"there is no community {community}") from exc
    typer.echo(key)


@keys_app.command("list")
def apikey_list(as_json: JsonOption = False) -> None:
    """List API keys (never their secrets): id, name, and whether it is active."""
    from waddlebot.cli.bootstrap import key_summary, list_keys

    keys = [key_summary(key) for key in asyncio.run(list_keys(read_settings(quiet=True)))]
    if as_json:
        print_json(keys)
        return
    for key in keys:
        typer.echo(f"{key['key_id']}\t{key['name']}\t{key['status']}")


@keys_app.command("revoke")
def apikey_revoke(key_id: Annotated[str, typer.Argument()]) -> None:
    """Revoke an API key by its id."""
    from waddlebot.cli.bootstrap import revoke_key

    if not asyncio.run(revoke_key(read_settings(quiet=True), key_id)):
        typer.echo(f"no active API key {key_id!r}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {key_id}")


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


@module_app.command("new")
def module_new(
    name: Annotated[str, typer.Argument(help="the module's name: lower case, digits and _")],
    directory: Annotated[
        Path, typer.Option("--in", help="where to make the module's directory")
    ] = Path(),
) -> None:
    """Start a module: NAME/ with NAME.py (one command), test_NAME.py and README.md."""
    from waddlebot.cli.scaffold import scaffold

    made = scaffold(name, directory)
    typer.echo(f"Made {made}/: {name}.py, test_{name}.py and README.md. Run `pytest` in it.")


@module_app.command("register")
def module_register(
    url: Annotated[str, typer.Argument(help="where the module is served, http(s)://host:port")],
    secret: Annotated[
        str,
        typer.Option(
            envvar="WADDLEBOT_MODULE_SECRET",
            help="the module's shared secret (default: WADDLEBOT_MODULE_SECRET)",
        ),
    ],
    as_json: JsonOption = False,
) -> None:
    """Add an HTTP module (or the new version it serves) to the catalogue communities install
    from; its secret is kept encrypted."""
    from waddlebot.cli.bootstrap import register_module

    entry = asyncio.run(register_module(read_settings(quiet=True), url, secret))
    if as_json:
        print_json(entry)
        return
    typer.echo(f"Registered {entry['name']} {entry['version']}.")


@module_app.command("register-function")
def module_register_function(
    lambda_target: Annotated[
        str,
        typer.Option("--lambda", help="an AWS Lambda function's ARN (or name, in the region set)"),
    ] = "",
    openwhisk: Annotated[
        str, typer.Option("--openwhisk", help="an OpenWhisk action: NAMESPACE/[PACKAGE/]ACTION")
    ] = "",
    api_host: Annotated[
        str,
        typer.Option(
            envvar="WADDLEBOT_OPENWHISK_API_HOST",
            help="OpenWhisk's API host, https://host[:port] "
            "(default: WADDLEBOT_OPENWHISK_API_HOST)",
        ),
    ] = "",
    api_key: Annotated[
        str,
        typer.Option(
            envvar="OPENWHISK_API_KEY",
            help="OpenWhisk's uuid:key API key (default: OPENWHISK_API_KEY)",
        ),
    ] = "",
    url: Annotated[
        str,
        typer.Option(
            "--url",
            help="a signed HTTP function's URL (a Lambda function URL, an OpenWhisk web "
            "action, Knative, OpenFaaS, Cloud Run...)",
        ),
    ] = "",
    secret: Annotated[
        str,
        typer.Option(
            envvar="WADDLEBOT_MODULE_SECRET",
            help="the HTTP function's shared secret (default: WADDLEBOT_MODULE_SECRET)",
        ),
    ] = "",
    as_json: JsonOption = False,
) -> None:
    """Add a serverless function (or its new version) to the catalogue: the bot asks it for
    its manifest. AWS credentials and region come from the usual AWS settings."""
    from waddlebot.cli.bootstrap import register_function
    from waddlebot.serverless.clients import openwhisk_target

    if [bool(lambda_target), bool(openwhisk), bool(url)].count(True) != 1:
        raise typer.BadParameter(
            "give one of --lambda ARN, --openwhisk NAMESPACE/ACTION and --url URL"
        )
    settings = read_settings(quiet=True)
    if openwhisk:
        target = openwhisk_target(api_host, openwhisk)
        registered = register_function(settings, "openwhisk", target, api_key)
    elif url:
        if not secret:
            raise typer.BadParameter(
                "an HTTP function needs --secret (or WADDLEBOT_MODULE_SECRET): the secret "
                "its calls are signed with"
            )
        registered = register_function(settings, "function", url, secret)
    else:
        registered = register_function(settings, "lambda", lambda_target, "")
    entry = asyncio.run(registered)
    if as_json:
        print_json(entry)
        return
    typer.echo(f"Registered {entry['name']} {entry['version']} ({entry['kind']}).")


@module_app.command("package")
def module_package(
    spec: Annotated[str, typer.Argument(help="the module, package.module:attribute")],
    target: Annotated[
        str,
        typer.Option(help="the platform: lambda, openwhisk, lambda-url or openwhisk-web"),
    ],
    out: Annotated[Path, typer.Option(help="where to write the zip")] = Path("dist"),
    with_dependencies: Annotated[
        bool, typer.Option(help="bundle waddlebot and its dependencies (else: from a layer)")
    ] = False,
    python: Annotated[
        str | None,
        typer.Option(help="the function's Python, e.g. 3.12 (default: this one's)"),
    ] = None,
    arch: Annotated[str, typer.Option(help="the function's CPU: x86_64 or arm64")] = "x86_64",
) -> None:
    """Build a zip that runs the module as an AWS Lambda or Apache OpenWhisk function (or, as
    lambda-url and openwhisk-web, a signed HTTP function behind a function URL or web action)."""
    from waddlebot.cli.failures import CommandFailed
    from waddlebot.serverless.package import PackagingError, package

    try:
        built = package(
            spec,
            target,
            out,
            with_dependencies=with_dependencies,
            python_version=python,
            arch=arch,
        )
    except PackagingError as exc:
        raise CommandFailed(str(exc)) from exc
    typer.echo(
        f"Packaged {spec} for {target}: {built.path} (handler {built.description['handler']})"
    )


def main() -> None:
    app()
