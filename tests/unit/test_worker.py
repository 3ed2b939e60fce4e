"""The router worker's handling of batches that fail, on the in-process bus."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from typing import Any

from tests.support.harness import chat_event
from waddlebot.infra import keys
from waddlebot.infra.codec import encode_envelope
from waddlebot.infra.factory import build_ports
from waddlebot.infra.ports import Bus, BusMessage, Ports
from waddlebot.router import RouterWorker
from waddlebot.router.dead_letters import DeadLetters
from waddlebot.router.pipeline import Incoming, Outcome
from waddlebot.router.worker import MAX_DELIVERIES


class PoisonRouter:
    """Routes everything except "!poison", which fails every time (a bug, a bad row)."""

    def __init__(self) -> None:
        self.answered: list[str] = []

    async def process(self, batch: Sequence[Incoming]) -> list[Outcome]:
        if any(i.envelope.event.text == "!poison" for i in batch):
            raise RuntimeError("cannot process this event")
        self.answered += [i.envelope.event.text for i in batch]
        return [Outcome(i.envelope.event.event_id, "s", False) for i in batch]


async def test_one_poisoned_event_does_not_hold_back_its_batch() -> None:
    ports = await build_ports("")
    router = PoisonRouter()
    worker = RouterWorker(
        bus=ports.bus,
        broadcast=ports.broadcast,
        router=router,  # type: ignore[arg-type]
        consumer="w1",
        reclaim_idle_ms=50,
        block_ms=10,
    )
    await ports.bus.ensure_group(keys.EVENTS_STREAM, keys.ROUTER_GROUP)
    events = [chat_event(t) for t in ("!a", "!poison", "!b")]
    await ports.bus.publish(keys.EVENTS_STREAM, [encode_envelope(e) for e in events])

    await worker.step()
    assert router.answered == ["!a", "!b"]
    assert await ports.bus.pending_count(keys.EVENTS_STREAM, keys.ROUTER_GROUP) == 1

    for _ in range(20):  # reclaimed and retried until it has failed too often
        await asyncio.sleep(0.06)
        with contextlib.suppress(RuntimeError):  # run() logs it and backs off
            await worker.step()
        if await ports.bus.pending_count(keys.EVENTS_STREAM, keys.ROUTER_GROUP) == 0:
            break
    assert await ports.bus.pending_count(keys.EVENTS_STREAM, keys.ROUTER_GROUP) == 0
    assert await ports.bus.length(keys.DEAD_LETTER_STREAM) == 1
    assert router.answered == ["!a", "!b"]  # nothing answered twice
    await ports.close()


class OutageRouter:
    """Fails as the database does while it is unreachable, for ``outage`` seconds from its
    first call, then answers. Records each attempt: whether each event came as a later
    delivery."""

    def __init__(self, outage: float) -> None:
        self.outage = outage
        self.ends = 0.0
        self.attempts: list[list[bool]] = []
        self.answered: list[str] = []

    async def process(self, batch: Sequence[Incoming]) -> list[Outcome]:
        now = time.monotonic()
        self.ends = self.ends or now + self.outage
        self.attempts.append([i.redelivered for i in batch])
        if now < self.ends:
            raise ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)")
        self.answered += [i.envelope.event.text for i in batch]
        return [Outcome(i.envelope.event.event_id, "s", False) for i in batch]


def _worker(ports: Ports, router: object, consumer: str = "w1", **kw: int) -> RouterWorker:
    return RouterWorker(
        bus=ports.bus,
        broadcast=ports.broadcast,
        router=router,  # type: ignore[arg-type]
        consumer=consumer,
        reclaim_idle_ms=kw.get("reclaim_idle_ms", 50),
        block_ms=kw.get("block_ms", 10),
    )


async def _publish(ports: Ports, *texts: str) -> None:
    await ports.bus.ensure_group(keys.EVENTS_STREAM, keys.ROUTER_GROUP)
    events = [chat_event(t) for t in texts]
    await ports.bus.publish(keys.EVENTS_STREAM, [encode_envelope(e) for e in events])


async def test_a_batch_failing_for_an_outage_is_kept_and_answered_once_it_ends() -> None:
    """An outage as long as three times the reclaim delays the dead letters allow: the batch
    stays with its worker (no reclaim counts a delivery) and is answered, none of it
    dead-lettered, each retry a later delivery that may take over its own claim."""
    ports = await build_ports("")
    router = OutageRouter(outage=3 * MAX_DELIVERIES * 0.05)
    worker = _worker(ports, router, reclaim_idle_ms=50)
    await _publish(ports, "!a", "!b", "!c")

    assert await worker.step() == 3

    assert router.answered == ["!a", "!b", "!c"]
    assert len(router.attempts) > 1
    assert router.attempts[0] == [False, False, False]  # the first one a first delivery
    assert all(later == [True, True, True] for later in router.attempts[1:])
    assert await ports.bus.pending_count(keys.EVENTS_STREAM, keys.ROUTER_GROUP) == 0
    assert await ports.bus.length(keys.DEAD_LETTER_STREAM) == 0
    await ports.close()


async def test_a_kept_batch_taken_over_meanwhile_is_left_to_its_new_holder() -> None:
    """Redis was away longer than the reclaim delay and another worker took the entries
    over: the worker that kept them does not run them too (they would be answered twice)."""
    ports = await build_ports("")
    router = OutageRouter(outage=60)
    worker = _worker(ports, router)
    await _publish(ports, "!a", "!b")
    other = await ports.bus.read(keys.EVENTS_STREAM, keys.ROUTER_GROUP, "w1", 10, 0)
    assert len(other) == 2

    async def take_over_during_the_outage(batch: Sequence[Incoming]) -> list[Outcome]:
        taken = await ports.bus.reclaim(keys.EVENTS_STREAM, keys.ROUTER_GROUP, "w2", 0, 10)
        assert len(taken) == 2
        raise ConnectionRefusedError(111, "Connect call failed")

    router.process = take_over_during_the_outage  # type: ignore[method-assign]
    await worker._handle(other)  # what step() does with a batch it read

    assert router.answered == []
    assert await ports.bus.pending_count(keys.EVENTS_STREAM, keys.ROUTER_GROUP) == 2  # w2's
    await ports.close()


async def test_a_bug_is_no_outage_and_still_ends_in_the_dead_letters() -> None:
    ports = await build_ports("")
    router = PoisonRouter()
    worker = _worker(ports, router)
    await _publish(ports, "!poison")
    for _ in range(20):
        with contextlib.suppress(RuntimeError):
            await worker.step()
        if await ports.bus.length(keys.DEAD_LETTER_STREAM):
            break
        await asyncio.sleep(0.06)
    (letter,) = await DeadLetters(ports.bus, ports.cache).list_all()
    assert letter.event is not None and letter.event.text == "!poison"
    assert letter.deliveries == MAX_DELIVERIES + 1
    assert letter.reason == f"failed in {MAX_DELIVERIES} deliveries"
    await ports.close()


class HandOverBus:
    """The memory bus, with reads that behave like a blocking XREADGROUP whose answer is
    still on its way when the entries are already this consumer's: cancelled then, the
    entries stay pending until another worker reclaims them."""

    def __init__(self, bus: Bus) -> None:
        self._bus = bus
        self.handed_over = asyncio.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._bus, name)

    async def read(
        self, stream: str, group: str, consumer: str, count: int, block_ms: int
    ) -> list[BusMessage]:
        messages = await self._bus.read(stream, group, consumer, count, block_ms)
        if messages:
            self.handed_over.set()
            await asyncio.sleep(0.2)  # the answer on the wire
        return messages


async def test_a_worker_stopped_during_a_read_answers_what_the_read_took() -> None:
    ports = await build_ports("")
    bus = HandOverBus(ports.bus)
    router = OutageRouter(outage=0.0)
    worker = RouterWorker(
        bus=bus,  # type: ignore[arg-type]
        broadcast=ports.broadcast,
        router=router,  # type: ignore[arg-type]
        consumer="w1",
        block_ms=1000,
    )
    await ports.bus.ensure_group(keys.EVENTS_STREAM, keys.ROUTER_GROUP)
    worker.start()
    await asyncio.sleep(0.05)  # it is waiting in its read now
    await _publish(ports, "!a", "!b")
    await bus.handed_over.wait()

    await worker.close()

    assert router.answered == ["!a", "!b"]
    assert await ports.bus.pending_count(keys.EVENTS_STREAM, keys.ROUTER_GROUP) == 0
    await ports.close()
