"""Background tasks: a step repeated for as long as a service runs, and stopping a task
reliably."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

Pause = Callable[[], Awaitable[object]]


def seconds(interval: float) -> Pause:
    """A pause of ``interval`` seconds, for :func:`repeat`."""
    return lambda: asyncio.sleep(interval)


async def repeat(step: Pause, pause: Pause, log: Any, failure: str, **context: Any) -> None:
    """After each ``pause``, run ``step``, until cancelled. A step that fails is logged
    (``failure``, with ``context``, on ``log``) and the next runs after the next pause: a
    round that fails (Redis away for a moment) does not end the loop."""
    while True:
        await pause()
        try:
            await step()
        except Exception:
            log.exception(failure, **context)


async def stop_task(
    task: asyncio.Task[object] | asyncio.Task[None] | None, grace: float = 0.0
) -> None:
    """Give ``task`` ``grace`` seconds to finish, then cancel it until it is done.

    Cancelling more than once is deliberate: redis-py can absorb a cancellation that lands
    while it is tearing down a blocking read, leaving the task running.
    """
    if task is None:
        return
    if grace > 0 and not task.done():
        await asyncio.wait({task}, timeout=grace)
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=0.5)
    if not task.cancelled() and task.exception() is not None:
        raise task.exception()  # type: ignore[misc]
