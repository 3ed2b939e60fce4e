"""The Twitch platform: EventSub in (WebSocket or webhook), Helix chat and whispers out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from waddlebot.platforms.platform import (
    CollectorParts,
    CommandLine,
    DirectMessages,
    PlatformInfo,
    PlatformPackage,
    SetupField,
)
from waddlebot.platforms.twitch.settings import TwitchSettings

if TYPE_CHECKING:
    import typer
    from fastapi import APIRouter

    from waddlebot.platforms.twitch.collector import TwitchCollector
    from waddlebot.web.hot_paths import Endpoint


def _build(parts: CollectorParts) -> TwitchCollector:
    from waddlebot.platforms.twitch.collector import TwitchCollector

    return TwitchCollector(
        parts.settings,
        ports=parts.ports,
        db=parts.db,
        community=parts.community,
        audit=parts.audit,
        streams=parts.streams,
        consumer=parts.consumer,
    )


def _routes() -> Sequence[APIRouter]:
    from waddlebot.platforms.twitch import api, webhook

    return (webhook.router, api.oauth_router)


def _api_routes() -> Sequence[APIRouter]:
    from waddlebot.platforms.twitch import api

    return (api.api_router,)


def _hot_paths() -> Mapping[str, Endpoint]:
    from waddlebot.platforms.twitch import webhook

    return {webhook.PATH: webhook.eventsub}


def _cli(host: CommandLine) -> typer.Typer:
    from waddlebot.platforms.twitch.cli import twitch_cli

    return twitch_cli(host)


TWITCH: PlatformPackage[TwitchCollector] = PlatformPackage(
    PlatformInfo(
        "twitch",
        max_length=500,
        direct_messages=DirectMessages.WHEN_CONFIGURED,  # whispers
        reports_live=True,
    ),
    configured=lambda settings: settings.section(TwitchSettings).twitch_configured,
    build=_build,
    routes=_routes,
    hot_paths=_hot_paths,
    api_routes=_api_routes,
    cli=_cli,
    settings=TwitchSettings,
    setup=(
        SetupField("twitch_client_id", "Client ID of your Twitch application"),
        SetupField("twitch_client_secret", "Client secret of your Twitch application", True),
    ),
    next_steps=(
        "waddlebot twitch connect --bot  (open the link signed in as the bot's account)",
        "waddlebot twitch connect --community 1  (open it signed in as the broadcaster)",
    ),
)
