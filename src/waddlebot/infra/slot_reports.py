"""Reports each live process publishes into the cache every process shares, read by any
other (the portal's): the collectors' connections (connections.py), the routers' module
health (router/shared_health.py).

A :class:`SlotReporter` holds one of :data:`SLOTS` slot leases of its ``scope`` (the lowest
free one, as an assignment's members do) and writes its report beside it
(``<scope>:report:<slot>``) every ``interval`` seconds, for ``ttl`` seconds. A process that
dies stops refreshing: its lease and report run out, and readers stop counting it.
:func:`read_reports` takes the holders of every slot and their reports in two round trips,
keeping a report only while the process that wrote it holds the slot.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog

from waddlebot.infra.ports import Cache, Lease
from waddlebot.infra.tasks import repeat, stop_task

log = structlog.get_logger("waddlebot.reports")

R = TypeVar("R")
SLOTS = 64  # processes of one scope that can report; more would wait for a slot


def slot_lease(scope: str, slot: int) -> str:
    return f"{scope}:slot:{slot}"


def report_key(scope: str, slot: int) -> str:
    return f"{scope}:report:{slot}"


class SlotReporter:
    """Publishes what ``build`` makes as ``owner``'s report in ``scope`` until :meth:`stop`:
    at :meth:`start`, then each time ``wait`` returns (by default: every ``interval``
    seconds; a ``wait`` that returns sooner, on a change, publishes at once)."""

    def __init__(
        self,
        cache: Cache,
        lease: Lease,
        scope: str,
        owner: str,
        build: Callable[[], Awaitable[bytes]],
        *,
        interval: float,
        ttl: float,
        wait: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self._cache = cache
        self._lease = lease
        self.scope = scope
        self.owner = owner
        self._build = build
        self._interval = interval
        self._ttl = ttl
        self._wait = wait
        self._slot: int | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.publish()
        self._task = asyncio.create_task(self._run(), name=f"{self.scope}-report")

    async def _run(self) -> None:
        await repeat(
            self.publish,
            lambda: self._wait(self._interval),
            log,
            "report not published",
            scope=self.scope,
        )

    async def stop(self) -> None:
        """Stop publishing and withdraw the report."""
        await self.halt()
        if self._slot is not None:
            with contextlib.suppress(Exception):  # else both run out by themselves
                await self._cache.delete(report_key(self.scope, self._slot))
                await self._lease.release(slot_lease(self.scope, self._slot), self.owner)
            self._slot = None

    async def halt(self) -> None:
        """Stop publishing, withdrawing nothing: as a process that dies, whose report runs
        out after its TTL."""
        await stop_task(self._task)
        self._task = None

    async def publish(self) -> None:
        data = await self._build()
        slot = await self._hold_slot()
        if slot is None:
            log.warning("no free slot to report in", scope=self.scope)
            return
        await self._cache.set(report_key(self.scope, slot), data, self._ttl)

    async def _hold_slot(self) -> int | None:
        scope, owner = self.scope, self.owner
        if self._slot is not None:
            if await self._lease.renew(slot_lease(scope, self._slot), owner, self._ttl):
                return self._slot
            self._slot = None
        holders = await self._lease.holders([slot_lease(scope, s) for s in range(SLOTS)])
        for slot in (s for s, holder in enumerate(holders) if holder is None):
            if await self._lease.acquire(slot_lease(scope, slot), owner, self._ttl):
                self._slot = slot
                return slot
        return None


async def read_reports(
    cache: Cache,
    lease: Lease,
    scope: str,
    decode: Callable[[bytes], R],
    owner_of: Callable[[R], str],
) -> list[R]:
    """Every live process's report in ``scope``, decoded, in slot order."""
    holders = await lease.holders([slot_lease(scope, s) for s in range(SLOTS)])
    slots = [s for s, holder in enumerate(holders) if holder is not None]
    if not slots:
        return []
    found = await cache.get_many([report_key(scope, s) for s in slots])
    out = []
    for slot, data in zip(slots, found, strict=True):
        if data is None:
            continue
        report = decode(data)
        if owner_of(report) == holders[slot]:  # a slot taken over since: the new holder's
            out.append(report)
    return out
