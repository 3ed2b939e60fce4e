"""Background work of a fake platform (webhook challenges, echoes of what the bot sent):
started without being awaited, awaited by ``settle`` in tests, and its errors raised there
rather than lost."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any


class BackgroundTasks:
    def __init__(self, name: str) -> None:
        self._name = name
        self._tasks: set[asyncio.Task[Any]] = set()
        self.errors: list[BaseException] = []

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)

        def done(finished: asyncio.Task[Any]) -> None:
            self._tasks.discard(finished)
            error = None if finished.cancelled() else finished.exception()
            if error is not None:
                self.errors.append(error)

        task.add_done_callback(done)

    async def settle(self) -> None:
        """Wait until nothing runs in the background; raise the first error it hit."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        if self.errors:
            raise RuntimeError(f"{self._name} background task failed") from self.errors[0]

    async def cancel(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
