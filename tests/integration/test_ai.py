"""``!ai`` end to end, embedded and distributed: the console asks, the bot asks the fake
Ollama and OpenAI servers through their official clients and answers in chat; follow-ups carry
the channel's earlier turns (kept in the cache: Redis when distributed); a failing provider
falls back to the next; all failing is an apology; the answer never pings a crowd; and a
community that switches the module off gets nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import SecretStr

from tests.fakes.ollama import FakeOllama
from tests.fakes.openai_api import FakeOpenAI
from tests.support.harness import free_port, say
from waddlebot.features.ai.module import APOLOGY
from waddlebot.features.ai.safety import ZERO_WIDTH
from waddlebot.features.ai.service import DEFAULT_PERSONA
from waddlebot.runtime import Runtime
from waddlebot.settings import Settings

KEY = "sk-test-key-for-the-fake"


@dataclass
class Bot:
    runtime: Runtime
    ollama: FakeOllama
    openai: FakeOpenAI


def _settings(settings: Settings, **ai: Any) -> Settings:
    # the fakes answer at once; the router's timeout is generous so a loaded machine never
    # turns an answer into an apology
    return settings.model_copy(update={"module_timeout_seconds": 10.0, **ai})


def wired(settings: Settings, ollama: FakeOllama, openai: FakeOpenAI, **more: Any) -> Settings:
    """``settings`` with the AI asking the two fakes (OpenAI with the key it expects)."""
    return _settings(
        settings,
        ai_ollama_url=ollama.url,
        ai_openai_url=openai.url,
        ai_openai_api_key=SecretStr(KEY),
        **more,
    )


@pytest.fixture
async def bot(settings: Settings) -> AsyncIterator[Bot]:
    async with FakeOllama() as ollama, FakeOpenAI(api_key=KEY) as openai:
        runtime = await Runtime.start(wired(settings, ollama, openai))
        try:
            yield Bot(runtime, ollama, openai)
        finally:
            await runtime.stop()


async def owner(runtime: Runtime, text: str) -> list[str]:
    return await say(runtime, text, role="owner")


async def use(runtime: Runtime, *providers: str) -> None:
    order = ",".join(f'"{name}"' for name in providers)
    assert await owner(runtime, f"!module config ai provider_order [{order}]") == [
        f"ai: provider_order is now {list(providers)}."
    ]


async def test_a_question_is_answered_in_the_communitys_persona(bot: Bot) -> None:
    bot.ollama.script.rules["alice: what is waddlebot?"] = "A bot for communities."
    assert await say(bot.runtime, "!ai what is waddlebot?") == ["A bot for communities."]
    (chat,) = bot.ollama.script.chats
    assert chat["model"] == "llama3.2" and chat["stream"] is False
    system, question = chat["messages"]
    assert system["role"] == "system" and system["content"].startswith(DEFAULT_PERSONA)
    assert question == {"role": "user", "content": "alice: what is waddlebot?"}
    assert bot.openai.script.chats == []

    assert await owner(bot.runtime, "!module config ai persona You are a grumpy pirate.") == [
        "ai: persona is now You are a grumpy pirate.."
    ]
    await say(bot.runtime, "!ai ahoy?", user="bob")
    system, *_ = bot.ollama.script.last_messages
    assert system["content"].startswith("You are a grumpy pirate.")


async def test_a_question_is_needed(bot: Bot) -> None:
    (said,) = await say(bot.runtime, "!ai")
    assert "ask something" in said
    assert bot.ollama.script.chats == []


@pytest.mark.parametrize("provider", ["ollama", "openai"])
async def test_a_follow_up_remembers_the_channels_conversation(bot: Bot, provider: str) -> None:
    await use(bot.runtime, provider)
    fake = bot.ollama if provider == "ollama" else bot.openai
    first = "You asked 'alice: who are you?'; I saw 2 messages."
    assert await say(bot.runtime, "!ai who are you?") == [first]
    second = "You asked 'bob: and what do you do?'; I saw 4 messages."
    assert await say(bot.runtime, "!ai and what do you do?", user="bob") == [second]
    assert fake.script.last_messages[1:] == [
        {"role": "user", "content": "alice: who are you?"},
        {"role": "assistant", "content": first},
        {"role": "user", "content": "bob: and what do you do?"},
    ]
    # another channel is another conversation (and here another community)
    (elsewhere,) = await say(bot.runtime, "!ai hello?", channel="elsewhere")
    assert elsewhere.endswith("I saw 2 messages.")


async def test_memory_keeps_only_the_last_turns(bot: Bot) -> None:
    assert await owner(bot.runtime, "!module config ai memory_turns 1") == [
        "ai: memory_turns is now 1."
    ]
    for question in ("one", "two", "three"):
        await say(bot.runtime, f"!ai {question}")
    assert [m["content"] for m in bot.ollama.script.last_messages[1:]] == [
        "alice: two",
        "You asked 'alice: two'; I saw 4 messages.",
        "alice: three",
    ]


async def test_a_failing_ollama_falls_back_to_openai(bot: Bot) -> None:
    bot.ollama.script.fail(500, times=None, message="llama runner process has terminated")
    bot.openai.script.rules["alice: still there?"] = "Yes, through OpenAI."
    assert await say(bot.runtime, "!ai still there?") == ["Yes, through OpenAI."]
    assert len(bot.ollama.script.chats) == 1
    (chat,) = bot.openai.script.chats
    assert chat["model"] == "gpt-4o-mini"
    assert bot.openai.headers[0]["authorization"] == f"Bearer {KEY}"


@pytest.mark.parametrize("mode", ["embedded"])
async def test_an_unreachable_ollama_falls_back_to_openai(settings: Settings) -> None:
    async with FakeOpenAI(api_key=KEY) as openai:
        configured = _settings(
            settings,
            ai_ollama_url=f"http://127.0.0.1:{free_port()}",  # nothing listens there
            ai_openai_url=openai.url,
            ai_openai_api_key=SecretStr(KEY),
        )
        runtime = await Runtime.start(configured)
        try:
            (said,) = await say(runtime, "!ai anyone home?")
        finally:
            await runtime.stop()
    assert said == "You asked 'alice: anyone home?'; I saw 2 messages."


async def test_a_rate_limit_is_waited_out_only_when_short(bot: Bot) -> None:
    await use(bot.runtime, "openai", "ollama")
    bot.openai.script.fail(429, retry_after="0")
    bot.openai.script.rules["alice: quick?"] = "Quick enough."
    assert await say(bot.runtime, "!ai quick?") == ["Quick enough."]
    assert len(bot.openai.script.chats) == 2 and bot.ollama.script.chats == []

    bot.openai.script.fail(429, retry_after="60")  # longer than WADDLEBOT_AI_RETRY_AFTER_MAX
    bot.ollama.script.rules["alice: slow?"] = "Ollama took it."
    assert await say(bot.runtime, "!ai slow?") == ["Ollama took it."]
    assert len(bot.openai.script.chats) == 3


@pytest.mark.parametrize("mode", ["embedded"])
async def test_a_wrong_key_falls_back_too(settings: Settings) -> None:
    async with FakeOllama() as ollama, FakeOpenAI(api_key=KEY) as openai:
        configured = _settings(
            settings,
            ai_ollama_url=ollama.url,
            ai_openai_url=openai.url,
            ai_openai_api_key=SecretStr("sk-not-the-key"),
        )
        runtime = await Runtime.start(configured)
        try:
            await use(runtime, "openai", "ollama")
            ollama.script.rules["alice: hi"] = "Hi from Ollama."
            assert await say(runtime, "!ai hi") == ["Hi from Ollama."]
        finally:
            await runtime.stop()
    assert len(openai.headers) == 1


async def test_all_failing_is_an_apology_and_nothing_is_remembered(bot: Bot) -> None:
    bot.ollama.script.fail(503, times=1)
    bot.openai.script.fail(500, times=1)
    assert await say(bot.runtime, "!ai are you there?") == [APOLOGY]
    (said,) = await say(bot.runtime, "!ai now?")
    assert said == "You asked 'alice: now?'; I saw 2 messages."


async def test_a_mass_mention_in_the_answer_pings_nobody(bot: Bot) -> None:
    bot.ollama.script.rules["mallory: say hi to all"] = "Hi @everyone and @here! <@&987> too"
    (said,) = await say(bot.runtime, "!ai say hi to all", user="mallory")
    assert said == f"Hi @{ZERO_WIDTH}everyone and @{ZERO_WIDTH}here! @role too"


async def test_a_long_answer_is_cut_to_max_reply_chars(bot: Bot) -> None:
    assert await owner(bot.runtime, "!module config ai max_reply_chars 40") == [
        "ai: max_reply_chars is now 40."
    ]
    bot.ollama.script.rules["alice: tell me everything"] = "penguins " * 50
    (said,) = await say(bot.runtime, "!ai tell me everything")
    assert len(said) <= 40 and said.endswith("…")
    assert "at most 40 characters" in bot.ollama.script.last_messages[0]["content"]


async def test_a_bad_setting_is_refused(bot: Bot) -> None:
    (said,) = await owner(bot.runtime, '!module config ai provider_order ["claude"]')
    assert "provider_order" in said and "claude" in said


async def test_switched_off_it_answers_nothing(bot: Bot) -> None:
    assert await owner(bot.runtime, "!module disable ai") == ["ai is off here now."]
    assert await say(bot.runtime, "!ai hello?") == []
    assert bot.ollama.script.chats == [] and bot.openai.script.chats == []
    assert await owner(bot.runtime, "!module enable ai") == ["ai is on here now."]
    assert len(await say(bot.runtime, "!ai hello?")) == 1
