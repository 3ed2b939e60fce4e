"""The console platform: a local chat with the bot, no platform account needed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from waddlebot.platforms.platform import (
    CollectorParts,
    DirectMessages,
    PlatformInfo,
    PlatformPackage,
)

if TYPE_CHECKING:
    from fastapi import APIRouter

    from waddlebot.platforms.console.collector import ConsoleCollector


def _build(parts: CollectorParts) -> ConsoleCollector:
    from waddlebot.platforms.console.collector import ConsoleCollector

    return ConsoleCollector(parts.ports.bus, parts.completions, consumer=parts.consumer)


def _routes() -> Sequence[APIRouter]:
    from waddlebot.platforms.console import ws

    return (ws.router,)


CONSOLE: PlatformPackage[ConsoleCollector] = PlatformPackage(
    # its direct messages are on by WADDLEBOT_DIRECT_MESSAGE_PLATFORMS's default
    PlatformInfo("console", max_length=500, direct_messages=DirectMessages.WHEN_LISTED),
    configured=lambda settings: True,
    build=_build,
    routes=_routes,
)
