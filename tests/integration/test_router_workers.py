"""At-least-once delivery, exactly-once answers, across router workers.

Every scenario runs twice:

* ``distributed``: real ``waddlebot serve router`` subprocesses sharing Redis and PostgreSQL;
  a worker dies by SIGKILL;
* ``embedded``: router workers as tasks of one process over the in-process bus (SQLite); a
  worker dies by having its task cancelled mid-batch.

Either way a worker that dies acknowledges nothing, so its entries stay pending until a live
worker reclaims them, and the dedupe claims make sure each event is answered once.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import pytest

from tests.support.harness import TEST_MODULE, chat_event, make_settings
from tests.support.processes import ServiceProcess, ServiceProcesses
from waddlebot.core.contract import OutboundMessage
from waddlebot.core.events import Event
from waddlebot.infra import keys
from waddlebot.infra.codec import decode_outbound, encode_envelope
from waddlebot.infra.db.migrate import upgrade
from waddlebot.infra.factory import build_ports
from waddlebot.infra.ports import Bus, Ports
from waddlebot.infra.tasks import stop_task
from waddlebot.router import Router, RouterWorker
from waddlebot.router.pipeline import Incoming, Outcome
from waddlebot.runtime import Runtime

REPLIES = keys.replies_stream("twitch")
REPLY_GROUP = "test-collector"

# Settings every worker runs with, in both modes. The rate limits are out of the way (hundreds
# of commands come from one user), a batch is small so that two workers both get some, and a
# module may take up to 10 s so that ``!slow 3`` answers rather than times out.
WORKER_SETTINGS: dict[str, Any] = {
    "module_timeout_seconds": 10.0,
    "router_batch_size": 20,
    "rate_user_per_30s": 1_000_000,
    "rate_entity_per_30s": 1_000_000,
}
# A dead worker's entries are reclaimed after this long (a live worker renews its claim while
# it works, so a slow batch is not taken from it)...
QUICK_RECLAIM_MS = 1000
# ...and the tests that are not about reclaiming use the production-like delay.
PATIENT_RECLAIM_MS = 30_000


# -- workers, in a process or in subprocesses --------------------------------------------------


class Workers(Protocol):
    """Router workers with names; each reads the shared events stream as consumer
    ``<name>-0`` (the runtime numbers a process's workers)."""

    mode: str
    bus: Bus  # the test's own handle on the bus the workers read

    async def start(self, *names: str, reclaim_idle_ms: int) -> None: ...

    async def kill(self, name: str) -> None:
        """Make the worker die mid-batch: it acknowledges nothing it has in hand."""
        ...

    async def processed(self, name: str) -> int:
        """Events this worker ran through the pipeline (not counting duplicates)."""
        ...

    async def duplicates(self, name: str) -> int:
        """Entries this worker skipped as duplicates of a message already claimed."""
        ...

    def diagnostics(self) -> str: ...

    async def close(self) -> None: ...


class CountingRouter(Router):
    """The real router, counting what it answered and what it skipped as a duplicate."""

    processed = 0
    duplicates = 0

    async def process(self, batch: Sequence[Incoming]) -> list[Outcome]:
        outcomes = await super().process(batch)
        skipped = sum(o.duplicate for o in outcomes)
        self.duplicates += skipped
        self.processed += len(outcomes) - skipped
        return outcomes


class EmbeddedWorkers:
    """Workers as tasks over one in-process runtime's ports (memory bus, SQLite). Each has its
    own router, as each process would."""

    mode = "embedded"

    def __init__(self, tmp_path: Path) -> None:
        self._settings = make_settings(
            database_url=f"sqlite+aiosqlite:///{tmp_path}/waddlebot.db",
            data_dir=str(tmp_path),
            **WORKER_SETTINGS,
        )
        self._workers: dict[str, tuple[RouterWorker, CountingRouter, asyncio.Task[None]]] = {}
        self._runtime: Runtime | None = None

    async def open(self) -> None:
        self._runtime = await Runtime.start(self._settings, services=())  # no workers of its own
        self.bus = self._runtime.ports.bus
        await self.bus.ensure_group(keys.EVENTS_STREAM, keys.ROUTER_GROUP)  # as workers would

    async def start(self, *names: str, reclaim_idle_ms: int) -> None:
        rt = self._runtime
        assert rt is not None
        for name in names:
            router = CountingRouter(
                ports=rt.ports,
                directory=rt.directory,
                registry=rt.registry,
                audit=rt.audit,
                settings=rt.settings,
            )
            worker = RouterWorker(
                bus=rt.ports.bus,
                broadcast=rt.ports.broadcast,
                router=router,
                consumer=f"{name}-0",
                batch_size=rt.settings.router_batch_size,
                reclaim_idle_ms=reclaim_idle_ms,
            )
            task = asyncio.create_task(worker.run(), name=f"worker {name}")
            self._workers[name] = (worker, router, task)

    async def kill(self, name: str) -> None:
        _, _, task = self._workers[name]
        assert not task.done(), f"worker {name} had already stopped"
        await stop_task(task)  # cancelled inside its batch: nothing is acknowledged

    async def processed(self, name: str) -> int:
        return self._workers[name][1].processed

    async def duplicates(self, name: str) -> int:
        return self._workers[name][1].duplicates

    def diagnostics(self) -> str:
        return "\n".join(
            f"worker {name}: processed={router.processed} duplicates={router.duplicates} "
            f"task={'done' if task.done() else 'running'}"
            for name, (_, router, task) in self._workers.items()
        )

    async def close(self) -> None:
        for worker, _, _ in self._workers.values():
            worker.stop()
        for worker, _, task in self._workers.values():
            await stop_task(task, grace=5 if worker.busy else 0)
        if self._runtime is not None:
            await self._runtime.stop()


class ProcessWorkers:
    """Workers as ``waddlebot serve router`` subprocesses over Redis and PostgreSQL."""

    mode = "distributed"

    def __init__(self, tmp_path: Path, *, redis_url: str, database_url: str, prefix: str) -> None:
        self._redis_url, self._database_url, self._prefix = redis_url, database_url, prefix
        env = {
            "WADDLEBOT_REDIS_URL": redis_url,
            "WADDLEBOT_DATABASE_URL": database_url,
            "WADDLEBOT_STREAM_PREFIX": prefix,
            "WADDLEBOT_MODULES": TEST_MODULE,
            "WADDLEBOT_AUTO_MIGRATE": "true",  # a no-op: the schema is at head before they start
            "WADDLEBOT_LOG_LEVEL": "INFO",
        }
        env.update({f"WADDLEBOT_{k.upper()}": str(v) for k, v in WORKER_SETTINGS.items()})
        self._processes = ServiceProcesses(tmp_path / "processes", env)
        self._by_name: dict[str, ServiceProcess] = {}
        self._ports: Ports | None = None

    async def open(self) -> None:
        # migrate once here rather than in two processes starting at the same moment
        await asyncio.to_thread(upgrade, self._database_url)
        self._ports = await build_ports(self._redis_url, self._prefix)
        self.bus = self._ports.bus
        await self.bus.ensure_group(keys.EVENTS_STREAM, keys.ROUTER_GROUP)  # as workers would

    async def start(self, *names: str, reclaim_idle_ms: int) -> None:
        started = [
            self._processes.start(
                "router",
                name,
                WADDLEBOT_ROUTER_CONSUMER=name,
                WADDLEBOT_BUS_RECLAIM_IDLE_MS=str(reclaim_idle_ms),
            )
            for name in names
        ]
        self._by_name.update(zip(names, started, strict=True))
        await asyncio.gather(*(p.wait_healthy() for p in started))

    async def kill(self, name: str) -> None:
        process = self._by_name[name]
        assert process.alive, f"worker {name} had already exited\n{process.log_tail()}"
        await asyncio.to_thread(process.kill)  # SIGKILL: it acknowledges nothing in hand

    async def processed(self, name: str) -> int:
        return int(await self._by_name[name].metric_total("waddlebot_events_processed"))

    async def duplicates(self, name: str) -> int:
        return int(await self._by_name[name].metric_total("waddlebot_events_duplicate"))

    def diagnostics(self) -> str:
        return self._processes.log_tails()

    async def close(self) -> None:
        try:
            await asyncio.to_thread(self._processes.close)
        finally:
            if self._ports is not None:
                await self._ports.close()


@pytest.fixture
def idle_workers(
    mode: str, tmp_path: Path, request: pytest.FixtureRequest
) -> EmbeddedWorkers | ProcessWorkers:
    """The workers of ``mode``, not started (a synchronous fixture: the PostgreSQL fixture
    runs its own event loop, which it cannot do inside the test's)."""
    if mode == "embedded":
        return EmbeddedWorkers(tmp_path)
    return ProcessWorkers(
        tmp_path,
        redis_url=request.getfixturevalue("redis_url"),
        database_url=request.getfixturevalue("migrated_postgres_url"),
        prefix=request.getfixturevalue("key_prefix"),
    )


@pytest.fixture
async def workers(idle_workers: EmbeddedWorkers | ProcessWorkers) -> AsyncIterator[Workers]:
    try:
        await idle_workers.open()
        yield idle_workers
    finally:
        await idle_workers.close()


# -- publishing events and collecting replies --------------------------------------------------


def echo_events(count: int, tag: str) -> list[Event]:
    """``!echo <tag><i>`` events, each with its own platform message id."""
    return [chat_event(f"!echo {tag}{i}") for i in range(count)]


def answers(events: Sequence[Event]) -> dict[str, str]:
    """The reply each event must get, by event id (``!slow`` answers ``finally``)."""
    expected = {}
    for event in events:
        command, _, rest = event.text.partition(" ")
        expected[event.event_id] = "finally" if command == "!slow" else rest
    return expected


async def publish(bus: Bus, events: Sequence[Event]) -> None:
    await bus.publish(keys.EVENTS_STREAM, [encode_envelope(e) for e in events])


async def pending_events(bus: Bus) -> int:
    """Entries of the events stream handed to a worker and not acknowledged yet."""
    return await bus.pending_count(keys.EVENTS_STREAM, keys.ROUTER_GROUP)


async def wait_until(
    workers: Workers, check: Callable[[], Awaitable[bool]], *, timeout: float, what: str
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}\n{workers.diagnostics()}")
        await asyncio.sleep(0.05)


class ReplyCollector:
    """Reads the Twitch reply stream with its own consumer group, like a Twitch collector."""

    def __init__(self, bus: Bus) -> None:
        self._bus = bus
        self.replies: list[OutboundMessage] = []

    async def open(self) -> ReplyCollector:
        await self._bus.ensure_group(REPLIES, REPLY_GROUP)
        return self

    async def _read_once(self) -> None:
        messages = await self._bus.read(REPLIES, REPLY_GROUP, "test", 500, 100)
        self.replies.extend(decode_outbound(m.data) for m in messages)
        await self._bus.ack(REPLIES, REPLY_GROUP, [m.id for m in messages])

    async def read_until(self, count: int, *, timeout: float) -> None:
        """Read until ``count`` replies are in or ``timeout`` passes (the assertions that
        follow say what is missing)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(self.replies) < count and loop.time() < deadline:
            await self._read_once()

    async def read_for(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while loop.time() < deadline:
            await self._read_once()

    async def settle(self, workers: Workers, *, timeout: float = 15.0) -> None:
        """Wait until every entry the workers took is acknowledged, then keep reading a
        moment longer so that a late second answer would be caught too."""

        async def nothing_pending() -> bool:
            return await pending_events(workers.bus) == 0

        await wait_until(workers, nothing_pending, timeout=timeout, what="no pending events")
        await self.read_for(0.5)


def assert_answered_exactly_once(
    replies: Sequence[OutboundMessage], expected: dict[str, str], workers: Workers
) -> None:
    counts = Counter(r.event_id for r in replies)
    twice = {e: n for e, n in counts.items() if n > 1}
    missing = sorted(set(expected) - set(counts))
    strays = sorted(set(counts) - set(expected))
    assert not (twice or missing or strays), (
        f"{len(expected)} events, {len(replies)} replies: answered more than once {twice}, "
        f"never answered {missing[:10]} ({len(missing)}), unexpected {strays[:10]}\n"
        f"{workers.diagnostics()}"
    )
    wrong = {r.event_id: (r.text, expected[r.event_id]) for r in replies}
    wrong = {e: pair for e, pair in wrong.items() if pair[0] != pair[1]}
    assert not wrong, f"wrong answers (got, expected): {dict(list(wrong.items())[:10])}"


async def work_shares(workers: Workers, *names: str) -> tuple[dict[str, int], dict[str, int]]:
    """(events processed, duplicates skipped) by worker name."""
    processed = {name: await workers.processed(name) for name in names}
    duplicates = {name: await workers.duplicates(name) for name in names}
    return processed, duplicates


# -- scenarios ---------------------------------------------------------------------------------


async def test_two_workers_share_the_events_and_answer_each_once(workers: Workers) -> None:
    collector = await ReplyCollector(workers.bus).open()
    await workers.start("alpha", "beta", reclaim_idle_ms=PATIENT_RECLAIM_MS)
    events = echo_events(500, "n")

    await publish(workers.bus, events)
    await collector.read_until(len(events), timeout=40)
    await collector.settle(workers)

    assert_answered_exactly_once(collector.replies, answers(events), workers)
    processed, duplicates = await work_shares(workers, "alpha", "beta")
    assert sum(processed.values()) == len(events), processed
    assert all(n > 0 for n in processed.values()), f"one worker did all the work: {processed}"
    assert duplicates == {"alpha": 0, "beta": 0}


async def test_entries_of_a_worker_killed_mid_batch_are_answered_once_by_another(
    workers: Workers,
) -> None:
    collector = await ReplyCollector(workers.bus).open()
    # one batch's worth, on the stream before alpha starts so that its first read takes it all;
    # the echoes in the batch wait for the slow ones (replies go out per batch)
    in_hand = [chat_event("!slow 3") for _ in range(5)] + echo_events(15, "early")
    assert len(in_hand) <= WORKER_SETTINGS["router_batch_size"]
    await publish(workers.bus, in_hand)
    await workers.start("alpha", reclaim_idle_ms=QUICK_RECLAIM_MS)

    async def alpha_holds_the_batch() -> bool:
        return await pending_events(workers.bus) == len(in_hand)

    await wait_until(workers, alpha_holds_the_batch, timeout=20, what="alpha to read the batch")
    await asyncio.sleep(1.0)  # alpha is now waiting for the slow handlers (3 s)
    await workers.kill("alpha")

    assert await workers.bus.length(REPLIES) == 0, (
        f"alpha answered before it died: the scenario's timing is off\n{workers.diagnostics()}"
    )
    assert await pending_events(workers.bus) == len(in_hand)  # and acknowledged nothing
    later = echo_events(20, "late")
    await publish(workers.bus, later)
    await workers.start("beta", reclaim_idle_ms=QUICK_RECLAIM_MS)

    await collector.read_until(len(in_hand) + len(later), timeout=30)
    await collector.settle(workers)

    assert_answered_exactly_once(collector.replies, answers(in_hand + later), workers)
    processed, duplicates = await work_shares(workers, "beta")
    assert processed == {"beta": len(in_hand) + len(later)}, workers.diagnostics()
    assert duplicates == {"beta": 0}, workers.diagnostics()


async def test_one_message_published_twice_to_two_workers_is_answered_once(
    workers: Workers,
) -> None:
    collector = await ReplyCollector(workers.bus).open()
    await workers.start("alpha", "beta", reclaim_idle_ms=PATIENT_RECLAIM_MS)

    # The first copy keeps one worker busy for 2 s; the second copy, published meanwhile, can
    # only be read by the other worker, which finds the message claimed and skips it.
    slow = chat_event("!slow 2", message_id="twitch-msg-twice")
    await publish(workers.bus, [slow])

    async def one_worker_holds_it() -> bool:
        return await pending_events(workers.bus) == 1

    await wait_until(workers, one_worker_holds_it, timeout=10, what="a worker to take it")
    await publish(workers.bus, [slow])
    await collector.read_until(1, timeout=15)
    await collector.settle(workers)

    processed, duplicates = await work_shares(workers, "alpha", "beta")
    answered_by = [name for name, n in processed.items() if n == 1]
    assert sorted(processed.values()) == [0, 1], workers.diagnostics()
    (skipped_by,) = {"alpha", "beta"} - set(answered_by)
    assert duplicates == {answered_by[0]: 0, skipped_by: 1}, workers.diagnostics()

    # many messages, each on the stream twice, wherever the copies land
    events = echo_events(50, "d")
    await publish(workers.bus, events)
    await publish(workers.bus, events)
    await collector.read_until(1 + len(events), timeout=30)
    await collector.settle(workers)

    assert_answered_exactly_once(collector.replies, answers([slow, *events]), workers)
    processed, duplicates = await work_shares(workers, "alpha", "beta")
    assert sum(processed.values()) == 1 + len(events), workers.diagnostics()
    assert sum(duplicates.values()) == 1 + len(events), workers.diagnostics()


async def test_a_live_worker_with_a_slow_batch_keeps_it(workers: Workers) -> None:
    """A batch that takes three times the reclaim delay is not reclaimed from a worker that
    is still alive, so it is answered once (a heartbeat renews the claim)."""
    collector = await ReplyCollector(workers.bus).open()
    await workers.start("alpha", "beta", reclaim_idle_ms=QUICK_RECLAIM_MS)
    slow = [chat_event("!slow 3") for _ in range(3)]
    await publish(workers.bus, slow)
    await collector.read_until(len(slow), timeout=20)
    await asyncio.sleep(QUICK_RECLAIM_MS / 1000 * 1.5)  # room for a wrongful second answer
    await collector.settle(workers)

    assert_answered_exactly_once(collector.replies, answers(slow), workers)
    processed, duplicates = await work_shares(workers, "alpha", "beta")
    assert sum(processed.values()) == len(slow), workers.diagnostics()
    assert sum(duplicates.values()) == 0, workers.diagnostics()


async def test_the_router_recovers_when_redis_loses_its_consumer_group(
    redis_url: str, key_prefix: str, migrated_postgres_url: str
) -> None:
    """Redis restarted without persistence (or flushed): the group is gone, and the router
    must create it again rather than fail every batch forever."""
    import redis.asyncio as aioredis

    from tests.support.harness import make_settings, say

    settings = make_settings(
        database_url=migrated_postgres_url,
        redis_url=redis_url,
        stream_prefix=key_prefix,
        auto_migrate=True,
    )
    runtime = await Runtime.start(settings)
    client = aioredis.Redis.from_url(redis_url)
    try:
        assert await say(runtime, "!ping") == ["pong"]
        await client.xgroup_destroy(f"{key_prefix}:{keys.EVENTS_STREAM}", keys.ROUTER_GROUP)
        answered: list[str] = []
        for _ in range(20):
            answered = await say(runtime, "!ping")
            if answered == ["pong"]:
                break
        assert answered == ["pong"]
    finally:
        await client.aclose()
        await runtime.stop()
