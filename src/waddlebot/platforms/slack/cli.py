"""``waddlebot slack ...``: installing the app into workspaces, and its slash commands."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from waddlebot.core.errors import ConfigurationError
from waddlebot.core.manifest import CommandSpec
from waddlebot.platforms.platform import CommandLine
from waddlebot.platforms.slack.commands import slash_commands
from waddlebot.platforms.slack.settings import SlackSettings
from waddlebot.platforms.slack.webhook import COMMANDS_PATH


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

    @slack_app.command("commands")
    def commands(
        url: Annotated[
            str | None,
            typer.Option(help="the commands Request URL (default: the public URL's)"),
        ] = None,
    ) -> None:
        """Print the slash commands for the app's manifest (its features.slash_commands), as
        JSON: /waddle and every module command, with its usage hint."""
        public = host.settings().section(SlackSettings).slack_public_url
        if url is None and not public:
            raise ConfigurationError(
                "is not set, and the slash commands need the URL Slack sends them to",
                setting="WADDLEBOT_SLACK_PUBLIC_URL",
                fix="Set it, or give --url.",
            )
        target = url or public.rstrip("/") + COMMANDS_PATH

        async def work() -> list[CommandSpec]:
            async with host.runtime() as parts:
                return list(parts.commands)

        host.print_json(slash_commands(asyncio.run(work()), target))

    return slack_app
