"""One process of many doing something (sending a platform's replies within its rate limits,
keeping its WebSocket sessions): whoever holds a lease leads, renews it every few seconds,
and a silent leader is replaced once its lease runs out. ``on_lead`` runs each round the
process leads (the leader's periodic chores, each deciding whether it is due)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog

from waddlebot.infra.ports import Lease
from waddlebot.infra.tasks import repeat, seconds, stop_task

log = structlog.get_logger("waddlebot.leadership")

Step = Callable[[], Awaitable[None]]


async def _nothing() -> None:
    return None


class Leadership:
    def __init__(
        self,
        lease: Lease,
        name: str,
        owner: str,
        *,
        on_gain: Step,
        on_loss: Step,
        on_follow: Step = _nothing,
        on_lead: Step = _nothing,
        ttl: float = 20.0,
        interval: float = 5.0,
    ) -> None:
        self._lease = lease
        self._name = name
        self._owner = owner
        self._on_gain = on_gain
        self._on_loss = on_loss
        self._on_follow = on_follow
        self._on_lead = on_lead
        self._ttl = ttl
        self._interval = interval
        self.leading = False
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Try to lead now, then keep trying (or renewing) in the background."""
        await self.try_lead()
        self._task = asyncio.create_task(self.run(), name=f"{self._name}-lead")

    async def stop(self) -> None:
        await stop_task(self._task)
        await self.resign()

    async def try_lead(self) -> bool:
        """Renew the lead, or take it when it is free; True while leading."""
        if self.leading:
            if not await self._lease.renew(self._name, self._owner, self._ttl):
                log.warning("lost the lead; another process does it now", lease=self._name)
                await self._step_down()
        elif await self._lease.acquire(self._name, self._owner, self._ttl):
            log.info("took the lead", lease=self._name, owner=self._owner)
            self.leading = True
            await self._on_gain()
        else:
            await self._on_follow()
        if self.leading:
            await self._on_lead()
        return self.leading

    async def run(self) -> None:
        failure = "leadership check failed"
        await repeat(self.try_lead, seconds(self._interval), log, failure, lease=self._name)

    async def resign(self) -> None:
        """Stop leading and give the lease up, so another process takes over at once."""
        await self._step_down()
        try:
            await self._lease.release(self._name, self._owner)
        except Exception:
            log.warning("lease not released; it runs out by itself", lease=self._name)

    async def _step_down(self) -> None:
        if self.leading:
            self.leading = False
            await self._on_loss()
