"""``waddlebot kong``: Kong's declarative configuration (``config``: deploy/kong/kong.yml and
deploy/k8s/base/kong/kong.yml are its output) and the broker's push of it, with a consumer
per API key, to every Kong node (``sync``); the building is ``features/kong/``'s,
docs/deployment.md#kong."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import TYPE_CHECKING, Annotated

import typer

from waddlebot.cli.host import print_json, read_settings
from waddlebot.features.kong.broker import SyncReport
from waddlebot.features.kong.settings import DEFAULT_UPSTREAM

if TYPE_CHECKING:
    from waddlebot.infra.db.engine import Database
    from waddlebot.settings import Settings

kong_app = typer.Typer(help="Kong in front of WaddleBot.", no_args_is_help=True)


@kong_app.command("config")
def config(
    upstream: Annotated[
        str,
        typer.Option(help="each service's URL; {name} is the service (api, twitch, ...)"),
    ] = DEFAULT_UPSTREAM,
) -> None:
    """Print Kong's declarative configuration for every route WaddleBot serves."""
    from waddlebot.app import exposed_route_tables
    from waddlebot.features.kong.declarative import declarative_config, render

    if "{name}" not in upstream:
        raise typer.BadParameter("must contain {name}, e.g. http://waddlebot-{name}:8000")
    typer.echo(render(declarative_config(exposed_route_tables(), upstream), upstream), nl=False)


@kong_app.command("sync")
def sync(
    as_json: Annotated[
        bool, typer.Option("--json", help="an object: nodes, credentials, unsealed")
    ] = False,
) -> None:
    """Push the routes and a consumer per live API key to every Kong node of
    WADDLEBOT_KONG_ADMIN_URLS now. Exits 1 when a node was not synced."""
    from waddlebot.cli.bootstrap import open_database
    from waddlebot.features.kong.settings import KongSettings

    settings = read_settings(quiet=True)
    if not settings.section(KongSettings).kong_broker_on:
        raise typer.BadParameter(
            "WADDLEBOT_KONG_ADMIN_URLS is not set: the Kong broker is off", param_hint="settings"
        )

    async def work() -> SyncReport:
        db = await open_database(settings)
        try:
            return await _sync(settings, db)
        finally:
            await db.close()

    report = asyncio.run(work())
    if as_json:
        print_json(dataclasses.asdict(report))
    else:
        _print_report(report)
    if not report.ok:
        raise typer.Exit(1)


async def _sync(settings: Settings, db: Database) -> SyncReport:
    import httpx2

    from waddlebot.app import exposed_route_tables
    from waddlebot.features.kong.admin import KongAdmin
    from waddlebot.features.kong.broker import KongBroker
    from waddlebot.features.kong.declarative import declarative_config
    from waddlebot.features.kong.sealing import key_sealer
    from waddlebot.features.kong.settings import KongSettings

    own = settings.section(KongSettings)
    box = key_sealer(settings)
    assert box is not None  # the broker is on
    async with httpx2.AsyncClient(timeout=10.0) as http:
        broker = KongBroker(
            db,
            box,
            KongAdmin(http, own.kong_admin_token.get_secret_value()),
            own.kong_admin_urls,
            lambda: declarative_config(exposed_route_tables(), own.kong_upstream),
        )
        return await broker.sync()


def _print_report(report: SyncReport) -> None:
    for node in report.nodes:
        line = f"{node.node}: {node.outcome}"
        typer.echo(line + (f" ({node.detail})" if node.detail else ""), err=not node.ok)
    typer.echo(f"{report.credentials} API keys in Kong")
    for key in report.unsealed:
        typer.echo(
            f"key {key.key_id} ({key.name}) is not in Kong: {key.reason}; "
            "create a new key for its user and revoke this one",
            err=True,
        )
