"""The gate that refuses new events while the router is behind: how often it asks the bus."""

from __future__ import annotations

import asyncio

import pytest
from structlog.testing import capture_logs

from waddlebot.infra.backlog import BacklogGate, TrimSchedule
from waddlebot.infra.ports import Backlogged


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Backlogs:
    """The bus's answers, counted; ``answer`` holds them back until set."""

    def __init__(self) -> None:
        self.waiting = {"events": 0}
        self.reads = 0
        self.answer = asyncio.Event()
        self.answer.set()
        self.failure: Exception | None = None

    async def read(self, stream: str) -> int:
        self.reads += 1
        await self.answer.wait()
        if self.failure is not None:
            raise self.failure
        return self.waiting[stream]


async def test_the_backlog_is_read_again_only_after_the_ttl() -> None:
    clock, backlogs = FakeClock(), Backlogs()
    gate = BacklogGate(backlogs.read, limit=10, ttl=0.25, clock=clock)
    await gate.admit("events")
    backlogs.waiting["events"] = 11
    await gate.admit("events")  # still the figure read a moment ago
    assert backlogs.reads == 1
    clock.now += 0.25
    with pytest.raises(Backlogged) as refused:
        await gate.admit("events")
    assert (refused.value.waiting, refused.value.limit) == (11, 10)
    assert backlogs.reads == 2


async def test_callers_arriving_together_share_one_read() -> None:
    backlogs = Backlogs()
    backlogs.answer.clear()
    gate = BacklogGate(backlogs.read, limit=10, clock=FakeClock())
    callers = [asyncio.create_task(gate.admit("events")) for _ in range(50)]
    await asyncio.sleep(0)
    backlogs.answer.set()
    await asyncio.gather(*callers)
    assert backlogs.reads == 1


async def test_a_failed_read_fails_every_waiting_caller_and_is_tried_again() -> None:
    backlogs = Backlogs()
    backlogs.answer.clear()
    backlogs.failure = ConnectionError("redis is away")
    gate = BacklogGate(backlogs.read, limit=10, clock=FakeClock())
    callers = [asyncio.create_task(gate.admit("events")) for _ in range(3)]
    await asyncio.sleep(0)
    backlogs.answer.set()
    results = await asyncio.gather(*callers, return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results)
    backlogs.failure = None
    await gate.admit("events")  # nothing remembered from the failure
    assert backlogs.reads == 2


async def test_a_cancelled_caller_does_not_cancel_the_others() -> None:
    backlogs = Backlogs()
    backlogs.answer.clear()
    gate = BacklogGate(backlogs.read, limit=10, clock=FakeClock())
    gone = asyncio.create_task(gate.admit("events"))
    staying = asyncio.create_task(gate.admit("events"))
    await asyncio.sleep(0)
    gone.cancel()
    backlogs.answer.set()
    await staying
    assert backlogs.reads == 1


async def test_refusals_are_logged_once_in_a_while_not_each_time() -> None:
    clock, backlogs = FakeClock(), Backlogs()
    backlogs.waiting["events"] = 50
    gate = BacklogGate(backlogs.read, limit=10, ttl=0.25, clock=clock)
    with capture_logs() as logs:
        for _ in range(100):
            clock.now += 0.05
            with pytest.raises(Backlogged):
                await gate.admit("events")
    refusing = [e for e in logs if e["event"].startswith("refusing new entries")]
    assert len(refusing) == 1
    assert (refusing[0]["waiting"], refusing[0]["limit"]) == (50, 10)


def test_a_stream_is_due_for_trimming_once_per_interval() -> None:
    clock = FakeClock()
    schedule = TrimSchedule(2.0, clock=clock)
    assert schedule.due("events") and not schedule.due("events")
    assert schedule.due("replies.twitch")  # each stream on its own
    clock.now += 1.9
    assert not schedule.due("events")
    clock.now += 0.1
    assert schedule.due("events")


def test_the_limit_must_be_positive() -> None:
    with pytest.raises(ValueError):
        BacklogGate(Backlogs().read, limit=0)
