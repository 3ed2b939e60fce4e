"""``repeat``: the loop behind every "every few seconds" job (leadership, assignment,
reports, keeping replies claimed): a failing round is logged and the next one still runs;
only a cancellation ends it."""

from __future__ import annotations

import asyncio

import pytest
import structlog
from structlog.testing import capture_logs

from waddlebot.infra.tasks import repeat, stop_task

log = structlog.get_logger("test.repeat")


async def test_a_failing_round_is_logged_and_the_next_one_runs() -> None:
    rounds: list[int] = []
    pauses = asyncio.Queue[None]()
    third = asyncio.Event()

    async def step() -> None:
        rounds.append(len(rounds) + 1)
        if len(rounds) == 2:
            raise ConnectionError("redis away for a moment")
        if len(rounds) == 3:
            third.set()

    with capture_logs() as logs:
        task = asyncio.create_task(repeat(step, pauses.get, log, "round failed", job="test"))
        for _ in range(3):
            pauses.put_nowait(None)
        await asyncio.wait_for(third.wait(), 5)
        await stop_task(task)

    assert rounds == [1, 2, 3]
    (failure,) = [e for e in logs if e["log_level"] == "error"]
    assert failure["event"] == "round failed" and failure["job"] == "test"
    assert failure["exc_info"] is True


async def test_a_cancelled_loop_ends_without_a_failure_logged() -> None:
    started = asyncio.Event()

    async def step() -> None:
        started.set()
        await asyncio.sleep(3600)  # cancelled in the middle of a round

    async def no_pause() -> None:
        return None

    with capture_logs() as logs:
        task = asyncio.create_task(repeat(step, no_pause, log, "round failed"))
        await asyncio.wait_for(started.wait(), 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert logs == []
