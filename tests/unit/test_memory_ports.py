"""Behaviour specific to the in-process adapters (the shared contract is in
tests/integration/test_ports_contract.py)."""

from __future__ import annotations

import asyncio
import gc
import time

import pytest
from structlog.testing import capture_logs

from waddlebot.infra.factory import build_ports
from waddlebot.infra.memory import (
    MemoryBroadcast,
    MemoryBus,
    MemoryCache,
    MemoryRateLimiter,
)
from waddlebot.infra.ports import Backlogged, Limit

# --- cache -----------------------------------------------------------------------------------


async def test_cache_evicts_least_recently_written_beyond_max_entries() -> None:
    cache = MemoryCache(max_entries=3)
    for key in ("a", "b", "c"):
        await cache.set(key, key.encode())
    await cache.set("a", b"A")  # rewritten: now the newest
    await cache.set("d", b"d")
    assert len(cache) == 3
    assert await cache.get_many(["a", "b", "c", "d"]) == [b"A", None, b"c", b"d"]


async def test_cache_expired_keys_are_swept_without_being_read() -> None:
    cache = MemoryCache()
    await cache.set_many([(f"k{i}", b"x") for i in range(100)], ttl=0.05)
    await asyncio.sleep(0.1)
    for i in range(10):
        await cache.set(f"other{i}", b"y")
    assert len(cache) == 10


async def test_cache_entries_give_the_garbage_collector_nothing_to_look_at() -> None:
    """Entries are kept without an object of their own (docs/performance.md: such objects made
    up most of the embedded mode's young generation, whose collections made its latency tail)."""
    cache = MemoryCache()
    items = [(f"k{i}", b"v") for i in range(1000)]
    counters = [(f"n{i}", 1) for i in range(100)]
    await cache.set("warm", b"x", ttl=60)
    gc.collect()
    gc.disable()
    try:
        tracked_before = gc.get_count()[0]
        await cache.set_many(items, ttl=60)
        await cache.incr_many(counters, ttl=60)
        tracked_after = gc.get_count()[0]
    finally:
        gc.enable()
    assert tracked_after - tracked_before < 50


async def test_cache_rewrites_with_ttl_do_not_grow_memory() -> None:
    cache = MemoryCache()
    for i in range(20_000):
        await cache.set("hot", str(i).encode(), ttl=60)
    assert len(cache) == 1
    assert cache._indexed < 2_000  # stale expiry records are compacted away
    assert await cache.get("hot") == b"19999"


async def test_cache_incr_of_non_integer_fails() -> None:
    cache = MemoryCache()
    await cache.set("k", b"text")
    with pytest.raises(ValueError):
        await cache.incr("k")


async def test_cache_is_fast() -> None:
    cache = MemoryCache()
    start = time.perf_counter()
    for i in range(50_000):
        await cache.set(str(i), b"v", ttl=30)
        await cache.get(str(i))
    assert time.perf_counter() - start < 2  # ~0.1 s on a laptop; catches accidental O(n)


# --- bus -------------------------------------------------------------------------------------


async def test_bus_ids_increase_within_one_millisecond() -> None:
    bus = MemoryBus()
    ids = await bus.publish("s", [b"x"] * 1000)
    keys = [tuple(map(int, i.split("-"))) for i in ids]
    assert keys == sorted(set(keys))


async def test_bus_lagging_group_loses_nothing_whatever_the_limit() -> None:
    bus = MemoryBus(max_backlog=10)
    await bus.ensure_group("s", "g")
    await bus.publish("s", [str(i).encode() for i in range(25)])
    messages = await bus.read("s", "g", "c", count=100, block_ms=0)
    assert [m.data for m in messages] == [str(i).encode() for i in range(25)]


async def test_bus_trims_exactly_below_the_oldest_unfinished_entry() -> None:
    bus = MemoryBus()
    await bus.ensure_group("s", "g")
    ids = await bus.publish("s", [str(i).encode() for i in range(10)])
    taken = await bus.read("s", "g", "c", count=6, block_ms=0)
    await bus.ack("s", "g", [taken[0].id, taken[1].id, taken[3].id])  # 2, 4 and 5 pending
    await bus.trim("s")
    assert [m.id for m in await bus.entries("s")] == ids[2:]
    await bus.delete("s", [ids[2]])  # deleted while pending: still held back by it
    await bus.ack("s", "g", [ids[2], ids[4], ids[5]])
    assert await bus.trim("s") == 2  # 3 and 4 (2 was deleted); 5, the last handed out, stays
    assert [m.id for m in await bus.entries("s")] == ids[5:]


