"""A failing module served over HTTP on loopback cannot hurt the bot: the breaker opens after
its failures and refuses at once while open, a probe goes through after the cool-down and its
success closes it; calls beyond the cap are refused as busy; each module has its own timeout.
Embedded and distributed."""

from __future__ import annotations

import asyncio
from collections import Counter
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

import pytest
from prometheus_client import REGISTRY

from tests.support.clocks import Clock
from tests.support.harness import bot_with_remote, say
from waddlebot.router.breaker import BreakerState
from waddlebot.runtime import Runtime
from waddlebot.sdk import Context, Module
from waddlebot.settings import Settings

SECRET = "breaker-secret-for-tests"


@dataclass
class Flaky:
    """A module that fails while ``healthy`` is False and holds ``!hold`` until ``gate``."""

    healthy: bool = False
    calls: Counter[str] = field(default_factory=Counter)
    entered: asyncio.Event = field(default_factory=asyncio.Event)
    gate: asyncio.Event = field(default_factory=asyncio.Event)

    def module(self) -> Module:
        module = Module("flaky", version="1.0.0", description="fails on purpose")

        @module.command("work")
        async def work(ctx: Context) -> str:
            self.calls["work"] += 1
            if not self.healthy:
                raise RuntimeError("down for maintenance")
            return "worked"

        @module.command("hold")
        async def hold(ctx: Context) -> str:
            self.calls["hold"] += 1
            self.entered.set()
            await self.gate.wait()
            return "held"

        @module.command("nap", usage="<seconds>")
        async def nap(ctx: Context) -> str:
            await asyncio.sleep(float(ctx.args[0]))
            return "awake"

        return module


@pytest.fixture
def flaky() -> Flaky:
    return Flaky()


def bot_with(
    settings: Settings, flaky: Flaky, **overrides: Any
) -> AbstractAsyncContextManager[Runtime]:
    return bot_with_remote(settings, flaky.module(), SECRET, **overrides)


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def errors_by_community(module: str) -> dict[str, float]:
    """``waddlebot_module_community_errors_total`` of ``module``, by community label."""
    (family,) = [f for f in REGISTRY.collect() if f.name == "waddlebot_module_community_errors"]
    return {
        s.labels["community"]: s.value
        for s in family.samples
        if s.name.endswith("_total") and s.labels["module"] == module
    }


async def test_the_breaker_opens_refuses_at_once_probes_and_closes(
    settings: Settings, flaky: Flaky
) -> None:
    async with bot_with(
        settings, flaky, module_breaker_failures=3, module_breaker_cooldown_seconds=30
    ) as bot:
        clock = Clock()
        bot.module_health.clock = clock
        health = bot.module_health
        errors_before = sample("waddlebot_module_errors_total", module="flaky", reason="error")
        by_community_before = errors_by_community("flaky")
        for _ in range(3):
            assert await say(bot, "!work") == ["Sorry, !work failed. The error has been logged."]
        assert health.state("flaky") is BreakerState.OPEN
        assert sample("waddlebot_module_breaker_state", module="flaky") == 2
        assert health.describe("flaky").startswith("breaker open, 3 errors, p99 ")
        assert health.describe("core") == ""  # nothing went wrong with it here

        # open: refused at once, the module is not called
        assert await say(bot, "!work") == ["!work is unavailable right now, try again later."]
        assert flaky.calls["work"] == 3
        snapshot = health.snapshot("flaky")
        assert (snapshot.calls, snapshot.errors, snapshot.refused) == (3, 3, 1)
        assert [e.reason for e in snapshot.recent_errors] == ["error"] * 3 + ["unavailable"]
        assert "HTTP 500" in snapshot.recent_errors[0].detail
        assert snapshot.p99_ms is not None
        assert sample("waddlebot_module_errors_total", module="flaky", reason="error") == (
            errors_before + 3
        )

        # after the cool-down a probe goes through; the module still fails: open again
        clock.now += 30
        assert health.state("flaky") is BreakerState.HALF_OPEN
        assert sample("waddlebot_module_breaker_state", module="flaky") == 1
        assert await say(bot, "!work") == ["Sorry, !work failed. The error has been logged."]
        assert flaky.calls["work"] == 4
        assert await say(bot, "!work") == ["!work is unavailable right now, try again later."]

        # the module recovers: the next probe closes the breaker, calls flow again
        flaky.healthy = True
        clock.now += 30
        assert await say(bot, "!work") == ["worked"]
        assert health.state("flaky") is BreakerState.CLOSED
        assert sample("waddlebot_module_breaker_state", module="flaky") == 0
        assert health.describe("flaky").startswith("ok, 4 errors, p99 ")
        assert await say(bot, "!work") == ["worked"]
        assert await say(bot, "!ping") == ["pong"]  # the bot itself was never hurt

        # the errors are counted for the console's community (every one above was there)
        after = errors_by_community("flaky")
        added = {c: n - by_community_before.get(c, 0) for c, n in after.items()}
        assert [n for n in added.values() if n] == [6]  # 4 failed, 2 refused


async def test_each_module_has_its_own_timeout(settings: Settings, flaky: Flaky) -> None:
    # the router's timeout is short, the module's own is long: the module's holds
    async with bot_with(
        settings, flaky, module_timeout_seconds=0.1, module_timeouts={"flaky": 10.0}
    ) as bot:
        assert await say(bot, "!nap 0.3") == ["awake"]
        assert bot.module_health.snapshot("flaky").timeout == 10.0
    # and the other way round
    async with bot_with(
        settings, flaky, module_timeout_seconds=10.0, module_timeouts={"flaky": 0.1}
    ) as bot:
        assert await say(bot, "!nap 5") == [
            "Sorry, !nap took too long to answer. The error has been logged."
        ]
        assert [e.reason for e in bot.module_health.snapshot("flaky").recent_errors] == ["timeout"]


async def test_calls_beyond_the_cap_are_refused_as_busy(settings: Settings, flaky: Flaky) -> None:
    async with bot_with(settings, flaky, module_max_concurrent=1, router_workers=2) as bot:
        held = asyncio.create_task(say(bot, "!hold"))
        await flaky.entered.wait()  # the one slot is taken
        assert await say(bot, "!work", user="bob", channel="elsewhere") == [
            "!work is busy right now, try again later."
        ]
        assert flaky.calls["work"] == 0
        flaky.gate.set()
        assert await held == ["held"]
        flaky.healthy = True
        assert await say(bot, "!work", user="bob", channel="elsewhere") == [
            "worked"
        ]  # the slot is free again
        assert bot.module_health.snapshot("flaky").refused == 1
        assert bot.module_health.state("flaky") is BreakerState.CLOSED  # busy is no failure
