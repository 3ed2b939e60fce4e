"""Waiting for the router to finish an event: the API's ``?wait=true`` and the console's
scripted mode both need to know when an event's replies are out.

The router publishes a completion on the ``sessions.done`` broadcast channel for each event
accepted with ``notify``; every process with waiters subscribes once and hands completions to
the futures waiting for them.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import structlog

from waddlebot.infra import keys
from waddlebot.infra.ports import Broadcast, Subscription
from waddlebot.infra.tasks import stop_task

log = structlog.get_logger("waddlebot.completion")


class CompletionHub:
    def __init__(self, broadcast: Broadcast) -> None:
        self._broadcast = broadcast
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._subscription: Subscription | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._subscription = await self._broadcast.subscribe(keys.DONE_CHANNEL)
        self._task = asyncio.create_task(self._pump(self._subscription), name="completions")

    async def stop(self) -> None:
        if self._subscription is not None:
            await self._subscription.close()
        await stop_task(self._task)
        for future in self._waiting.values():
            future.cancel()
        self._waiting.clear()

    def expect(self, event_id: str) -> asyncio.Future[dict[str, Any]]:
        """Register interest before the event is published, so the completion cannot be missed."""
        future = self._waiting.get(event_id)
        if future is None:
            future = self._waiting[event_id] = asyncio.get_running_loop().create_future()
        return future

    def forget(self, event_id: str) -> None:
        future = self._waiting.pop(event_id, None)
        if future is not None and not future.done():
            future.cancel()

    async def _pump(self, subscription: Subscription) -> None:
        async for data in subscription:
            try:
                done = orjson.loads(data)
                future = self._waiting.get(done["event_id"])
            except (ValueError, KeyError, TypeError):
                log.warning("malformed completion ignored")
                continue
            if future is not None and not future.done():
                future.set_result(done)
