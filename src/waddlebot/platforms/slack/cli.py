"""``waddlebot slack ...``: installing the app into workspaces."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

slack_app = typer.Typer(help="The Slack collector.", no_args_is_help=True)


@slack_app.command("install")
def install(
    community: Annotated[int, typer.Option(help="the community the workspace joins")],
) -> None:
    """Print a link that installs WaddleBot into a Slack workspace for a community (open it
    signed in to the workspace; it works once, for 15 minutes)."""
    from waddlebot.cli.main import _settings

    settings = _settings(quiet=True)
    if not settings.slack_client_id:
        typer.echo("Set WADDLEBOT_SLACK_CLIENT_ID and WADDLEBOT_SLACK_CLIENT_SECRET first.")
        raise typer.Exit(2)

    async def work() -> str:
        from waddlebot.platforms.slack.collector import SlackCollector
        from waddlebot.runtime import Runtime

        runtime = await Runtime.start(settings, services=())
        collector = SlackCollector(
            settings,
            ports=runtime.ports,
            db=runtime.db,
            community=runtime.community,
            audit=runtime.audit,
            consumer="cli",
        )
        try:
            await runtime.community.info(community)  # LookupError: no such community
            assert collector.connect is not None
            return collector.connect.ticket_url(community_id=community, actor="cli")
        finally:
            await collector.stop()
            await runtime.stop()

    try:
        typer.echo(asyncio.run(work()))
    except LookupError as exc:
        typer.echo(str(exc))
        raise typer.Exit(1) from exc
