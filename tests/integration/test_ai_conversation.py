"""The AI answering where chat happens, embedded and distributed: a mention of the bot or a
reply to it is answered as ``!ai`` would be, raids are greeted when a community asks, the bot
joins in unasked in chosen channels with a cooldown, long answers are split on Discord, and
links are said only where the community allows them. Chat lines reach the router as the
collectors' translations make them from recorded payloads (tests/unit/test_to_bot.py)."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import SecretStr

from tests.fakes.ollama import FakeOllama
from tests.fakes.openai_api import FakeOpenAI
from tests.fakes.slack import FakeSlack
from tests.integration.test_ai import KEY, Bot, bot, owner, wired
from tests.integration.test_discord_collector import World, world
from tests.support.harness import chat_event, say, serving
from tests.unit.test_discord_translate import in_guild
from tests.unit.test_to_bot import DISCORD_BOT, TWITCH_BOT, mention_of
from tests.unit.test_twitch_translate import recorded
from waddlebot.core.events import Amounts, Author, Event, EventType, new_id
from waddlebot.core.permissions import PlatformRole
from waddlebot.features.ai.safety import LINK_REMOVED
from waddlebot.features.ai.service import DEFAULT_PERSONA
from waddlebot.infra.codec import Envelope
from waddlebot.infra.secretbox import SecretBox
from waddlebot.platforms.discord.translate import message_create
from waddlebot.platforms.slack.webhook import COMMANDS_PATH
from waddlebot.platforms.twitch.translate import translate as twitch
from waddlebot.router.modules import LocalModuleClient
from waddlebot.router.pipeline import Incoming
from waddlebot.runtime import Runtime
from waddlebot.sdk import ChatScope, Context, Module
from waddlebot.settings import Settings

__all__ = ["bot", "world"]  # fixtures shared with test_ai.py and test_discord_collector.py

DISCORD = {"platform": "discord", "entity": "discord:9:1"}
SNOWFLAKES = itertools.count(334385199974968000)  # each message its own id: no dedupe


async def feed(runtime: Runtime, event: Event) -> list[str]:
    outcomes = await runtime.router.process([Incoming(Envelope(event))])
    return [reply.text for outcome in outcomes for reply in outcome.replies]


async def configure(runtime: Runtime, key: str, value: str, **place: Any) -> None:
    """``!module config ai KEY VALUE`` by the owner of the place (the console's by default)."""
    line = f"!module config ai {key} {value}"
    if place:
        said = await feed(runtime, chat_event(line, roles=(PlatformRole.OWNER,), **place))
    else:
        said = await owner(runtime, line)
    assert len(said) == 1 and said[0].startswith(f"ai: {key} is now"), said


def on_twitch(said: dict[str, Any], **event: Any) -> Event:
    """A chat line as the Twitch collector makes it (the bot reading is TWITCH_BOT)."""
    notification = recorded("channel.chat.message", message=said, message_id=new_id(), **event)
    made = twitch(notification, bot_user_id=TWITCH_BOT)
    assert made is not None
    return made


def on_discord(content: str, **fields: Any) -> Event:
    payload = in_guild(content=content, id=str(next(SNOWFLAKES)), **fields)
    made = message_create(payload, None, bot_user_id=DISCORD_BOT)
    assert made is not None
    return made


async def test_a_mention_of_the_bot_is_answered_like_ai(bot: Bot) -> None:
    bot.ollama.script.rules["viewer32: what is waddlebot?"] = "A bot for communities."
    mention = on_twitch(mention_of(TWITCH_BOT, "waddlebot", "what is waddlebot?"))
    assert await feed(bot.runtime, mention) == ["A bot for communities."]
    system, question = bot.ollama.script.last_messages
    assert system["content"].startswith(DEFAULT_PERSONA)
    assert question == {"role": "user", "content": "viewer32: what is waddlebot?"}

    # a line not addressed to the bot is not answered; "@bot !ai ..." is the command, once
    assert await feed(bot.runtime, on_twitch({"text": "what is waddlebot?"})) == []
    command = on_twitch(mention_of(TWITCH_BOT, "waddlebot", "!ai again?"))
    (said,) = await feed(bot.runtime, command)
    assert said.startswith("You asked 'viewer32: again?'")
    assert len(bot.ollama.script.chats) == 2


async def test_a_reply_to_the_bot_continues_the_conversation(bot: Bot) -> None:
    me = {"id": DISCORD_BOT, "username": "WaddleBot", "bot": True}
    first = on_discord(f"<@{DISCORD_BOT}> who are you?", mentions=[me])
    (answer,) = await feed(bot.runtime, first)
    assert answer == "You asked 'Mace: who are you?'; I saw 2 messages."
    reply = on_discord(
        "and then?",
        message_reference={"message_id": "334385199974967999"},
        referenced_message={"id": "334385199974967999", "author": me, "content": answer},
    )
    assert await feed(bot.runtime, reply) == ["You asked 'Mace: and then?'; I saw 4 messages."]
    # a reply to someone else is not to the bot
    other = {"id": "53908099506183999", "username": "bob"}
    aside = on_discord("lol", referenced_message={"id": "1", "author": other})
    assert await feed(bot.runtime, aside) == []


async def test_a_raid_is_greeted_only_when_the_community_asks(bot: Bot) -> None:
    def raid() -> Event:
        return Event(
            platform="twitch",
            entity_id="twitch:1337",
            message_id=new_id(),
            type=EventType.RAID,
            author=Author(user_id="77", login="pengu", display_name="Pengu"),
            amounts=Amounts(viewers=12),
        )

    facts = "Pengu raided the channel with 12 viewers"
    bot.ollama.script.rules[facts] = "Welcome, Pengu and all 12 of you! @everyone say hi"
    others = await feed(bot.runtime, raid())  # the test module's own raid alert
    assert bot.ollama.script.chats == []  # greetings are off by default

    await configure(bot.runtime, "greet", '["raid","follow"]', user_id="1337", login="owner")
    (said,) = [text for text in await feed(bot.runtime, raid()) if text not in others]
    assert said == "Welcome, Pengu and all 12 of you! @\u200beveryone say hi"
    system, user = bot.ollama.script.last_messages
    assert user == {"role": "user", "content": facts}  # the facts are user content
    assert "welcoming" in system["content"]


async def test_auto_replies_join_in_once_per_cooldown(bot: Bot) -> None:
    await configure(bot.runtime, "auto_reply_channels", '["local"]')
    await configure(bot.runtime, "auto_reply_share", "1")
    await configure(bot.runtime, "auto_reply_cooldown_seconds", "3600")
    assert await say(bot.runtime, "penguins are great") == [
        "You asked 'alice: penguins are great'; I saw 2 messages."
    ]
    assert await say(bot.runtime, "they really are", user="bob") == []  # the cooldown
    assert await say(bot.runtime, "hello", channel="elsewhere") == []  # not a chosen channel
    assert await say(bot.runtime, "!ai still there?") != []  # commands are not held back
    assert len(bot.ollama.script.chats) == 2


async def test_a_long_answer_is_split_on_discord_and_cut_on_twitch(bot: Bot) -> None:
    answer = ("penguin " * 400).strip()  # 3199 characters
    bot.ollama.script.rules["viewer: tell me everything"] = answer
    await configure(bot.runtime, "max_reply_chars", "4000", user_id="1", **DISCORD)
    parts = await feed(bot.runtime, chat_event("!ai tell me everything", **DISCORD))
    assert [len(part) for part in parts] == [1999, 1199]
    assert " ".join(parts) == answer

    await configure(bot.runtime, "max_reply_chars", "4000", user_id="1337")
    (said,) = await feed(bot.runtime, chat_event("!ai tell me everything"))
    assert len(said) <= 500 and said.endswith("…")


async def test_links_are_removed_unless_the_community_allows_them(bot: Bot) -> None:
    bot.ollama.script.rules["alice: where?"] = "See **[the docs](https://example.com/docs)**."
    assert await say(bot.runtime, "!ai where?") == ["See **the docs**."]
    bot.ollama.script.rules["alice: link?"] = "It is https://example.com/x ok"
    assert await say(bot.runtime, "!ai link?") == [f"It is {LINK_REMOVED} ok"]

    await configure(bot.runtime, "allow_links", "true")
    assert await say(bot.runtime, "!ai link?") == ["It is https://example.com/x ok"]
    twitch = chat_event("!ai where?", login="alice")
    await configure(bot.runtime, "allow_links", "true", user_id="1337")
    assert await feed(bot.runtime, twitch) == ["See the docs (https://example.com/docs)."]


async def test_a_narrowed_chat_listener_is_called_only_for_the_lines_it_asked_for(
    bot: Bot,
) -> None:
    heard: list[str] = []
    probe = Module(
        "probe",
        config_schema={"properties": {"watch": {"type": "boolean", "default": False}}},
        chat=ChatScope(to_bot=True, while_set="watch"),
    )

    @probe.on(EventType.CHAT_MESSAGE)
    async def listen(ctx: Context) -> None:
        heard.append(ctx.request.raw_text)

    bot.runtime.registry.add(LocalModuleClient(probe))
    await say(bot.runtime, "plain talk")
    await feed(bot.runtime, chat_event("!ping", to_bot=True))  # a command, not talk
    await feed(bot.runtime, chat_event("@waddlebot hi", to_bot=True))
    assert heard == ["@waddlebot hi"]

    assert await owner(bot.runtime, "!module config probe watch true") == [
        "probe: watch is now True."
    ]
    await say(bot.runtime, "plain talk")
    assert heard == ["@waddlebot hi", "plain talk"]


@pytest.fixture
async def ollama() -> AsyncIterator[FakeOllama]:
    async with FakeOllama() as fake:
        yield fake


@pytest.fixture
def more_settings(ollama: FakeOllama) -> dict[str, Any]:
    """The Discord world of test_discord_collector.py, asking the fake Ollama."""
    return {"ai_ollama_url": ollama.url}


async def test_on_discord_a_mention_and_a_reply_are_answered_and_a_long_answer_split(
    world: World, ollama: FakeOllama
) -> None:
    fake, bot_user = world.fake, world.fake.bot
    await fake.post_message(world.general, world.owner, "!module config ai max_reply_chars 4000")
    await fake.wait_for_sent(1, world.general)

    await fake.post_message(
        world.general, world.alice, f"<@{bot_user.id}> who are you?", mentions=[bot_user]
    )
    _, answer = await fake.wait_for_sent(2, world.general)
    assert answer.content == "You asked 'alice: who are you?'; I saw 2 messages."

    ollama.script.rules["alice: tell me everything"] = ("penguin " * 400).strip()
    await fake.post_message(world.general, world.alice, "tell me everything", reply_to=answer)
    *_, first, second = await fake.wait_for_sent(4, world.general)
    assert (len(first.content), len(second.content)) == (1999, 1199)
    assert ollama.script.last_messages[1]["content"] == "alice: who are you?"  # remembered


async def test_a_slow_model_on_slack_is_acknowledged_then_answered(settings: Settings) -> None:
    """A model slower than the 3 s Slack waits for a slash command's answer: the command is
    acknowledged at once and the answer follows through its response_url."""
    async with (
        FakeSlack() as fake,
        FakeOllama() as ollama,
        FakeOpenAI(api_key=KEY) as openai,
    ):
        team = fake.add_team("Acme")
        alice = fake.add_user(team, "alice")
        general = fake.add_channel(team, "general", members=[alice])
        configured = wired(
            settings,
            ollama,
            openai,
            slack_signing_secret=SecretStr(fake.signing_secret),
            slack_api_url=fake.api_url,
            slack_bot_token=SecretStr(team.bot_token),
            slack_inline_wait_seconds=0.3,  # the window, shortened: the model takes longer
            secret_keys=[SecretStr(SecretBox.generate_key())],  # Slack's tokens are sealed
        )
        ollama.script.rules["alice: what is a penguin?"] = "A bird that swims."
        ollama.script.delay = 1.0
        async with serving(configured) as (url, _):
            status, body = await fake.slash_command(
                f"{url}{COMMANDS_PATH}", team, general, alice, "/waddle", "ai what is a penguin?"
            )
            assert (status, body) == (200, "")  # acknowledged within the window
            (late,) = await fake.wait_for_responses(1)
            assert (late["response_type"], late["text"]) == ("in_channel", "A bird that swims.")
            await fake.settle()
