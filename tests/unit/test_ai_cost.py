"""The AI's token budget (the operator's is a ceiling; spent refuses, booked per provider and
day) and its rate limits (told once a window; moderators exempt from the person's)."""

from __future__ import annotations

from datetime import date, timedelta

from waddlebot.features.ai.budget import TokenBudget
from waddlebot.features.ai.limits import AskLimits
from waddlebot.features.ai.providers import Completion
from waddlebot.infra.memory import MemoryCache, MemoryRateLimiter

LIMITS = {"per_person_per_minute": 1, "per_community_per_minute": 3}


class Day:
    def __init__(self) -> None:
        self.today = date(2026, 3, 1)

    def __call__(self) -> date:
        return self.today


def budget(operator: int, day: Day | None = None) -> TokenBudget:
    return TokenBudget(
        MemoryCache(), operator_daily=operator, providers=("ollama", "openai"), today=day
    )


def test_the_operators_budget_is_a_ceiling() -> None:
    capped = budget(1000)
    assert capped.of({}) == 1000
    assert capped.of({"daily_tokens": 0}) == 1000
    assert capped.of({"daily_tokens": 200}) == 200
    assert capped.of({"daily_tokens": 5000}) == 1000
    unlimited = budget(0)
    assert unlimited.of({}) == 0
    assert unlimited.of({"daily_tokens": 5000}) == 5000


async def test_spent_refuses_until_the_next_day() -> None:
    day = Day()
    tokens = budget(0, day)
    config = {"daily_tokens": 30}
    assert await tokens.refusal(1, config) is None
    await tokens.book(1, "ollama", Completion("hi", prompt_tokens=20, completion_tokens=5))
    assert await tokens.refusal(1, config) is None  # 25 of 30
    await tokens.book(1, "openai", Completion("", prompt_tokens=4, completion_tokens=1))
    assert await tokens.refusal(1, config) == (
        "The AI is resting: this community has used today's 30 tokens. It is back at midnight UTC."
    )
    assert await tokens.refusal(2, config) is None  # another community's day
    day.today += timedelta(days=1)
    assert await tokens.refusal(1, config) is None

    today, yesterday = await tokens.usage(1, days=2)
    assert (today.tokens, today.refused) == (0, 0)
    assert (yesterday.day, yesterday.tokens, yesterday.refused) == (date(2026, 3, 1), 30, 1)
    assert yesterday.providers["ollama"].prompt == 20
    assert yesterday.providers["openai"].completion == 1


async def test_usage_is_kept_a_month_at_most() -> None:
    assert len(await budget(0).usage(1, days=30)) == 30  # the portal's longest view
    assert len(await budget(0).usage(1, days=90)) == 31


async def test_a_person_is_told_once_and_a_moderator_is_exempt() -> None:
    limits = AskLimits(MemoryRateLimiter(), MemoryCache())

    async def ask(person: str, *, moderator: bool = False) -> str | None:
        return await limits.refusal(1, LIMITS, person=person, asker=person, moderator=moderator)

    assert await ask("ann") is None
    assert await ask("ann") == "ann, that's 1 questions a minute each; ask again in a moment."
    assert await ask("ann") == ""
    assert await ask("mod", moderator=True) is None  # the community's 2nd and 3rd
    assert await ask("mod", moderator=True) is None
    assert await ask("mod", moderator=True) == (
        "I'm answering 3 questions a minute here at most; ask again in a moment."
    )
    assert await ask("bob") == ""  # the community's refusal was said already


async def test_no_limits_set_counts_nothing() -> None:
    limits = AskLimits(MemoryRateLimiter(), MemoryCache())
    config = {"per_person_per_minute": 0, "per_community_per_minute": 0}
    for _ in range(50):
        assert await limits.refusal(1, config, person="p", asker="p", moderator=False) is None
