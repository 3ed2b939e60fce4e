"""The Slack platform: the Events API (webhook or Socket Mode) in, the Web API out."""

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
from waddlebot.platforms.slack.settings import SlackSettings

if TYPE_CHECKING:
    import typer
    from fastapi import APIRouter

    from waddlebot.platforms.slack.collector import SlackCollector
    from waddlebot.web.hot_paths import Endpoint


def _build(parts: CollectorParts) -> SlackCollector:
    from waddlebot.platforms.slack.collector import SlackCollector  # as for py-cord

    return SlackCollector(
        parts.settings,
        ports=parts.ports,
        db=parts.db,
        community=parts.community,
        audit=parts.audit,
        consumer=parts.consumer,
        completions=parts.completions,
        feed=parts.feed,
    )


def _routes() -> Sequence[APIRouter]:
    from waddlebot.platforms.slack import api, webhook

    return (webhook.router, api.oauth_router)


def _api_routes() -> Sequence[APIRouter]:
    from waddlebot.platforms.slack import api

    return (api.api_router,)


def _hot_paths() -> Mapping[str, Endpoint]:
    from waddlebot.platforms.slack import webhook

    return {webhook.EVENTS_PATH: webhook.events, webhook.COMMANDS_PATH: webhook.commands}


def _cli(host: CommandLine) -> typer.Typer:
    from waddlebot.platforms.slack.cli import slack_cli

    return slack_cli(host)


SLACK: PlatformPackage[SlackCollector] = PlatformPackage(
    PlatformInfo(
        "slack",
        max_length=4000,
        direct_messages=DirectMessages.WHEN_CONFIGURED,
        mention=r"<@(?P<id>[UW][A-Z0-9]+)(?:\|[^>]*)?>",
    ),
    configured=lambda settings: settings.section(SlackSettings).slack_configured,
    build=_build,
    routes=_routes,
    hot_paths=_hot_paths,
    api_routes=_api_routes,
    cli=_cli,
    settings=SlackSettings,
    setup=(
        SetupField(
            "slack_bot_token", "Bot token of your Slack app (xoxb-...)", True, prefix="xoxb-"
        ),
        SetupField(
            "slack_signing_secret",
            "Signing secret, for events over HTTP",
            True,
            required=False,
        ),
        SetupField(
            "slack_app_token",
            "App-level token, for Socket Mode without a public URL (xapp-...)",
            True,
            required=False,
            prefix="xapp-",
        ),
    ),
    next_steps=("invite the bot into its channels: /invite @WaddleBot",),
)
