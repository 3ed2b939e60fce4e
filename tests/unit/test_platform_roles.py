"""Each platform's way of saying who someone is, mapped onto permission levels."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from waddlebot.core.permissions import Level, PlatformRole, level_from_roles
from waddlebot.platforms.roles import discord_roles, slack_roles, twitch_roles

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def test_twitch_badges_from_the_official_chat_message_example() -> None:
    payload = json.loads((FIXTURES / "twitch" / "channel.chat.message.json").read_text())
    roles = twitch_roles(payload["event"]["badges"])
    assert roles == (PlatformRole.MODERATOR, PlatformRole.SUBSCRIBER)  # sub-gifter is no role
    assert level_from_roles(roles) == Level.MODERATOR


@pytest.mark.parametrize(
    ("badge", "level"),
    [
        ("broadcaster", Level.OWNER),
        ("lead_moderator", Level.MODERATOR),
        ("moderator", Level.MODERATOR),
        ("vip", Level.VIP),
        ("subscriber", Level.SUBSCRIBER),
        ("founder", Level.SUBSCRIBER),
        ("premium", Level.EVERYONE),
    ],
)
def test_twitch_badge_levels(badge: str, level: Level) -> None:
    assert level_from_roles(twitch_roles([{"set_id": badge, "id": "1"}])) == level


def test_twitch_followers_are_known_from_follow_state() -> None:
    assert level_from_roles(twitch_roles([], follower=True)) == Level.FOLLOWER


def test_discord_member_from_the_official_interaction_example() -> None:
    payload = json.loads((FIXTURES / "discord" / "interaction.slash_command.json").read_text())
    member = payload["member"]
    roles = discord_roles(guild_owner=False, permissions=member["permissions"])
    assert level_from_roles(roles) == Level.ADMIN  # 2147483647 includes Administrator


@pytest.mark.parametrize(
    ("owner", "permissions", "level"),
    [
        (True, 0, Level.OWNER),
        (False, 1 << 3, Level.ADMIN),  # Administrator
        (False, 1 << 5, Level.ADMIN),  # Manage Server
        (False, 1 << 13, Level.MODERATOR),  # Manage Messages
        (False, 1 << 40, Level.MODERATOR),  # Moderate Members (timeouts)
        (False, (1 << 10) | (1 << 11), Level.EVERYONE),  # view and send messages
    ],
)
def test_discord_permission_levels(owner: bool, permissions: int, level: Level) -> None:
    roles = discord_roles(guild_owner=owner, permissions=str(permissions))
    assert level_from_roles(roles) == level


def test_discord_roles_mapped_by_the_community() -> None:
    mapping = {"111": 300, "222": 500, "333": 100}
    assert (
        level_from_roles(
            discord_roles(guild_owner=False, permissions=0, role_ids=["111"], role_levels=mapping)
        )
        == Level.VIP
    )
    assert (
        level_from_roles(
            discord_roles(
                guild_owner=False, permissions=0, role_ids=["111", "222"], role_levels=mapping
            )
        )
        == Level.MODERATOR
    )
    assert (
        discord_roles(
            guild_owner=False, permissions=0, role_ids=["333", "999"], role_levels=mapping
        )
        == ()
    )


@pytest.mark.parametrize(
    ("flags", "level"),
    [
        ({"is_primary_owner": True, "is_owner": True, "is_admin": True}, Level.OWNER),
        ({"is_owner": True}, Level.OWNER),
        ({"is_admin": True}, Level.ADMIN),
        ({}, Level.EVERYONE),
    ],
)
def test_slack_workspace_roles(flags: dict[str, bool], level: Level) -> None:
    assert level_from_roles(slack_roles(**flags)) == level


def test_console_roles_cover_every_level() -> None:
    from waddlebot.platforms.console.collector import ROLES

    assert {name: level_from_roles(roles) for name, roles in ROLES.items()} == {
        level.label: level for level in Level
    }


def test_twitch_roles_come_in_one_order_whatever_the_badges_order() -> None:
    badges = [{"set_id": "subscriber"}, {"set_id": "vip"}, {"set_id": "broadcaster"}]
    expected = (PlatformRole.OWNER, PlatformRole.VIP, PlatformRole.SUBSCRIBER)
    assert twitch_roles(badges) == expected
    assert twitch_roles(list(reversed(badges))) == expected


def test_twitch_badges_that_are_no_text_grant_nothing() -> None:
    odd: list[dict[str, object]] = [{"set_id": ["moderator"]}, {"set_id": 7}, {"id": "1"}]
    assert twitch_roles(odd) == ()
