"""The scheduler under a controlled clock, on the in-process lease driven by the same clock:
job periods, failures, and what losing the lease mid-tick does."""

from __future__ import annotations

import pytest

from waddlebot.core.clock import ManualClock
from waddlebot.infra.memory import MemoryLease
from waddlebot.infra.scheduler import LEASE_NAME, Scheduler

TTL = 30.0


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def lease(clock: ManualClock) -> MemoryLease:
    return MemoryLease(clock=lambda: clock.now().timestamp())


def build(lease: MemoryLease, clock: ManualClock, owner: str) -> Scheduler:
    return Scheduler(lease, ttl=TTL, interval=5, clock=clock, owner=owner)


async def test_jobs_run_at_their_period(lease: MemoryLease, clock: ManualClock) -> None:
    runs: list[str] = []
    scheduler = build(lease, clock, "a")

    async def hourly() -> None:
        runs.append("hourly")

    async def always() -> None:
        runs.append("always")

    scheduler.every(3600, "hourly", hourly)
    scheduler.every(0, "always", always)
    assert scheduler.jobs == ["hourly", "always"]
    assert await scheduler.tick()
    assert runs == ["hourly", "always"]  # both run at the first tick as leader
    clock.advance(seconds=5)
    await scheduler.tick()
    assert runs == ["hourly", "always", "always"]
    clock.advance(minutes=60)
    await scheduler.tick()
    assert runs == ["hourly", "always", "always", "hourly", "always"]


async def test_a_failing_job_does_not_stop_the_others(
    lease: MemoryLease, clock: ManualClock
) -> None:
    runs: list[str] = []
    scheduler = build(lease, clock, "a")

    async def broken() -> None:
        raise RuntimeError("boom")

    async def fine() -> None:
        runs.append("fine")

    scheduler.every(0, "broken", broken)
    scheduler.every(0, "fine", fine)
    assert await scheduler.tick()
    assert await scheduler.tick()
    assert runs == ["fine", "fine"]


async def test_a_holder_that_stops_renewing_is_replaced_after_the_ttl(
    lease: MemoryLease, clock: ManualClock
) -> None:
    runs: list[str] = []
    first, second = build(lease, clock, "first"), build(lease, clock, "second")
    for scheduler in (first, second):

        async def job(owner: str = scheduler.owner) -> None:
            runs.append(owner)

        scheduler.every(0, "job", job)
    assert await first.tick()
    clock.advance(seconds=TTL - 1)
    assert not await second.tick()  # the lease has a second left
    clock.advance(seconds=1)
    assert await second.tick()
    assert not await first.tick()
    assert runs == ["first", "second"]
    assert await lease.holder(LEASE_NAME) == "second"


async def test_losing_the_lease_during_a_tick_stops_the_remaining_jobs(
    lease: MemoryLease, clock: ManualClock
) -> None:
    runs: list[str] = []
    first, second = build(lease, clock, "first"), build(lease, clock, "second")

    async def slow() -> None:  # a pause longer than the lease: another process takes over
        runs.append("slow")
        clock.advance(seconds=TTL + 1)
        assert await second.tick()

    async def after() -> None:
        runs.append("after")

    first.every(0, "slow", slow)
    first.every(0, "after", after)
    assert not await first.tick()
    assert runs == ["slow"]
    assert not first.leader


def test_the_lease_must_outlast_the_interval(lease: MemoryLease) -> None:
    with pytest.raises(ValueError, match="outlast"):
        Scheduler(lease, ttl=5, interval=5)


def test_job_names_are_unique(lease: MemoryLease) -> None:
    scheduler = Scheduler(lease)

    async def job() -> None:
        return None

    scheduler.every(10, "job", job)
    with pytest.raises(ValueError, match="registered already"):
        scheduler.every(10, "job", job)
    with pytest.raises(ValueError, match="negative"):
        scheduler.every(-1, "other", job)
