"""The lease port against both adapters (in-process, and real Redis), and the scheduler's
leader election on top of it: only the holder runs jobs, and a holder that stops renewing is
replaced once its lease runs out."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from waddlebot.core.clock import ManualClock
from waddlebot.infra.factory import build_ports
from waddlebot.infra.ports import Lease, Ports
from waddlebot.infra.scheduler import LEASE_NAME, Scheduler

MakePorts = Callable[[], Awaitable[Ports]]


@pytest.fixture(params=["memory", "redis"])
async def make_ports(request: pytest.FixtureRequest) -> AsyncIterator[MakePorts]:
    """Ports as separate processes would build them: on Redis each call makes its own
    client; in process there is only one process, so every call shares the first ports."""
    built: list[Ports] = []
    redis = request.param == "redis"
    url = request.getfixturevalue("redis_url") if redis else ""
    prefix = request.getfixturevalue("key_prefix") if redis else "unused"

    async def make() -> Ports:
        if built and not redis:
            return built[0]
        ports = await build_ports(url, prefix)
        built.append(ports)
        return ports

    yield make
    for ports in built:
        await ports.close()


@pytest.fixture
async def lease(make_ports: MakePorts) -> Lease:
    return (await make_ports()).lease


async def test_acquire_only_when_free(lease: Lease) -> None:
    assert await lease.holder("job") is None
    assert await lease.acquire("job", "a", 10)
    assert await lease.holder("job") == "a"
    assert not await lease.acquire("job", "b", 10)
    assert not await lease.acquire("job", "a", 10)  # the holder renews instead
    assert await lease.acquire("other", "b", 10)  # leases are independent by name
    assert await lease.holder("job") == "a"


async def test_renew_and_release_only_by_the_holder(lease: Lease) -> None:
    assert not await lease.renew("job", "a", 10)  # nobody holds it: nothing to renew
    assert await lease.acquire("job", "a", 10)
    assert await lease.renew("job", "a", 10)
    assert not await lease.renew("job", "b", 10)
    assert not await lease.release("job", "b")
    assert await lease.holder("job") == "a"
    assert await lease.release("job", "a")
    assert await lease.holder("job") is None
    assert not await lease.release("job", "a")
    assert await lease.acquire("job", "b", 10)


async def test_an_expired_lease_passes_on_and_the_old_holder_cannot_touch_it(
    lease: Lease,
) -> None:
    assert await lease.acquire("job", "a", 0.2)
    await asyncio.sleep(0.3)
    assert await lease.holder("job") is None
    assert await lease.acquire("job", "b", 10)
    assert not await lease.renew("job", "a", 10)
    assert not await lease.release("job", "a")
    assert await lease.holder("job") == "b"


async def test_renewing_keeps_the_lease_past_its_first_ttl(lease: Lease) -> None:
    assert await lease.acquire("job", "a", 0.3)
    for _ in range(3):
        await asyncio.sleep(0.15)
        assert await lease.renew("job", "a", 0.3)
    assert await lease.holder("job") == "a"


async def test_exactly_one_of_many_concurrent_acquirers_wins(make_ports: MakePorts) -> None:
    leases = [(await make_ports()).lease for _ in range(4)]
    results = await asyncio.gather(
        *(leases[i % 4].acquire("job", f"owner-{i}", 10) for i in range(40))
    )
    assert sum(results) == 1
    winner = f"owner-{results.index(True)}"
    assert await leases[0].holder("job") == winner


# --- the scheduler's leader election -----------------------------------------------------


def scheduler(lease: Lease, runs: list[str], owner: str, clock: ManualClock) -> Scheduler:
    built = Scheduler(lease, ttl=0.4, interval=0.1, clock=clock, owner=owner)

    async def job() -> None:
        runs.append(owner)

    built.every(0, "job", job)
    return built


async def test_only_the_leader_runs_jobs_and_another_takes_over_after_the_ttl(
    make_ports: MakePorts,
) -> None:
    clock = ManualClock()
    runs: list[str] = []
    first = scheduler((await make_ports()).lease, runs, "first", clock)
    second = scheduler((await make_ports()).lease, runs, "second", clock)
    assert await first.tick()
    assert not await second.tick()
    assert await first.tick()
    assert runs == ["first", "first"]
    await asyncio.sleep(0.5)  # the first stops renewing (it died, or paused) past its TTL
    assert await second.tick()
    assert not await first.tick()  # it finds out on its next renewal, and runs nothing
    assert runs == ["first", "first", "second"]
    assert await first.lease.holder(LEASE_NAME) == "second"


async def test_stopping_gives_the_lease_up_at_once(make_ports: MakePorts) -> None:
    clock = ManualClock()
    runs: list[str] = []
    first = scheduler((await make_ports()).lease, runs, "first", clock)
    second = scheduler((await make_ports()).lease, runs, "second", clock)
    first.start()
    for _ in range(100):
        if first.leader:
            break
        await asyncio.sleep(0.01)
    assert first.leader
    await first.stop()
    assert await second.tick()  # no need to wait for the TTL
    assert runs[-1] == "second"
    await second.stop()
    assert await second.lease.holder(LEASE_NAME) is None
