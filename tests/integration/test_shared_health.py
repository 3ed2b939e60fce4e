"""Module health shared by every router process (router/shared_health.py), through real
Redis: a failing HTTP module's breaker opens in one router, and a process running no router
(the API's and portal's) shows it open there, with its errors, beside a second router that
sees it closed; the report goes away when that router stops."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from tests.integration.test_module_breaker import SECRET, Flaky
from tests.support.harness import bot_with_remote, say
from waddlebot.features.shared import MODULE_HEALTH
from waddlebot.router.breaker import BreakerState, HealthSnapshot
from waddlebot.router.shared_health import SharedHealth
from waddlebot.runtime import Runtime
from waddlebot.settings import Settings

pytestmark = pytest.mark.parametrize("mode", ["distributed"])
FAILED = "Sorry, !work failed. The error has been logged."


async def flaky_seen(
    shared: SharedHealth, holds: Callable[[HealthSnapshot], bool], timeout: float = 10.0
) -> HealthSnapshot:
    """The merged health of ``flaky``, once ``holds`` says it is as awaited (the routers
    publish every heartbeat)."""
    async with asyncio.timeout(timeout):
        while True:
            seen = (await shared.snapshots()).get("flaky")
            if seen is not None and holds(seen):
                return seen
            await asyncio.sleep(0.02)


async def test_a_breaker_open_in_one_router_is_shown_by_a_process_without_one(
    settings: Settings,
) -> None:
    fast = {"assignment_heartbeat_seconds": 0.1, "assignment_lease_ttl_seconds": 1.0}
    flaky = Flaky()
    async with bot_with_remote(
        settings, flaky.module(), SECRET, module_breaker_failures=2, **fast
    ) as first:
        for _ in range(2):  # the only router yet: it takes both
            assert await say(first, "!work") == [FAILED]
        assert first.module_health.state("flaky") is BreakerState.OPEN
        second = await Runtime.start(first.settings)
        portal = await Runtime.start(first.settings, services={"api", "portal"})
        try:
            shared = portal.need(MODULE_HEALTH)
            seen = await flaky_seen(shared, lambda s: s.routers == 2)
            assert seen.state is BreakerState.OPEN
            assert (seen.open_in, seen.errors, seen.calls) == (1, 2, 2)
            assert [e.reason for e in seen.recent_errors] == ["error", "error"]
            assert seen.breaker == "open in 1 of 2 routers"
            said = (await shared.described())["flaky"]
            assert said.startswith("breaker open in 1 of 2 routers, 2 errors, p99 ")
            # the second router shows both: its own figures and the first's report
            mine = await flaky_seen(second.need(MODULE_HEALTH), lambda s: s.routers == 2)
            assert (mine.state, mine.errors) == (BreakerState.OPEN, 2)

            await first.stop()  # its report is withdrawn: only the second's is left
            alone = await flaky_seen(shared, lambda s: s.routers == 1)
            assert (alone.state, alone.errors, alone.open_in) == (BreakerState.CLOSED, 0, 0)
        finally:
            await portal.stop()
            await second.stop()
