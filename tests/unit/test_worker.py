"""The router worker's handling of batches that fail, on the in-process bus."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

from tests.support.harness import chat_event
from waddlebot.infra.codec import encode_envelope
from waddlebot.infra.factory import build_ports
from waddlebot.services.router import RouterWorker, keys
from waddlebot.services.router.pipeline import Incoming, Outcome


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
