"""The platform registry is the one list of platforms: what restates it agrees with it, and
every platform package plugs in completely."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path
from typing import get_args

import pytest
from pydantic import BaseModel

import waddlebot
from waddlebot import platforms
from waddlebot.core.events import PLATFORMS, Platform
from waddlebot.platforms.platform import DirectMessages
from waddlebot.runtime import SERVICES
from waddlebot.settings import Settings


def test_core_events_name_the_registered_platforms() -> None:
    assert get_args(Platform) == platforms.NAMES
    assert PLATFORMS == platforms.NAMES


def test_every_platform_is_a_service() -> None:
    assert set(platforms.NAMES) <= set(SERVICES)


@pytest.mark.parametrize("platform", platforms.BUILTINS, ids=lambda p: p.name)
def test_a_platform_settings_section_is_part_of_the_settings(
    platform: platforms.PlatformPackage[object],
) -> None:
    if platform.settings is not None:
        assert issubclass(Settings, platform.settings)
        prefix = f"{platform.name}_"
        assert all(name.startswith(prefix) for name in platform.settings.model_fields)


def test_every_declared_settings_section_is_part_of_the_settings() -> None:
    """A platform's or feature's ``settings.py`` left out of ``Settings``'s bases would read
    nothing from the environment."""
    root = Path(waddlebot.__file__).parent
    sections = []
    for path in sorted(root.glob("*/*/settings.py")):
        module = importlib.import_module(
            ".".join(path.relative_to(root.parent).with_suffix("").parts)
        )
        sections += [
            value
            for value in vars(module).values()
            if inspect.isclass(value)
            and issubclass(value, BaseModel)
            and value.__module__ == module.__name__
        ]
    assert sections  # the glob found the sections
    assert [section for section in sections if not issubclass(Settings, section)] == []


def test_message_lengths() -> None:
    assert {name: platforms.max_length(name) for name in platforms.NAMES} == {
        "console": 500,
        "twitch": 500,
        "discord": 2000,
        "slack": 4000,
    }
    assert platforms.max_length("elsewhere") == platforms.DEFAULT_LENGTH


def test_only_twitch_reports_live_state() -> None:
    assert platforms.live_platforms() == {"twitch"}


def test_direct_messages_from_configured_collectors_and_the_setting() -> None:
    assert platforms.direct_message_platforms(Settings()) == {"console"}
    configured = Settings(
        twitch_client_id="id",
        discord_token="token",
        slack_bot_token="xoxb-1",
        direct_message_platforms="",
    )
    assert platforms.direct_message_platforms(configured) == {"twitch", "discord", "slack"}
    assert platforms.info("console").direct_messages is DirectMessages.WHEN_LISTED


def test_role_levels_and_mentions() -> None:
    assert platforms.role_level_platforms() == ("discord",)
    said = {
        "discord": ["<@123>", "<@!123>"],
        "slack": ["<@U123ABC>", "<@W123ABC|bob>"],
    }
    for name in platforms.NAMES:
        for word in said.get(name, []):
            assert platforms.mentioned_id(name, word) in ("123", "U123ABC", "W123ABC"), word
        for word in ["@bob", "bob", "<@>", "<@123> hi", "<#123>"]:
            assert platforms.mentioned_id(name, word) is None, (name, word)
    assert platforms.mentioned_id("twitch", "<@123>") is None  # plain text on Twitch
