"""Periodic jobs (timers, purging expired labels), run by one router process at a time.

Every process that runs the router runs a :class:`Scheduler`. Each tick it tries to hold the
lease ``scheduler`` (a :class:`~waddlebot.infra.ports.Lease`: Redis in distributed mode, in
process otherwise); only the holder runs the jobs that are due, one after another, renewing
the lease before each. A holder that stops renewing (it died, or a long pause outlasted the
lease's TTL) is replaced by whichever process ticks next after the TTL, and finds out on its
own next renewal, when it stops running jobs.

A lease cannot rule out a short overlap: a stalled holder may be in the middle of a job when
its lease runs out and another process starts the same job. Jobs must therefore be safe to
run twice at once; the timers claim each run with a conditional update (features/timers/service.py),
and purging expired labels is a delete that two processes can both run.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from waddlebot.core.clock import Clock, SystemClock
from waddlebot.core.events import new_id
from waddlebot.infra.outages import describe, unavailable
from waddlebot.infra.ports import Lease
from waddlebot.infra.tasks import stop_task

log = structlog.get_logger("waddlebot.scheduler")

LEASE_NAME = "scheduler"
STOP_GRACE_SECONDS = 5.0  # a job in hand when the process stops gets this long to finish

Job = Callable[[], Awaitable[object]]


@dataclass(slots=True)
class _Entry:
    name: str
    seconds: float
    job: Job
    due: datetime | None = None  # None: at the first tick this process leads


def default_owner() -> str:
    """A token unique to one scheduler: host, process and a random part (a restarted process
    with the same pid is another owner)."""
    return f"{socket.gethostname()}-{os.getpid()}-{new_id()[:8]}"


class Scheduler:
    """``every(seconds, name, job)`` registers a job; ``tick()`` is one round (tests call it
    under a :class:`~waddlebot.core.clock.ManualClock`); ``start()`` runs ticks every
    ``interval`` seconds until ``stop()``, which also gives the lease up."""

    def __init__(
        self,
        lease: Lease,
        *,
        ttl: float = 20.0,
        interval: float = 5.0,
        clock: Clock | None = None,
        owner: str | None = None,
    ) -> None:
        if interval <= 0 or ttl <= interval:
            raise ValueError("the lease must outlast the interval between ticks")
        self.lease = lease
        self.ttl = ttl
        self.interval = interval
        self.clock: Clock = clock or SystemClock()  # when jobs are due; the lease keeps its own
        self.owner = owner or default_owner()
        self.leader = False
        self._jobs: dict[str, _Entry] = {}
        self._lock = asyncio.Lock()  # one tick at a time (the loop and a test, say)
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def jobs(self) -> list[str]:
        return list(self._jobs)

    def every(self, seconds: float, name: str, job: Job) -> None:
        """Run ``job`` every ``seconds`` (0: every tick) while this process leads. The first
        run is at the first tick it leads."""
        if seconds < 0:
            raise ValueError("a job's period cannot be negative")
        if name in self._jobs:
            raise ValueError(f"a job named {name!r} is registered already")
        self._jobs[name] = _Entry(name, seconds, job)

    async def tick(self) -> bool:
        """Hold the lease and run the jobs that are due. Returns whether this process leads
        (still, after its jobs). A failing job is logged and does not stop the others."""
        async with self._lock:
            held = await self._hold()
            for entry in self._jobs.values():
                if not held:
                    break
                now = self.clock.now()
                if entry.seconds and entry.due is not None and entry.due > now:
                    continue
                entry.due = now + timedelta(seconds=entry.seconds)
                await self._run(entry)
                held = await self._hold()  # a long job may have cost the lease
            return held

    async def _hold(self) -> bool:
        """Renew the lease if this process holds it, else try to take it."""
        try:
            held = self.leader and await self.lease.renew(LEASE_NAME, self.owner, self.ttl)
            if not held:
                held = await self.lease.acquire(LEASE_NAME, self.owner, self.ttl)
        except Exception:
            log.warning("scheduler lease unavailable", exc_info=True)
            held = False
        if held != self.leader:
            log.info("scheduler leadership", leader=held, owner=self.owner)
            self.leader = held
        return held

    async def _run(self, entry: _Entry) -> None:
        try:
            await entry.job()
        except Exception as exc:
            what = unavailable(exc)
            if what is None:
                log.exception("scheduled job failed", job=entry.name)
            else:  # every tick of an outage: one line each, not a traceback
                log.warning(
                    "scheduled job failed: its infrastructure is unreachable",
                    job=entry.name,
                    unavailable=what,
                    error=describe(exc),
                )

    async def run(self) -> None:
        """Tick every ``interval`` seconds until :meth:`stop`."""
        while not self._stopping.is_set():
            try:
                await self.tick()
            except Exception:  # the loop must survive: nothing else would restart it
                log.exception("scheduler tick failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.interval)

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._stopping.clear()
            self._task = asyncio.create_task(self.run(), name="scheduler")

    async def stop(self) -> None:
        """Finish the job in hand (for a few seconds at most), stop, and give the lease up
        so another process takes over at its next tick rather than after the TTL."""
        self._stopping.set()
        task, self._task = self._task, None
        await stop_task(task, grace=STOP_GRACE_SECONDS)
        await self.release()

    async def release(self) -> None:
        async with self._lock:
            if not self.leader:
                return
            self.leader = False
            try:
                await self.lease.release(LEASE_NAME, self.owner)
            except Exception:
                log.warning("scheduler lease not released; it expires", exc_info=True)