async def test_bus_missing_group_is_an_error() -> None:
    bus = MemoryBus()
    with pytest.raises(LookupError):
        await bus.read("s", "nope", "c", count=1, block_ms=0)
    await bus.ensure_group("s", "g")
    with pytest.raises(LookupError):
        await bus.pending_count("s", "nope")
    with pytest.raises(LookupError):
        await bus.reclaim("s", "nope", "c", min_idle_ms=0, count=1)
    await bus.ack("s", "nope", ["1-0"])  # like XACK: nothing to do
    assert await bus.length("missing") == 0


async def test_bus_close_releases_blocked_readers() -> None:
    bus = MemoryBus()
    await bus.ensure_group("s", "g")
    reader = asyncio.create_task(bus.read("s", "g", "c", count=1, block_ms=10_000))
    await asyncio.sleep(0.05)
    await bus.close()
    assert await asyncio.wait_for(reader, 1) == []
    await bus.close()


async def test_bus_waiters_do_not_accumulate() -> None:
    bus = MemoryBus()
    await bus.ensure_group("s", "g")
    for _ in range(20):
        await bus.read("s", "g", "c", count=1, block_ms=1)
    assert not bus._streams["s"].waiters


async def test_bus_is_fast() -> None:
    bus = MemoryBus()
    await bus.ensure_group("s", "g")
    start = time.perf_counter()
    for _ in range(200):
        await bus.publish("s", [b"x"] * 100)
        messages = await bus.read("s", "g", "c", count=100, block_ms=0)
        await bus.ack("s", "g", [m.id for m in messages])
    assert time.perf_counter() - start < 2  # 20k entries; ~0.03 s on a laptop
    assert await bus.pending_count("s", "g") == 0


# --- broadcast -------------------------------------------------------------------------------


async def test_broadcast_slow_subscriber_drops_oldest_and_warns_once() -> None:
    broadcast = MemoryBroadcast(queue_size=3)
    slow = await broadcast.subscribe("c")
    fast = await broadcast.subscribe("c")
    received: list[bytes] = []
    with capture_logs() as logs:
        for i in range(6):
            await broadcast.publish("c", str(i).encode())
            received.append(await anext(aiter(fast)))
    assert received == [b"0", b"1", b"2", b"3", b"4", b"5"]
    assert [await anext(aiter(slow)) for _ in range(3)] == [b"3", b"4", b"5"]
    warnings = [e for e in logs if e["log_level"] == "warning"]
    assert len(warnings) == 1
    assert warnings[0]["channel"] == "c"


async def test_broadcast_close_ends_every_subscription() -> None:
    broadcast = MemoryBroadcast()
    subs = [await broadcast.subscribe("c") for _ in range(3)]
    await broadcast.publish("c", b"dropped on close")
    await broadcast.close()
    for sub in subs:
        assert [m async for m in sub] == []
        await sub.close()
    await broadcast.close()


# --- rate limiter and factory ----------------------------------------------------------------


async def test_ratelimiter_close_is_idempotent() -> None:
    limiter = MemoryRateLimiter()
    assert await limiter.hit(Limit(1, 10), "k")
    await limiter.close()
    await limiter.close()


async def test_ratelimiter_forgets_keys_whose_hits_expired() -> None:
    limiter = MemoryRateLimiter()
    assert await limiter.hit(Limit(1, 1), "old")
    assert await limiter.hit(Limit(5, 3600), "recent")
    limiter._sweep(time.monotonic() + 2)
    assert [k[2] for k in limiter._windows] == [("recent",)]


async def test_build_ports_without_url_is_in_process() -> None:
    ports = await build_ports("", bus_maxlen=5)
    assert isinstance(ports.cache, MemoryCache)
    assert isinstance(ports.bus, MemoryBus)
    assert isinstance(ports.broadcast, MemoryBroadcast)
    assert isinstance(ports.ratelimiter, MemoryRateLimiter)
    await ports.bus.publish("s", [b"x"] * 10)
    assert await ports.bus.length("s") == 10
    with pytest.raises(Backlogged):
        await ports.bus.admit("s")
    await ports.close()
    await ports.close()
