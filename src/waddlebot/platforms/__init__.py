"""The platforms WaddleBot talks to, one package each (``platforms/<name>/``), and the registry
of them: the one list the runtime, the app, the CLI, the scheduled jobs, the timers and the
identity help read. Adding a platform: docs/contributing.md, "Add a platform".

Shared parts of the collectors live beside the packages (answering.py, reply_stream.py, ...).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from waddlebot.platforms.console import CONSOLE
from waddlebot.platforms.discord import DISCORD
from waddlebot.platforms.platform import DirectMessages, PlatformInfo, PlatformPackage
from waddlebot.platforms.slack import SLACK
from waddlebot.platforms.twitch import TWITCH

if TYPE_CHECKING:
    from waddlebot.core.settings import CoreSettings

BUILTINS: tuple[PlatformPackage[Any], ...] = (CONSOLE, TWITCH, DISCORD, SLACK)
NAMES: tuple[str, ...] = tuple(platform.name for platform in BUILTINS)
DEFAULT_LENGTH = 500  # for a platform none of these is (an event of a newer version)

_BY_NAME = {platform.name: platform for platform in BUILTINS}
_MENTIONS = {
    platform.name: re.compile(platform.info.mention)
    for platform in BUILTINS
    if platform.info.mention
}


def info(name: str) -> PlatformInfo:
    return _BY_NAME[name].info


def max_length(name: str) -> int:
    """The longest message the platform takes."""
    found = _BY_NAME.get(name)
    return found.info.max_length if found is not None else DEFAULT_LENGTH


def mentioned_id(name: str, word: str) -> str | None:
    """The platform id ``word`` mentions in the platform's markup (``<@123>`` on Discord);
    None for anything else (``@bob`` included)."""
    pattern = _MENTIONS.get(name)
    found = pattern.fullmatch(word) if pattern is not None else None
    return found["id"] if found else None


def role_level_platforms() -> tuple[str, ...]:
    """Platforms whose own roles a community may give a level (``!community rolelevel``)."""
    return tuple(platform.name for platform in BUILTINS if platform.info.role_levels)


def live_platforms() -> frozenset[str]:
    """Platforms whose places are live only while they stream (elsewhere: always)."""
    return frozenset(platform.name for platform in BUILTINS if platform.info.reports_live)


def direct_message_platforms(settings: CoreSettings) -> frozenset[str]:
    """Platforms whose collectors deliver private messages (verification codes) here."""
    listed = frozenset(settings.direct_message_platforms)
    return listed | {
        platform.name
        for platform in BUILTINS
        if platform.info.direct_messages is DirectMessages.WHEN_CONFIGURED
        and platform.configured(settings)
    }


__all__ = [
    "BUILTINS",
    "CONSOLE",
    "DISCORD",
    "NAMES",
    "SLACK",
    "TWITCH",
    "direct_message_platforms",
    "info",
    "live_platforms",
    "max_length",
    "mentioned_id",
    "role_level_platforms",
]
