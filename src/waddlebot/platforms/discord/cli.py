"""``waddlebot discord ...``: registering the slash commands."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from waddlebot.core.errors import ConfigurationError
from waddlebot.platforms.discord.settings import DiscordSettings
from waddlebot.platforms.platform import CommandLine


def discord_cli(host: CommandLine) -> typer.Typer:
    discord_app = typer.Typer(help="The Discord collector.", no_args_is_help=True)
    commands_app = typer.Typer(help="Slash commands.", no_args_is_help=True)
    discord_app.add_typer(commands_app, name="commands")

    @commands_app.command("sync")
    def commands_sync(
        guild: Annotated[
            str | None, typer.Option(help="register in this guild only (shown at once)")
        ] = None,
        as_json: Annotated[
            bool, typer.Option("--json", help="an object: registered and left_out")
        ] = False,
    ) -> None:
        """Register every module command as a slash command (globally unless --guild)."""
        settings = host.settings().section(DiscordSettings)
        for setting, value in (
            ("WADDLEBOT_DISCORD_TOKEN", settings.discord_token.get_secret_value()),
            ("WADDLEBOT_DISCORD_APPLICATION_ID", settings.discord_application_id),
        ):
            if not value:
                raise ConfigurationError(
                    "is not set, and slash commands are registered with the bot's token for "
                    "its application",
                    setting=setting,
                    fix="Set WADDLEBOT_DISCORD_TOKEN and WADDLEBOT_DISCORD_APPLICATION_ID "
                    "(see docs/discord.md).",
                )

        async def work() -> tuple[list[str], list[str]]:
            from waddlebot.platforms.discord import DISCORD

            async with host.runtime() as parts:
                collector = DISCORD.build(parts.collector)
                try:
                    made = await collector.sync_commands(parts.commands, guild_id=guild)
                finally:
                    await collector.stop()
            return [str(command["name"]) for command in made.commands], list(made.left_out)

        registered, left_out = asyncio.run(work())
        if as_json:
            host.print_json({"registered": registered, "left_out": left_out})
            return
        for name in registered:
            typer.echo(f"registered: /{name}")
        for why in left_out:
            typer.echo(f"left out: {why}")

    return discord_app
