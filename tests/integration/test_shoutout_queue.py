"""The shoutouts waiting for Twitch's limits, in Redis as router processes share it: two
processes queueing at the same moment both keep their shoutout, and the queue being sent
does not swallow one queued meanwhile."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from waddlebot.features.shoutouts.schedule import Queued, ShoutoutSchedule
from waddlebot.infra.redis_ports import RedisCache, RedisLease

CHANNEL = "1337"


@pytest.fixture
async def processes(redis_url: str, key_prefix: str) -> AsyncIterator[list[ShoutoutSchedule]]:
    """Two router processes' schedules (each its own Redis client)."""
    caches = [RedisCache(redis_url, key_prefix), RedisCache(redis_url, key_prefix)]
    leases = [RedisLease(redis_url, key_prefix), RedisLease(redis_url, key_prefix)]
    try:
        yield [ShoutoutSchedule(c, lease) for c, lease in zip(caches, leases, strict=True)]
    finally:
        for port in (*caches, *leases):
            await port.close()


def _item(n: int, due: float = 100.0) -> Queued:
    return Queued(str(n), f"streamer{n}", due)


async def test_shoutouts_queued_at_once_by_two_processes_are_all_kept(
    processes: list[ShoutoutSchedule],
) -> None:
    await asyncio.gather(*(processes[n % 2].add(CHANNEL, _item(n)) for n in range(12)))
    queued = await processes[0].queue(CHANNEL)
    assert sorted(int(q.target_id) for q in queued) == list(range(12))


async def test_a_shoutout_queued_while_the_due_ones_are_taken_stays_queued(
    processes: list[ShoutoutSchedule],
) -> None:
    one, two = processes
    await one.add(CHANNEL, _item(1, due=50), _item(2, due=10), _item(3, due=500))
    taken, _ = await asyncio.gather(one.take_due(CHANNEL, 100), two.add(CHANNEL, _item(4)))
    assert [q.target_id for q in taken] in (["2", "1"], ["2", "1", "4"])
    left = [q.target_id for q in await one.queue(CHANNEL)]
    assert sorted(left + [q.target_id for q in taken]) == ["1", "2", "3", "4"]
    assert "3" in left
    assert await one.take_due(CHANNEL, 100) == ([_item(4)] if "4" in left else [])
    assert await two.take_due(CHANNEL, 1000) == [_item(3, due=500)]
    assert await two.queue(CHANNEL) == []
