"""``!ai``'s cost and safety, end to end: a community's daily token budget (spent, the bot
rests until midnight UTC; the tokens in the API and ``/metrics``), the per-person and
per-community rate limits (said once per window, moderators exempt from the person's), the
moderation check before posting (flagged, clean, unreachable), and a channel's memory
forgotten after the quiet time."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import structlog
from prometheus_client import REGISTRY

from tests.fakes.ollama import FakeOllama
from tests.fakes.openai_api import FakeOpenAI
from tests.integration.test_ai import KEY, Bot, _settings, bot, owner, wired  # noqa: F401
from tests.support.clocks import Clock
from tests.support.community_api import Api, community_api
from tests.support.harness import say
from waddlebot.core.module_config import with_defaults
from waddlebot.features.ai.memory import ChannelMemory
from waddlebot.features.ai.moderation import FLAGGED_LINE, UNCHECKED_LINE
from waddlebot.features.ai.providers import OllamaProvider
from waddlebot.features.ai.service import CONFIG_SCHEMA, Assistant, Question
from waddlebot.infra.memory import MemoryCache
from waddlebot.settings import Settings

OLLAMA_PROMPT_TOKENS = 26  # what the fake Ollama counts for any prompt


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
async def served(settings: Settings) -> AsyncIterator[tuple[Api, FakeOllama]]:
    async with FakeOllama() as ollama, FakeOpenAI(api_key=KEY) as openai:
        configured = wired(settings, ollama, openai, ai_daily_tokens=1000)
        async with community_api(configured) as api:
            yield api, ollama


async def test_a_spent_budget_rests_the_ai_and_shows_in_the_api_and_metrics(
    served: tuple[Api, FakeOllama],
) -> None:
    api, ollama = served
    runtime, http = api.runtime, api.http
    directory = runtime.directory
    home = (await directory.resolve_entity("console:local", "console")).community_id
    moderator = await directory.ensure_identity("twitch", "2", login="mo")
    await directory.set_role(home, moderator, "moderator")
    prompt_before = sample("waddlebot_ai_tokens_total", provider="ollama", kind="prompt")
    refused_before = sample("waddlebot_ai_answers_total", outcome="over_budget")

    assert await owner(runtime, "!module config ai daily_tokens 10") == [
        "ai: daily_tokens is now 10."
    ]
    ollama.script.rules["alice: hi"] = "Hello there."
    assert await say(runtime, "!ai hi") == ["Hello there."]  # 28 tokens: over, but answered
    assert await say(runtime, "!ai again?", user="bob") == [
        "The AI is resting: this community has used today's 10 tokens. It is back at midnight UTC."
    ]
    assert len(ollama.script.chats) == 1  # the model was not asked

    usage = f"/api/v1/ai/communities/{home}/usage"
    seen = await http.get(usage, headers=api.moderator_a)
    assert seen.status_code == 200, seen.text
    body = seen.json()
    assert (body["daily_tokens"], body["operator_daily_tokens"], body["own_budget"]) == (
        10,
        1000,
        True,
    )
    (today,) = body["days"]
    assert (today["tokens"], today["refused"]) == (OLLAMA_PROMPT_TOKENS + 2, 1)
    assert today["providers"] == {
        "ollama": {"prompt_tokens": OLLAMA_PROMPT_TOKENS, "completion_tokens": 2},
        "openai": {"prompt_tokens": 0, "completion_tokens": 0},
    }
    week = await http.get(usage, params={"days": 7}, headers=api.moderator_a)
    assert [day["tokens"] for day in week.json()["days"]] == [OLLAMA_PROMPT_TOKENS + 2] + [0] * 6
    assert (await http.get(usage, params={"days": 0}, headers=api.moderator_a)).status_code == 422
    other = f"/api/v1/ai/communities/{api.b}/usage"
    assert (await http.get(other, headers=api.moderator_a)).status_code == 403

    scraped = (await http.get("/metrics")).text
    assert 'waddlebot_ai_tokens_total{kind="prompt",provider="ollama"}' in scraped
    assert 'waddlebot_ai_answers_total{outcome="over_budget"}' in scraped
    prompt_after = sample("waddlebot_ai_tokens_total", provider="ollama", kind="prompt")
    assert prompt_after - prompt_before == OLLAMA_PROMPT_TOKENS
    assert sample("waddlebot_ai_answers_total", outcome="over_budget") - refused_before == 1

    # the operator's budget is a ceiling: asking for more than it gets the operator's
    assert await owner(runtime, "!module config ai daily_tokens 5000") == [
        "ai: daily_tokens is now 5000."
    ]
    raised = (await http.get(usage, headers=api.moderator_a)).json()
    assert (raised["daily_tokens"], raised["own_budget"]) == (1000, True)
    assert await say(runtime, "!ai hi") == ["Hello there."]  # 28 of 1000 spent


async def test_one_person_is_limited_and_told_once(bot: Bot) -> None:  # noqa: F811
    assert await owner(bot.runtime, "!module config ai per_person_per_minute 2") == [
        "ai: per_person_per_minute is now 2."
    ]
    for question in ("one", "two"):
        (said,) = await say(bot.runtime, f"!ai {question}", user="carl")
        assert said.startswith("You asked")
    assert await say(bot.runtime, "!ai three", user="carl") == [
        "carl, that's 2 questions a minute each; ask again in a moment."
    ]
    assert await say(bot.runtime, "!ai four", user="carl") == []  # said once in the window
    assert len(bot.ollama.script.chats) == 2
    (said,) = await say(bot.runtime, "!ai my turn?", user="bob")
    assert said.startswith("You asked 'bob: my turn?'")
    for question in ("a", "b", "c"):  # moderators are not held to the person's limit
        (said,) = await say(bot.runtime, f"!ai {question}", user="mo", role="moderator")
        assert said.startswith("You asked")


async def test_the_community_is_limited_and_told_once(bot: Bot) -> None:  # noqa: F811
    await owner(bot.runtime, "!module config ai per_person_per_minute 0")
    assert await owner(bot.runtime, "!module config ai per_community_per_minute 2") == [
        "ai: per_community_per_minute is now 2."
    ]
    for user in ("alice", "bob"):
        (said,) = await say(bot.runtime, "!ai hello?", user=user)
        assert said.startswith("You asked")
    assert await say(bot.runtime, "!ai hello?", user="carol") == [
        "I'm answering 2 questions a minute here at most; ask again in a moment."
    ]
    assert await say(bot.runtime, "!ai hello?", user="dave") == []
    assert await say(bot.runtime, "!ai hello?", user="mo", role="moderator") == []
    assert len(bot.ollama.script.chats) == 2


async def test_moderation_holds_back_a_flagged_answer(bot: Bot) -> None:  # noqa: F811
    for asker in ("alice", "bob"):
        bot.ollama.script.rules[f"{asker}: be rude"] = "You are a dreadful person."
    bot.openai.flags["You are a dreadful person."] = ("harassment", "hate")
    assert await say(bot.runtime, "!ai be rude") == ["You are a dreadful person."]
    assert bot.openai.moderated == []  # off by default: nothing checked

    assert await owner(bot.runtime, "!module config ai moderate true") == [
        "ai: moderate is now True."
    ]
    moderated_before = sample("waddlebot_ai_answers_total", outcome="moderated")
    with structlog.testing.capture_logs() as logs:
        assert await say(bot.runtime, "!ai be rude", user="bob") == [FLAGGED_LINE]
    (flagged,) = [log for log in logs if log["event"] == "ai answer flagged"]
    assert flagged["categories"] == ["harassment", "hate"]
    assert "dreadful" not in str(logs)  # the answer itself is not logged
    assert bot.openai.moderated[-1]["input"] == "You are a dreadful person."
    assert bot.openai.moderated[-1]["model"] == "omni-moderation-latest"
    assert sample("waddlebot_ai_answers_total", outcome="moderated") - moderated_before == 1

    (clean,) = await say(bot.runtime, "!ai are you nice?", user="bob")
    # the flagged turn was not remembered: alice's first turn and this question
    assert clean == "You asked 'bob: are you nice?'; I saw 4 messages."

    bot.openai.moderation_failures.fail(503, times=None)  # unreachable: fail closed
    assert await say(bot.runtime, "!ai still there?", user="carol") == [UNCHECKED_LINE]


async def test_a_channels_memory_is_forgotten_after_the_quiet_time() -> None:
    clock = Clock()
    config = with_defaults(CONFIG_SCHEMA, {"provider_order": ["ollama"]})
    async with FakeOllama() as fake:
        provider = OllamaProvider(fake.url, timeout=5.0)
        assistant = Assistant(
            {"ollama": provider},
            ChannelMemory(MemoryCache(clock=clock), ttl=1800),
            request_timeout=5.0,
            answer_seconds=5.0,
        )
        try:

            async def ask(text: str) -> int:
                question = Question(1, "console", "local", "alice", text)
                answer = await assistant.ask(question, config, limit=400)
                await assistant.remember(question, config, answer, answer.text)
                return len(fake.script.last_messages)

            assert await ask("one") == 2
            clock.now += 1799  # a follow-up within the quiet time: remembered
            assert await ask("two") == 4
            clock.now += 1799  # the quiet time starts again with each turn
            assert await ask("three") == 6
            clock.now += 1800
            assert await ask("four") == 2  # quiet for 30 minutes: a new conversation
        finally:
            await provider.close()
