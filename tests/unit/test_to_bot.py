"""Each platform's collector tells the router when a message is addressed to the bot (a
mention of it, a reply to its message): the event's ``to_bot``, read from recorded payloads."""

from __future__ import annotations

from typing import Any

from tests.unit.test_discord_translate import in_guild
from tests.unit.test_slack_translate import ALICE, BOT, TEAM, fixture
from tests.unit.test_twitch_translate import recorded
from waddlebot.core.events import Event
from waddlebot.platforms.discord.translate import message_create
from waddlebot.platforms.slack import translate as slack
from waddlebot.platforms.twitch.translate import translate as twitch

DISCORD_BOT = "700000000000000001"
TWITCH_BOT = "2914196"  # the recorded subscription's user_id: the bot reading the chat


def discord(**overrides: Any) -> Event:
    event = message_create(in_guild(**overrides), None, bot_user_id=DISCORD_BOT)
    assert event is not None
    return event


def test_discord_a_mention_of_the_bot_is_to_the_bot_and_loses_a_leading_mention() -> None:
    mentioned = {"id": DISCORD_BOT, "username": "WaddleBot", "bot": True}
    event = discord(content=f"<@{DISCORD_BOT}> what is a penguin?", mentions=[mentioned])
    assert event.to_bot and event.text == "what is a penguin?"
    command = discord(content=f"<@!{DISCORD_BOT}>, !ping", mentions=[mentioned])
    assert command.to_bot and command.text == "!ping"  # the router sees the command
    later = discord(content=f"thanks <@{DISCORD_BOT}>!", mentions=[mentioned])
    assert later.to_bot and later.text == f"thanks <@{DISCORD_BOT}>!"


def test_discord_a_reply_to_the_bots_message_is_to_the_bot() -> None:
    parent = {"id": "334385199974967000", "author": {"id": DISCORD_BOT, "bot": True}}
    event = discord(
        content="and then?",
        message_reference={"message_id": "334385199974967000"},
        referenced_message=parent,
    )
    assert event.to_bot and event.reply_to == "334385199974967000"


def test_discord_other_messages_are_not_to_the_bot() -> None:
    assert not discord().to_bot
    someone = {"id": "53908099506183999", "username": "bob"}
    assert not discord(content="<@53908099506183999> hi", mentions=[someone]).to_bot
    reply = {"id": "1", "author": someone}
    assert not discord(referenced_message=reply).to_bot
    # without knowing its own id (not connected yet) the bot is addressed by nobody
    mentioned = {"id": DISCORD_BOT}
    unknown = message_create(in_guild(mentions=[mentioned]), None, bot_user_id="")
    assert unknown is not None and not unknown.to_bot


def test_slack_an_app_mention_is_to_the_bot_and_loses_the_mention() -> None:
    event = slack.message(TEAM, fixture("event.app_mention"), ALICE, bot_user_id=BOT)
    assert event.to_bot and event.text == "ping"
    # the same line as a plain message (Slack sends both) says the same
    same = {**fixture("event.app_mention"), "type": "message"}
    assert slack.message(TEAM, same, ALICE, bot_user_id=BOT).to_bot


def test_slack_a_reply_in_the_bots_thread_is_to_the_bot() -> None:
    said = {
        **fixture("event.message"),
        "text": "and then?",
        "thread_ts": "1699999999.000001",
        "parent_user_id": BOT,
    }
    assert slack.message(TEAM, said, ALICE, bot_user_id=BOT).to_bot


def test_slack_other_messages_are_not_to_the_bot() -> None:
    assert not slack.message(TEAM, fixture("event.message"), ALICE, bot_user_id=BOT).to_bot
    said = {**fixture("event.message"), "text": "<@U0BOB000001> hi", "parent_user_id": "U0BOB"}
    assert not slack.message(TEAM, said, ALICE, bot_user_id=BOT).to_bot


def mention_of(user_id: str, login: str, said: str = "how tall are penguins?") -> dict[str, Any]:
    """A chat message's ``message`` starting with a mention of ``login``."""
    return {
        "text": f"@{login} {said}",
        "fragments": [
            {
                "type": "mention",
                "text": f"@{login}",
                "cheermote": None,
                "emote": None,
                "mention": {"user_id": user_id, "user_login": login, "user_name": login},
            },
            {
                "type": "text",
                "text": f" {said}",
                "cheermote": None,
                "emote": None,
                "mention": None,
            },
        ],
    }


def test_twitch_a_mention_fragment_naming_the_bot_is_to_the_bot() -> None:
    notification = recorded("channel.chat.message", message=mention_of(TWITCH_BOT, "waddlebot"))
    event = twitch(notification, bot_user_id=TWITCH_BOT)
    assert event is not None and event.to_bot
    assert event.text == "how tall are penguins?"  # the leading mention is dropped
    command = recorded("channel.chat.message", message=mention_of(TWITCH_BOT, "waddlebot", "!ping"))
    event = twitch(command, bot_user_id=TWITCH_BOT)
    assert event is not None and event.to_bot and event.text == "!ping"


def test_twitch_a_reply_to_the_bot_is_to_the_bot() -> None:
    reply = {
        "parent_message_id": "b5ee3ae3-8c6f-4f5a-9b1f-6f0d6b2a8c11",
        "parent_message_body": "Penguins eat fish.",
        "parent_user_id": TWITCH_BOT,
        "parent_user_name": "WaddleBot",
        "parent_user_login": "waddlebot",
        "thread_message_id": "b5ee3ae3-8c6f-4f5a-9b1f-6f0d6b2a8c11",
        "thread_user_id": TWITCH_BOT,
        "thread_user_name": "WaddleBot",
        "thread_user_login": "waddlebot",
    }
    # Twitch starts a reply's text with a mention of the one replied to
    said = mention_of(TWITCH_BOT, "waddlebot", "and then?")
    event = twitch(
        recorded("channel.chat.message", reply=reply, message=said), bot_user_id=TWITCH_BOT
    )
    assert event is not None and event.to_bot and event.text == "and then?"
    assert event.reply_to == "b5ee3ae3-8c6f-4f5a-9b1f-6f0d6b2a8c11"


def test_twitch_other_lines_are_not_to_the_bot() -> None:
    plain = twitch(recorded("channel.chat.message"), bot_user_id=TWITCH_BOT)
    assert plain is not None and not plain.to_bot
    other = recorded("channel.chat.message", message=mention_of("999", "someone"))
    event = twitch(other, bot_user_id=TWITCH_BOT)
    assert event is not None and not event.to_bot
    assert event.text == "@someone how tall are penguins?"
