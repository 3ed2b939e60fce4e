"""``waddlebot discord ...``: registering the slash commands."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

discord_app = typer.Typer(help="The Discord collector.", no_args_is_help=True)
commands_app = typer.Typer(help="Slash commands.", no_args_is_help=True)
discord_app.add_typer(commands_app, name="commands")


@commands_app.command("sync")
def commands_sync(
    guild: Annotated[
        str | None, typer.Option(help="register in this guild only (shown at once)")
    ] = None,
) -> None:
    """Register every module command as a slash command (globally unless --guild)."""
    from waddlebot.cli.main import _settings

    settings = _settings(quiet=True)
    if not settings.discord_token.get_secret_value():
        typer.echo("Set WADDLEBOT_DISCORD_TOKEN and WADDLEBOT_DISCORD_APPLICATION_ID first.")
        raise typer.Exit(2)

    async def work() -> list[str]:
        from waddlebot.platforms.discord.collector import DiscordCollector
        from waddlebot.runtime import Runtime

        runtime = await Runtime.start(settings, services=())
        collector = DiscordCollector(settings, ports=runtime.ports, consumer="cli")
        try:
            specs = [route.spec for route in runtime.registry.routes()]
            made = await collector.sync_commands(specs, guild_id=guild)
        finally:
            await collector.stop()
            await runtime.stop()
        lines = [f"registered: /{command['name']}" for command in made.commands]
        return lines + [f"left out: {why}" for why in made.left_out]

    for line in asyncio.run(work()):
        typer.echo(line)
