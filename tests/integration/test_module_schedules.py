"""Modules' scheduled handlers run by the router: once per community and run however many
router processes there are (two schedulers on Redis and PostgreSQL, and two on the embedded
lease and SQLite), posted in the community's places as timers post, made up once after a
pause, over HTTP as well as in-process; and start/stop hooks around a module server."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.support import scheduled
from tests.support.harness import say, serving_app
from tests.support.scheduled import Process, both_tick, two_processes
from waddlebot.core.clock import ManualClock
from waddlebot.core.contract import OutboundMessage
from waddlebot.infra.audit import AuditLog
from waddlebot.infra.db import Database
from waddlebot.infra.db.migrate import upgrade_async
from waddlebot.infra.directory import Directory
from waddlebot.infra.factory import build_ports
from waddlebot.infra.ports import Bus, Ports
from waddlebot.infra.scheduler import Scheduler
from waddlebot.platforms import CONSOLE
from waddlebot.router.modules import LocalModuleClient, ModuleClient, ModuleRegistry
from waddlebot.router.remote import HttpModuleClient
from waddlebot.router.schedules import JOB_NAME, EveryCommunity, ModuleSchedules
from waddlebot.runtime import Runtime
from waddlebot.sdk import Context, Module
from waddlebot.sdk.server import create_module_app

SECRET = b"schedule-secret"
START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a Monday, 13:00 in Berlin


def build_module(calls: Counter[tuple[str, int]]) -> Module:
    module = Module("reminders")

    @module.every("10m")
    async def water(ctx: Context) -> str:
        calls["water", ctx.request.community_id] += 1
        return f"Drink water, community {ctx.request.community_id}!"

    @module.at("18:00", tz="Europe/Berlin")
    async def evening(ctx: Context) -> None:
        calls["evening", ctx.request.community_id] += 1
        ctx.say("Good evening!")
        ctx.direct("nobody to whisper to")  # dropped

    return module


async def posted(bus: Bus, platform: str = "console") -> list[OutboundMessage]:
    return await scheduled.posted(bus, platform, "schedule:")


# --- in a running WaddleBot ---------------------------------------------------------------


async def test_a_running_bot_posts_in_every_place_of_each_community(runtime: Runtime) -> None:
    await runtime.scheduler.stop()  # the test ticks by hand
    clock = ManualClock(START)
    runtime.scheduler.clock = runtime.module_schedules.clock = clock
    calls: Counter[tuple[str, int]] = Counter()
    runtime.registry.add(LocalModuleClient(build_module(calls)))
    await say(runtime, "hi", channel="local")
    await say(runtime, "hi", channel="elsewhere")  # another community (a console place each)
    console = runtime.collector(CONSOLE)
    assert console is not None
    watcher = console.open("bob", "everyone", "local")
    try:
        assert await runtime.scheduler.tick()
        assert await posted(runtime.ports.bus) == []
        clock.advance(minutes=10)
        assert await runtime.scheduler.tick()
        messages = await posted(runtime.ports.bus)
        assert sorted(m.entity_id for m in messages) == ["console:elsewhere", "console:local"]
        assert {m.text[:11] for m in messages} == {"Drink water"}
        line = await asyncio.wait_for(watcher.lines.get(), 5)
        assert line.text.startswith("Drink water, community ")
        assert watcher.lines.empty()  # only its own community's run reaches this place
    finally:
        console.close(watcher)
    assert sorted(calls.values()) == [1, 1]


# --- two router processes -----------------------------------------------------------------

Schedules = Process[ModuleSchedules]


def schedules_of(
    clock: ManualClock, calls: Counter[tuple[str, int]]
) -> Callable[[Database, Ports, AuditLog], ModuleSchedules]:
    module = build_module(calls)

    def make(db: Database, ports: Ports, audit: AuditLog) -> ModuleSchedules:
        registry = ModuleRegistry([LocalModuleClient(module)])
        return ModuleSchedules(db, ports.bus, registry, EveryCommunity(db), clock=clock)

    return make


@pytest.fixture(params=["distributed", "embedded"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str, str]:
    """(database URL, Redis URL, key prefix): PostgreSQL and Redis, or SQLite and none."""
    if request.param == "distributed":
        return (
            str(request.getfixturevalue("fresh_postgres_url")),
            str(request.getfixturevalue("redis_url")),
            str(request.getfixturevalue("key_prefix")),
        )
    return f"sqlite+aiosqlite:///{tmp_path}/waddlebot.db", "", ""


@pytest.fixture
async def processes(
    backend: tuple[str, str, str],
) -> AsyncIterator[tuple[Schedules, Schedules, ManualClock, Counter[tuple[str, int]]]]:
    clock = ManualClock(START)
    calls: Counter[tuple[str, int]] = Counter()
    make = schedules_of(clock, calls)
    url, redis_url, key_prefix = backend
    if redis_url:
        async with two_processes(url, redis_url, key_prefix, clock, JOB_NAME, make) as (
            first,
            second,
        ):
            yield first, second, clock, calls
        return
    # embedded: one process's in-memory lease, cache and bus, two schedulers, one SQLite file
    await upgrade_async(url)
    ports = await build_ports("", "wbtest")
    async with AsyncExitStack() as stack:
        stack.push_async_callback(ports.close)
        built = []
        for _ in range(2):
            db = Database(url)
            stack.push_async_callback(db.close)
            audit = AuditLog(db)
            service = make(db, ports, audit)
            scheduler = Scheduler(ports.lease, ttl=30, interval=5, clock=clock)
            scheduler.every(0, JOB_NAME, service.fire_due)
            built.append(Process(db, ports, audit, service, scheduler))
        yield built[0], built[1], clock, calls


async def test_each_run_runs_once_across_two_routers(
    processes: tuple[Schedules, Schedules, ManualClock, Counter[tuple[str, int]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first, second, clock, calls = processes
    directory = Directory(first.db)
    one = await directory.resolve_entity("console:local", "console", channel_id="local")
    two = await directory.resolve_entity("console:other", "console", channel_id="other")
    await both_tick(first, second)  # plans the runs; nothing is due yet
    assert calls == Counter()
    ids: list[str] = []
    for _ in range(3):
        clock.advance(minutes=10)
        await both_tick(first, second)  # the lease lets one of them run the job
        clock.advance(minutes=10)
        # and when both believe they lead (a lease changing hands), each run is claimed once
        counts = await asyncio.gather(first.service.fire_due(), second.service.fire_due())
        assert sum(counts) == 2
        ids += [m.outbound_id for m in await posted(first.ports.bus)]
    assert len(ids) == len(set(ids)) == 12
    assert calls == Counter({("water", one.community_id): 6, ("water", two.community_id): 6})
    # down from 13:00 to 18:30 Berlin time: 18:00 is made up once, the 10-minute one once
    clock.advance(hours=5, minutes=30)
    await both_tick(first, second)
    texts = sorted(m.text for m in await posted(second.ports.bus))
    assert texts == sorted(
        ["Good evening!"] * 2
        + [f"Drink water, community {c}!" for c in (one.community_id, two.community_id)]
    )
    assert calls["evening", one.community_id] == calls["evening", two.community_id] == 1
    # a run both processes read as due is claimed by the one that claims first
    clock.advance(minutes=10)
    seen = scheduled.claim_after_the_other(monkeypatch, first, second, 2)
    assert await first.service.fire_due() == 0
    assert seen == [2]
    assert calls["water", one.community_id] == 8


async def test_a_community_the_module_does_not_serve_gets_nothing(
    processes: tuple[Schedules, Schedules, ManualClock, Counter[tuple[str, int]]],
) -> None:
    first, _, clock, calls = processes
    directory = Directory(first.db)
    one = await directory.resolve_entity("console:local", "console", channel_id="local")
    two = await directory.resolve_entity("console:other", "console", channel_id="other")

    class Only:
        async def communities(self, module: str) -> list[int]:
            return [two.community_id]

    first.service._communities = Only()
    await first.service.fire_due()
    clock.advance(minutes=10)
    assert await first.service.fire_due() == 1
    assert [m.entity_id for m in await posted(first.ports.bus)] == ["console:other"]
    assert ("water", one.community_id) not in calls


# --- over HTTP ----------------------------------------------------------------------------


async def test_an_http_module_declares_its_schedules_and_runs_them(
    fresh_postgres_url: str, redis_url: str, key_prefix: str
) -> None:
    calls: Counter[tuple[str, int]] = Counter()
    module = build_module(calls)
    hooks: list[str] = []

    @module.on_start
    async def opened() -> None:
        hooks.append("start")

    @module.on_stop
    async def closed() -> None:
        hooks.append("stop")

    clock = ManualClock(START)
    await upgrade_async(fresh_postgres_url)
    db = Database(fresh_postgres_url)
    ports = await build_ports(redis_url, key_prefix)
    try:
        place = await Directory(db).resolve_entity("console:local", "console", channel_id="local")
        async with serving_app(create_module_app(module, SECRET)) as url:
            assert hooks == ["start"]
            remote: ModuleClient = await HttpModuleClient.connect(url, SECRET, timeout=5)
            try:
                assert [s.name for s in remote.manifest.schedules] == ["water", "evening"]
                registry = ModuleRegistry([remote])
                job = ModuleSchedules(db, ports.bus, registry, EveryCommunity(db), clock=clock)
                await job.fire_due()
                clock.advance(hours=5)  # 18:00 in Berlin
                assert await job.fire_due() == 2
            finally:
                await remote.close()
        assert hooks == ["start", "stop"]
        assert sorted(m.text for m in await posted(ports.bus)) == [
            f"Drink water, community {place.community_id}!",
            "Good evening!",
        ]
    finally:
        await ports.close()
        await db.close()
