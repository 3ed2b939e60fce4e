"""``waddlebot slack ...``: installing the app into workspaces."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from waddlebot.core.errors import ConfigurationError
from waddlebot.platforms.platform import CommandLine
from waddlebot.platforms.slack.settings import SlackSettings


def slack_cli(host: CommandLine) -> typer.Typer:
    slack_app = typer.Typer(help="The Slack collector.", no_args_is_help=True)

    @slack_app.command("install")
    def install(
        community: Annotated[int, typer.Option(help="the community the workspace joins")],
    ) -> None:
        """Print a link that installs WaddleBot into a Slack workspace for a community (open it
        signed in to the workspace; it works once, for 15 minutes)."""
        settings = host.settings().section(SlackSettings)
        if not settings.slack_client_id:
            raise ConfigurationError(
                "is not set, and a workspace installs the app through its OAuth",
                setting="WADDLEBOT_SLACK_CLIENT_ID",
                fix="Set it and WADDLEBOT_SLACK_CLIENT_SECRET (see docs/slack.md).",
            )

        async def work() -> str | None:
            from waddlebot.infra.db.models import Community
            from waddlebot.platforms.slack import SLACK

            async with host.runtime() as parts:
                async with parts.collector.db.read_session() as session:
                    if await session.get(Community, community) is None:
                        return None
                collector = SLACK.build(parts.collector)
                try:
                    assert collector.connect is not None  # the client id is set
                    return collector.connect.ticket_url(community_id=community, actor="cli")
                finally:
                    await collector.stop()

        link = asyncio.run(work())
        if link is None:
            typer.echo(f"There is no community {community}.", err=True)
            raise typer.Exit(1)
        typer.echo(link)

    return slack_app
