"""The Discord platform: the gateway (py-cord) and HTTP interactions in, REST out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from waddlebot.platforms.discord.settings import DiscordSettings
from waddlebot.platforms.platform import (
    CollectorParts,
    DirectMessages,
    PlatformInfo,
    PlatformPackage,
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


def _cli() -> typer.Typer:
    from waddlebot.platforms.discord.cli import discord_app

    return discord_app


DISCORD: PlatformPackage[DiscordCollector] = PlatformPackage(
    PlatformInfo(
        "discord",
        max_length=2000,
        direct_messages=DirectMessages.WHEN_CONFIGURED,
        role_levels=True,
        mention="<@{id}>",
    ),
    configured=lambda settings: settings.section(DiscordSettings).discord_configured,
    build=_build,
    routes=_routes,
    hot_paths=_hot_paths,
    cli=_cli,
    settings=DiscordSettings,
)
