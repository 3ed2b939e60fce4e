"""Testing what the scheduler runs (timers, reminders, event reminders): the clock ticked by
hand, what the jobs put on the reply streams, and two router processes, each with its own
pools, ports and scheduler, running one job against one PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

import pytest

from waddlebot.core.clock import ManualClock
from waddlebot.core.contract import OutboundMessage
from waddlebot.infra import keys
from waddlebot.infra.audit import AuditLog
from waddlebot.infra.codec import decode_outbound
from waddlebot.infra.db import Database
from waddlebot.infra.db.migrate import upgrade_async
from waddlebot.infra.factory import build_ports
from waddlebot.infra.ports import Bus, Ports
from waddlebot.infra.scheduler import Scheduler
from waddlebot.runtime import Runtime

GROUP = "scheduled-test"


class Job(Protocol):
    async def fire_due(self, now: datetime | None = None) -> int: ...


J = TypeVar("J", bound=Job)


async def tick(runtime: Runtime, clock: ManualClock, **delta: float) -> None:
    """Move the clock on, and run the runtime's scheduler once (it must lead)."""
    clock.advance(**delta)
    assert await runtime.scheduler.tick()


async def posted(bus: Bus, platform: str, prefix: str) -> list[OutboundMessage]:
    """The messages whose outbound id starts with ``prefix`` (``timer:``) put on the
    platform's reply stream since the last call (the first call creates the test's consumer
    group, which sees the whole stream)."""
    stream = keys.replies_stream(platform)
    await bus.ensure_group(stream, GROUP)
    entries = await bus.read(stream, GROUP, "reader", 1000, 0)
    await bus.ack(stream, GROUP, [entry.id for entry in entries])
    messages = [decode_outbound(entry.data) for entry in entries]
    return [m for m in messages if m.outbound_id.startswith(prefix)]


@dataclass
class Process(Generic[J]):
    """What one router process builds for a job: its own database pool and ports, the
    service whose ``fire_due`` is the job, and a scheduler that runs it every tick."""

    db: Database
    ports: Ports
    audit: AuditLog
    service: J
    scheduler: Scheduler

    async def close(self) -> None:
        await self.audit.stop()
        await self.ports.close()
        await self.db.close()


@asynccontextmanager
async def two_processes(
    database_url: str,
    redis_url: str,
    key_prefix: str,
    clock: ManualClock,
    name: str,
    service: Callable[[Database, Ports, AuditLog], J],
) -> AsyncIterator[tuple[Process[J], Process[J]]]:
    """Two processes on a freshly migrated PostgreSQL database (``database_url``), whose
    schedulers run ``service(...).fire_due`` as the job ``name``, on one clock."""
    await upgrade_async(database_url)
    built: list[Process[J]] = []
    try:
        for _ in range(2):
            db = Database(database_url)
            ports = await build_ports(redis_url, key_prefix)
            audit = AuditLog(db)
            audit.start()
            made = service(db, ports, audit)
            scheduler = Scheduler(ports.lease, ttl=30, interval=5, clock=clock)
            scheduler.every(0, name, made.fire_due)
            built.append(Process(db, ports, audit, made, scheduler))
        yield built[0], built[1]
    finally:
        for process in built:
            await process.close()


async def both_tick(first: Process[Any], second: Process[Any]) -> None:
    """Both schedulers tick at once: the lease lets exactly one of them run the job."""
    leaders = await asyncio.gather(first.scheduler.tick(), second.scheduler.tick())
    assert sorted(leaders) == [False, True]


def claim_after_the_other(
    monkeypatch: pytest.MonkeyPatch, first: Process[Any], second: Process[Any], expected: int
) -> list[int]:
    """Force the worst interleaving: ``first`` has read what is due, then ``second`` claims
    and posts all of it (``expected`` messages) before ``first`` gets to claim any. Returns
    how many ``first`` saw due, once it has run."""
    claim = first.service._claim
    seen: list[int] = []

    async def claim_late(due: Any, now: Any, *rest: Any) -> Any:
        seen.append(len(due))
        assert await second.service.fire_due(now) == expected
        return await claim(due, now, *rest)

    monkeypatch.setattr(first.service, "_claim", claim_late)
    return seen
