"""The Discord platform: the gateway (py-cord) and HTTP interactions in, REST out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from waddlebot.platforms.discord.settings import DiscordSettings
from waddlebot.platforms.platform import (
    CollectorParts,
    CommandLine,
    DirectMessages,
    PlatformInfo,
    PlatformPackage,
    SetupField,
)

if TYPE_CHECKING:
    import typer
    from fastapi import APIRouter

    from waddlebot.platforms.discord.collector import DiscordCollector
    from waddlebot.web.hot_paths import Endpoint


def _build(parts: CollectorParts) -> DiscordCollector:
    # imported here: py-cord costs a fifth of a second to import, for nothing when Discord is
    # not configured
    from waddlebot.platforms.discord.collector import DiscordCollector

    return DiscordCollector(
        parts.settings,
        ports=parts.ports,
        consumer=parts.consumer,
        completions=parts.completions,
        role_levels=parts.community.role_levels,
        feed=parts.feed,
    )


def _routes() -> Sequence[APIRouter]:
    from waddlebot.platforms.discord import interactions

    return (interactions.router,)


def _hot_paths() -> Mapping[str, Endpoint]:
    from waddlebot.platforms.discord import interactions

    return {interactions.PATH: interactions.interactions}


def _cli(host: CommandLine) -> typer.Typer:
    from waddlebot.platforms.discord.cli import discord_cli

    return discord_cli(host)


DISCORD: PlatformPackage[DiscordCollector] = PlatformPackage(
    PlatformInfo(
        "discord",
        max_length=2000,
        direct_messages=DirectMessages.WHEN_CONFIGURED,
        role_levels=True,
        mention=r"<@!?(?P<id>\d+)>",
    ),
    configured=lambda settings: settings.section(DiscordSettings).discord_configured,
    build=_build,
    routes=_routes,
    hot_paths=_hot_paths,
    cli=_cli,
    settings=DiscordSettings,
    setup=(
        SetupField("discord_token", "Bot token of your Discord application", True),
        SetupField("discord_application_id", "Application ID"),
        SetupField(
            "discord_public_key",
            "Public key, for slash commands over HTTP",
            required=False,
        ),
    ),
    next_steps=(
        "invite the bot to your servers (Developer Portal, OAuth2, URL Generator: scopes bot "
        "and applications.commands)",
        "waddlebot discord commands sync  (registers the slash commands)",
    ),
)
