"""Discord gateway dispatches (recorded official examples in tests/fixtures/discord/) as
canonical events."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from waddlebot.core.events import EventType
from waddlebot.core.permissions import PlatformRole
from waddlebot.platforms.discord.translate import (
    GuildFacts,
    MalformedDispatch,
    member_change,
    message_create,
    reaction_add,
    slash_command,
)
from waddlebot.platforms.roles import DISCORD_BAN_MEMBERS, DISCORD_MANAGE_GUILD

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "discord"
GUILD = "290926798626357999"


def recorded(name: str, **overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    payload.pop("_note", None)
    return {**payload, **overrides}


def in_guild(**overrides: Any) -> dict[str, Any]:
    """The recorded message, sent in a guild by a member with one role."""
    fields = {"guild_id": GUILD, "member": {"roles": ["111"], "nick": "Mace"}, **overrides}
    return recorded("message.example", **fields)


FACTS = GuildFacts(
    owner_id="1",
    role_permissions={GUILD: 0, "111": DISCORD_BAN_MEMBERS, "222": DISCORD_MANAGE_GUILD},
    thread_parents={"999": "290926798999357250"},
    role_levels={"333": 400},
)


def test_a_guild_message() -> None:
    event = message_create(in_guild(), FACTS)
    assert event is not None
    assert (event.type, event.entity_id, event.server_id, event.channel_id) == (
        EventType.CHAT_MESSAGE,
        f"discord:{GUILD}:290926798999357250",
        GUILD,
        "290926798999357250",
    )
    assert (event.message_id, event.text) == ("334385199974967042", "Supa Hot")
    assert event.author is not None
    assert (event.author.user_id, event.author.login, event.author.display_name) == (
        "53908099506183680",
        "Mason",
        "Mace",
    )
    assert event.author.roles == (PlatformRole.MODERATOR,)  # ban members


@pytest.mark.parametrize(
    ("author_id", "roles", "expected"),
    [
        ("1", [], (PlatformRole.OWNER,)),
        ("5", ["222"], (PlatformRole.ADMIN,)),
        ("5", ["333"], (PlatformRole.VIP,)),  # the community maps role 333 to vip (400)
        ("5", [], ()),
    ],
)
def test_levels_from_ownership_permissions_and_mapped_roles(
    author_id: str, roles: list[str], expected: tuple[PlatformRole, ...]
) -> None:
    message = in_guild(author={"id": author_id, "username": "u"}, member={"roles": roles})
    event = message_create(message, FACTS)
    assert event is not None and event.author is not None
    assert event.author.roles == expected


def test_threads_replies_dms_and_boosts() -> None:
    threaded = message_create(
        in_guild(channel_id="999", message_reference={"message_id": "7"}), FACTS
    )
    assert threaded is not None
    assert (threaded.entity_id, threaded.channel_id, threaded.thread_id, threaded.reply_to) == (
        f"discord:{GUILD}:290926798999357250",  # the parent channel's place
        "999",  # where the reply goes
        "999",
        "7",
    )
    dm = message_create(recorded("message.example"), None)
    assert dm is not None
    assert (dm.type, dm.entity_id) == (EventType.WHISPER, "discord:dm:53908099506183680")
    boost = message_create(in_guild(type=8, content=""), FACTS)
    assert boost is not None and boost.type is EventType.BOOST


def test_bots_webhooks_and_the_bot_itself_are_not_answered() -> None:
    assert message_create(in_guild(author={"id": "9", "username": "b", "bot": True}), FACTS) is None
    assert message_create(in_guild(webhook_id="4"), FACTS) is None
    assert message_create(in_guild(), FACTS, bot_user_id="53908099506183680") is None


def test_a_slash_command_becomes_a_command_line() -> None:
    event = slash_command(recorded("interaction.slash_command"), FACTS)
    assert event is not None
    assert (event.type, event.text, event.message_id) == (
        EventType.SLASH_COMMAND,
        '/cardsearch "The Gitrog Monster"',
        "786008729715212338",
    )
    assert event.entity_id == "discord:290926798626357999:645027906669510667"
    # interactions carry the member's computed permissions (here: all of them)
    assert event.author is not None and PlatformRole.ADMIN in event.author.roles


def test_subcommands_and_other_interaction_types() -> None:
    nested = recorded(
        "interaction.slash_command",
        data={
            "id": "1",
            "name": "quote",
            "type": 1,
            "options": [
                {"type": 1, "name": "add", "options": [{"type": 3, "name": "text", "value": "hi"}]}
            ],
        },
    )
    event = slash_command(nested, FACTS)
    assert event is not None and event.text == "/quote add hi"
    assert slash_command(recorded("interaction.slash_command", type=3), FACTS) is None


def test_a_command_groups_typed_options_read_back_as_typed() -> None:
    """Discord sends a USER option as the person's id, an INTEGER as a number: the line
    the module reads has the id as a mention, and the rest of the line with its spaces."""
    nested = recorded(
        "interaction.slash_command",
        data={
            "id": "1",
            "name": "kudos",
            "type": 1,
            "options": [
                {
                    "type": 1,
                    "name": "give",
                    "options": [
                        {"type": 6, "name": "who", "value": "80351110224678912"},
                        {"type": 4, "name": "points", "value": 5},
                        {"type": 3, "name": "reason", "value": "great stream"},
                    ],
                }
            ],
        },
    )
    event = slash_command(nested, FACTS)
    assert event is not None
    assert event.text == '/kudos give <@80351110224678912> 5 "great stream"'


def test_members_and_reactions() -> None:
    joined = member_change(
        {"guild_id": GUILD, "user": {"id": "5", "username": "newbie"}, "joined_at": "2026"},
        joined=True,
    )
    assert (joined.type, joined.entity_id) == (EventType.MEMBER_JOIN, f"discord:{GUILD}:")
    left = member_change({"guild_id": GUILD, "user": {"id": "5"}}, joined=False)
    assert left.type is EventType.MEMBER_LEAVE and left.message_id != joined.message_id
    reacted = reaction_add(
        {
            "user_id": "5",
            "channel_id": "290926798999357250",
            "message_id": "42",
            "guild_id": GUILD,
            "emoji": {"id": None, "name": "🔥"},
        },
        FACTS,
    )
    assert (reacted.type, reacted.text, reacted.reply_to) == (EventType.REACTION, "🔥", "42")


@pytest.mark.parametrize(
    "payload",
    [
        {"id": "1", "channel_id": "2", "content": "x"},  # no author
        {"id": "1", "author": {"id": "3"}, "content": "x"},  # no channel
        {"channel_id": "2", "author": {"id": "3"}, "content": "x"},  # no id
        {"id": "1", "channel_id": "2", "author": {"id": "3"}, "content": "bad\x00"},
    ],
)
def test_malformed_messages_are_refused_clearly(payload: dict[str, Any]) -> None:
    with pytest.raises(MalformedDispatch):
        message_create(payload, FACTS)
