"""Stopping background tasks reliably."""

from __future__ import annotations

import asyncio


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
