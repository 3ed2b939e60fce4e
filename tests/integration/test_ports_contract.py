"""The same scenarios against the in-process adapters and the real-Redis adapters."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from redis.asyncio import Redis

from waddlebot.infra.backlog import BACKLOG_TTL_SECONDS
from waddlebot.infra.factory import RedisPorts, build_ports
from waddlebot.infra.ports import Backlogged, Bus, Limit, Ports, Subscription
from waddlebot.infra.redis_ports import RedisBroadcast, RedisBus, RedisCache, RedisRateLimiter

MakePorts = Callable[..., Awaitable[Ports]]


@pytest.fixture(params=["memory", "redis"])
async def make_ports(request: pytest.FixtureRequest) -> AsyncIterator[MakePorts]:
    built: list[Ports] = []
    if request.param == "redis":
        url = request.getfixturevalue("redis_url")
        prefix = request.getfixturevalue("key_prefix")
    else:
        url, prefix = "", "unused"

    async def make(*, bus_maxlen: int = 100_000) -> Ports:
        ports = await build_ports(url, prefix, bus_maxlen=bus_maxlen)
        built.append(ports)
        return ports

    yield make
    for ports in built:
        await ports.close()


@pytest.fixture
async def ports(make_ports: MakePorts) -> Ports:
    return await make_ports()


async def next_message(sub: Subscription, timeout: float = 2.0) -> bytes:
    return await asyncio.wait_for(anext(aiter(sub)), timeout)


async def no_message(sub: Subscription, wait: float = 0.2) -> None:
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(anext(aiter(sub)), wait)


# --- cache -----------------------------------------------------------------------------------


async def test_cache_get_set_delete(ports: Ports) -> None:
    cache = ports.cache
    assert await cache.get("k") is None
    await cache.set("k", b"v")
    assert await cache.get("k") == b"v"
    await cache.set("k", b"w")
    assert await cache.get("k") == b"w"
    await cache.delete("k", "missing")
    assert await cache.get("k") is None
    assert await cache.ping() is True


async def test_cache_ttl_expires(ports: Ports) -> None:
    cache = ports.cache
    await cache.set("short", b"1", ttl=0.2)
    await cache.set("long", b"2", ttl=10)
    assert await cache.get("short") == b"1"
    await asyncio.sleep(0.3)
    assert await cache.get("short") is None
    assert await cache.get("long") == b"2"


async def test_cache_add_has_exactly_one_winner(ports: Ports) -> None:
    results = await asyncio.gather(
        *(ports.cache.add("once", str(i).encode(), ttl=5) for i in range(50))
    )
    assert results.count(True) == 1
    winner = results.index(True)
    assert await ports.cache.get("once") == str(winner).encode()


async def test_cache_add_succeeds_again_after_expiry(ports: Ports) -> None:
    assert await ports.cache.add("k", b"1", ttl=0.2)
    assert not await ports.cache.add("k", b"2", ttl=0.2)
    await asyncio.sleep(0.3)
    assert await ports.cache.add("k", b"3")
    assert await ports.cache.get("k") == b"3"


async def test_cache_many(ports: Ports) -> None:
    cache = ports.cache
    assert await cache.get_many([]) == []
    await cache.set_many([("a", b"1"), ("b", b"2")])
    await cache.set_many([("t1", b"x"), ("t2", b"y")], ttl=0.2)
    assert await cache.get_many(["a", "missing", "b", "t1", "t2"]) == [b"1", None, b"2", b"x", b"y"]
    added = await cache.add_many([("a", b"n"), ("c", b"c1"), ("c", b"c2"), ("d", b"d1")], ttl=5)
    assert added == [False, True, False, True]
    assert await cache.get_many(["a", "c", "d"]) == [b"1", b"c1", b"d1"]
    await asyncio.sleep(0.3)
    assert await cache.get_many(["t1", "t2", "a"]) == [None, None, b"1"]
    assert await cache.add_many([("t1", b"again"), ("t2", b"again")]) == [True, True]


async def test_cache_add_many_concurrent_each_key_won_once(ports: Ports) -> None:
    keys = [f"k{i}" for i in range(20)]
    items = [(k, b"x") for k in keys]
    results = await asyncio.gather(*(ports.cache.add_many(items, ttl=5) for _ in range(10)))
    for column in zip(*results, strict=True):
        assert column.count(True) == 1


async def test_cache_incr(ports: Ports) -> None:
    cache = ports.cache
    assert await cache.incr("n") == 1
    assert await cache.incr("n", 5) == 6
    assert await cache.get("n") == b"6"
    assert await cache.incr("n", -2) == 4
    counts = await asyncio.gather(*(cache.incr("c") for _ in range(100)))
    assert sorted(counts) == list(range(1, 101))


async def test_cache_incr_many(ports: Ports) -> None:
    cache = ports.cache
    assert await cache.incr_many([]) == []
    assert await cache.incr_many([("a", 2), ("b", 1), ("a", 3)]) == [2, 1, 5]
    assert await cache.get_many(["a", "b"]) == [b"5", b"1"]


async def test_cache_incr_many_with_a_ttl_sets_it_on_creation_only(ports: Ports) -> None:
    cache = ports.cache
    await cache.set("kept", b"7")
    assert await cache.incr_many([("m", 1), ("kept", 1), ("m", 2)], ttl=0.3) == [1, 8, 3]
    await asyncio.sleep(0.15)
    assert await cache.incr_many([("m", 1)], ttl=10) == [4]  # must not extend the window
    await asyncio.sleep(0.25)
    assert await cache.get_many(["m", "kept"]) == [None, b"8"]


async def test_cache_incr_ttl_is_set_on_creation_only(ports: Ports) -> None:
    cache = ports.cache
    assert await cache.incr("w", ttl=0.3) == 1
    await asyncio.sleep(0.15)
    assert await cache.incr("w", ttl=10) == 2  # must not extend the window
    await asyncio.sleep(0.25)
    assert await cache.get("w") is None
    assert await cache.incr("w", ttl=10) == 1  # a new window


async def test_cache_incr_keeps_no_expiry_of_existing_key(ports: Ports) -> None:
    await ports.cache.set("p", b"10")
    assert await ports.cache.incr("p", ttl=0.1) == 11
    await asyncio.sleep(0.2)
    assert await ports.cache.get("p") == b"11"


# --- bus -------------------------------------------------------------------------------------


async def test_bus_publish_read_ack(ports: Ports) -> None:
    bus = ports.bus
    await bus.ensure_group("events", "router")
    await bus.ensure_group("events", "router")  # idempotent
    ids = await bus.publish("events", [b"a", b"b", b"c"])
    assert len(ids) == 3
    assert ids == sorted(ids, key=lambda i: tuple(map(int, i.split("-"))))
    assert await bus.length("events") == 3

    messages = await bus.read("events", "router", "w1", count=2, block_ms=0)
    assert [(m.id, m.data, m.deliveries) for m in messages] == [
        (ids[0], b"a", 1),
        (ids[1], b"b", 1),
    ]
    assert await bus.pending_count("events", "router") == 2
    messages += await bus.read("events", "router", "w1", count=10, block_ms=0)
    assert [m.data for m in messages] == [b"a", b"b", b"c"]
    assert await bus.pending_count("events", "router") == 3

    await bus.ack("events", "router", [m.id for m in messages])
    await bus.ack("events", "router", [])
    assert await bus.pending_count("events", "router") == 0
    assert await bus.read("events", "router", "w1", count=10, block_ms=0) == []


async def test_bus_single_publish_and_empty_publish(ports: Ports) -> None:
    await ports.bus.ensure_group("s", "g")
    assert await ports.bus.publish("s", []) == []
    (entry_id,) = await ports.bus.publish("s", [b"only"])
    (message,) = await ports.bus.read("s", "g", "c", count=5, block_ms=0)
    assert (message.id, message.data) == (entry_id, b"only")


async def test_bus_publish_once_publishes_a_key_once_among_concurrent_callers(
    ports: Ports,
) -> None:
    await ports.bus.ensure_group("s", "g")
    ids = await asyncio.gather(
        *(ports.bus.publish_once("s", f"try {n}".encode(), "delivery:1", 60) for n in range(5))
    )
    published = [entry_id for entry_id in ids if entry_id is not None]
    assert len(published) == 1
    assert await ports.bus.publish_once("s", b"other", "delivery:2", 60) is not None
    messages = await ports.bus.read("s", "g", "c", count=10, block_ms=0)
    assert messages[0].id == published[0]
    assert len(messages) == 2


async def test_bus_concurrent_single_publishes_each_get_their_own_entry(ports: Ports) -> None:
    """Many one-entry appends at once (a busy webhook): each caller is told its entry's id,
    and the stream holds them in the order they were made."""
    await ports.bus.ensure_group("s", "g")
    payloads = [f"delivery {n}".encode() for n in range(50)]
    singles = [ports.bus.publish("s", [p]) for p in payloads[:25]]
    onces = [ports.bus.publish_once("s", p, f"key:{n}", 60) for n, p in enumerate(payloads[25:])]
    ids = [*[i for (i,) in await asyncio.gather(*singles)], *await asyncio.gather(*onces)]
    messages = await ports.bus.read("s", "g", "c", count=100, block_ms=0)
    assert [(m.id, m.data) for m in messages] == list(zip(ids, payloads, strict=True))


async def test_bus_publish_once_loads_its_script_when_redis_has_not_got_it(ports: Ports) -> None:
    bus = ports.bus
    if isinstance(bus, RedisBus):  # as after a Redis restart: a hash Redis does not know
        bus._publish_once._script.sha = "0" * 40
    assert await bus.publish_once("s", b"first", "delivery:1", 60) is not None
    assert await bus.publish_once("s", b"again", "delivery:1", 60) is None


async def test_bus_publish_once_takes_a_key_again_after_its_time(ports: Ports) -> None:
    assert await ports.bus.publish_once("s", b"first", "delivery:1", 0.05) is not None
    assert await ports.bus.publish_once("s", b"again", "delivery:1", 0.05) is None
    await asyncio.sleep(0.1)  # the TTL itself is what is tested (Redis's clock, or ours)
    assert await ports.bus.publish_once("s", b"later", "delivery:1", 0.05) is not None
    assert await ports.bus.length("s") == 2


async def test_bus_group_created_later_sees_existing_entries(ports: Ports) -> None:
    await ports.bus.publish("s", [b"early"])
    await ports.bus.ensure_group("s", "late")
    messages = await ports.bus.read("s", "late", "c", count=5, block_ms=0)
    assert [m.data for m in messages] == [b"early"]


async def test_bus_read_without_block_returns_at_once(ports: Ports) -> None:
    await ports.bus.ensure_group("s", "g")
    start = time.monotonic()
    assert await ports.bus.read("s", "g", "c", count=5, block_ms=0) == []
    assert time.monotonic() - start < 0.5


async def test_bus_read_block_times_out_empty(ports: Ports) -> None:
    await ports.bus.ensure_group("s", "g")
    start = time.monotonic()
    assert await ports.bus.read("s", "g", "c", count=5, block_ms=200) == []
    assert 0.15 <= time.monotonic() - start < 1.5


async def test_bus_blocked_read_returns_when_entry_published(ports: Ports) -> None:
    await ports.bus.ensure_group("s", "g")
    start = time.monotonic()
    reader = asyncio.create_task(ports.bus.read("s", "g", "c", count=5, block_ms=5000))
    await asyncio.sleep(0.1)
    await ports.bus.publish("s", [b"wake"])
    messages = await asyncio.wait_for(reader, 3)
    assert [m.data for m in messages] == [b"wake"]
    assert time.monotonic() - start < 2


async def test_bus_consumers_in_one_group_share_the_work(ports: Ports) -> None:
    bus = ports.bus
    await bus.ensure_group("s", "g")
    payloads = [str(i).encode() for i in range(100)]
    await bus.publish("s", payloads)

    async def consume(name: str) -> list[bytes]:
        got: list[bytes] = []
        while batch := await bus.read("s", "g", name, count=7, block_ms=0):
            got += [m.data for m in batch]
            await bus.ack("s", "g", [m.id for m in batch])
            await asyncio.sleep(0)
        return got

    first, second = await asyncio.gather(consume("w1"), consume("w2"))
    assert first and second
    assert sorted(first + second, key=int) == payloads
    assert not set(first) & set(second)
    assert await bus.pending_count("s", "g") == 0


async def test_bus_blocked_consumers_each_entry_delivered_once(ports: Ports) -> None:
    bus = ports.bus
    await bus.ensure_group("s", "g")
    readers = [
        asyncio.create_task(bus.read("s", "g", f"w{i}", count=10, block_ms=1000)) for i in range(2)
    ]
    await asyncio.sleep(0.1)
    await bus.publish("s", [b"one"])
    results = await asyncio.gather(*readers)
    assert sorted(len(r) for r in results) == [0, 1]


async def test_bus_every_group_sees_every_entry(ports: Ports) -> None:
    bus = ports.bus
    await bus.ensure_group("s", "router")
    await bus.ensure_group("s", "audit")
    await bus.publish("s", [b"1", b"2", b"3"])
    for group in ("router", "audit"):
        messages = await bus.read("s", group, "c", count=10, block_ms=0)
        assert [m.data for m in messages] == [b"1", b"2", b"3"]
        await bus.ack("s", group, [m.id for m in messages])


async def test_bus_unacked_entries_are_reclaimed_after_min_idle(ports: Ports) -> None:
    bus = ports.bus
    await bus.ensure_group("s", "g")
    ids = await bus.publish("s", [b"a", b"b", b"c"])
    taken = await bus.read("s", "g", "dead", count=3, block_ms=0)
    await bus.ack("s", "g", [taken[1].id])  # "b" was done before the consumer died

    assert await bus.reclaim("s", "g", "rescuer", min_idle_ms=100, count=10) == []
    await asyncio.sleep(0.15)
    reclaimed = await bus.reclaim("s", "g", "rescuer", min_idle_ms=100, count=10)
    assert [(m.id, m.data, m.deliveries) for m in reclaimed] == [
        (ids[0], b"a", 2),
        (ids[2], b"c", 2),
    ]
    # now the rescuer holds them: not idle any more
    assert await bus.reclaim("s", "g", "other", min_idle_ms=100, count=10) == []
    assert await bus.pending_count("s", "g") == 2

    await asyncio.sleep(0.15)
    again = await bus.reclaim("s", "g", "other", min_idle_ms=100, count=1)
    assert [(m.data, m.deliveries) for m in again] == [(b"a", 3)]

    await bus.ack("s", "g", [m.id for m in reclaimed])
    assert await bus.pending_count("s", "g") == 0
    await asyncio.sleep(0.15)
    assert await bus.reclaim("s", "g", "other", min_idle_ms=100, count=10) == []
    assert await bus.read("s", "g", "other", count=10, block_ms=0) == []


async def test_bus_touch_keeps_entries_from_being_reclaimed(ports: Ports) -> None:
    bus = ports.bus
    await bus.ensure_group("s", "g")
    await bus.publish("s", [b"a", b"b"])
    taken = await bus.read("s", "g", "busy", count=2, block_ms=0)
    await asyncio.sleep(0.12)
    assert await bus.touch("s", "g", "busy", [taken[0].id]) == [taken[0].id]
    reclaimed = await bus.reclaim("s", "g", "rescuer", min_idle_ms=100, count=10)
    assert [(m.data, m.deliveries) for m in reclaimed] == [(b"b", 2)]  # only the untouched one
    # touching what another consumer now holds changes nothing, and says it is not held
    await asyncio.sleep(0.12)
    assert await bus.touch("s", "g", "busy", [taken[1].id]) == []
    again = await bus.reclaim("s", "g", "third", min_idle_ms=100, count=10)
    assert sorted(m.data for m in again) == [b"a", b"b"]
    assert {m.data: m.deliveries for m in again} == {b"a": 2, b"b": 3}


async def test_bus_acked_entries_are_never_redelivered(ports: Ports) -> None:
    bus = ports.bus
    await bus.ensure_group("s", "g")
    await bus.publish("s", [b"x", b"y"])
    messages = await bus.read("s", "g", "c", count=10, block_ms=0)
    await bus.ack("s", "g", [m.id for m in messages])
    await asyncio.sleep(0.15)
    assert await bus.reclaim("s", "g", "c2", min_idle_ms=100, count=10) == []
    assert await bus.read("s", "g", "c2", count=10, block_ms=0) == []
    await bus.publish("s", [b"z"])
    assert [m.data for m in await bus.read("s", "g", "c2", count=10, block_ms=0)] == [b"z"]


async def test_bus_entries_are_listed_in_pages_read_or_not(ports: Ports) -> None:
    bus = ports.bus
    assert await bus.entries("s") == []
    ids = await bus.publish("s", [b"a", b"b", b"c"])
    await bus.ensure_group("s", "g")
    await bus.read("s", "g", "c", count=1, block_ms=0)  # reading takes nothing off the stream
    listed = await bus.entries("s")
    assert [(m.id, m.data) for m in listed] == list(zip(ids, [b"a", b"b", b"c"], strict=True))
    assert [m.data for m in await bus.entries("s", count=2)] == [b"a", b"b"]
    assert [m.data for m in await bus.entries("s", after=ids[1])] == [b"c"]
    assert await bus.entries("s", after=ids[2]) == []
    found = await bus.entry("s", ids[1])
    assert found is not None and (found.id, found.data) == (ids[1], b"b")
    assert await bus.entry("s", "1-0") is None
    assert await bus.entry("nowhere", ids[1]) is None


async def test_bus_delete_removes_entries(ports: Ports) -> None:
    bus = ports.bus
    await bus.ensure_group("s", "g")
    ids = await bus.publish("s", [b"a", b"b", b"c"])
    assert await bus.delete("s", [ids[1], "1-0"]) == 1
    assert await bus.delete("s", [ids[1]]) == 0
    assert await bus.delete("s", []) == 0
    assert await bus.length("s") == 2
    assert [m.data for m in await bus.entries("s")] == [b"a", b"c"]
    assert await bus.entry("s", ids[1]) is None
    # a group reading afterwards never sees it
    assert [m.data for m in await bus.read("s", "g", "c", count=10, block_ms=0)] == [b"a", b"c"]


async def test_bus_move_takes_an_entry_to_another_stream_once(ports: Ports) -> None:
    bus = ports.bus
    await bus.ensure_group("target", "g")
    (dead,) = await bus.publish("source", [b"old"])
    moves = await asyncio.gather(*(bus.move("source", dead, "target", b"new") for _ in range(5)))
    assert sum(m is not None for m in moves) == 1
    assert await bus.length("source") == 0
    assert [m.data for m in await bus.read("target", "g", "c", count=10, block_ms=0)] == [b"new"]
    assert await bus.move("source", dead, "target", b"again") is None
    assert await bus.length("target") == 1


# --- bus: trimming and backlog ----------------------------------------------------------------
# Redis trims whole stream nodes (about 100 entries each), the memory bus exactly: the tests
# use streams of many nodes and bound what may be removed rather than name a figure.


def numbered(count: int) -> list[bytes]:
    return [str(i).encode() for i in range(count)]


async def on_stream(bus: Bus, stream: str) -> list[bytes]:
    """Every entry still on the stream, oldest first."""
    found: list[bytes] = []
    after = ""
    while page := await bus.entries(stream, after=after, count=500):
        found += [m.data for m in page]
        after = page[-1].id
    return found


async def test_bus_publishing_trims_nothing_however_far_behind_the_readers_are(
    make_ports: MakePorts,
) -> None:
    bus = (await make_ports(bus_maxlen=100)).bus
    await bus.ensure_group("s", "g")
    for _ in range(10):
        await bus.publish("s", [b"x"] * 100)
    assert await bus.length("s") == 1000
    assert len(await bus.read("s", "g", "c", count=2000, block_ms=0)) == 1000


async def test_bus_trim_removes_finished_entries_and_never_pending_or_unread_ones(
    ports: Ports,
) -> None:
    bus = ports.bus
    await bus.ensure_group("s", "g")
    ids = await bus.publish("s", numbered(1000))
    taken = await bus.read("s", "g", "c", count=600, block_ms=0)
    await bus.ack("s", "g", [m.id for m in taken[:400]])  # 400-599 stay pending
    await bus.trim("s")  # (acknowledging may have trimmed already)

    left = await on_stream(bus, "s")
    assert 600 <= len(left) < 1000
    assert left == numbered(1000)[1000 - len(left) :]
    await asyncio.sleep(0.05)
    reclaimed = await bus.reclaim("s", "g", "rescuer", min_idle_ms=10, count=1000)
    assert [m.id for m in reclaimed] == ids[400:600]
    assert [m.id for m in await bus.read("s", "g", "c", count=1000, block_ms=0)] == ids[600:]

    # with nothing pending, the last entry handed out stays, and nothing after it goes
    await bus.ack("s", "g", ids[400:1000])
    await bus.trim("s")
    assert 1 <= await bus.length("s") <= 100  # at most what is left of the last stream node
    assert (await on_stream(bus, "s"))[-1] == b"999"
    await bus.publish("s", [b"new"])
    await bus.trim("s")
    assert [m.data for m in await bus.read("s", "g", "c", count=10, block_ms=0)] == [b"new"]


async def test_bus_trim_waits_for_the_slowest_group(ports: Ports) -> None:
    bus = ports.bus
    await bus.ensure_group("s", "fast")
    await bus.ensure_group("s", "slow")
    await bus.publish("s", numbered(1000))
    fast = await bus.read("s", "fast", "c", count=1000, block_ms=0)
    await bus.ack("s", "fast", [m.id for m in fast])
    await bus.trim("s")
    assert await bus.length("s") == 1000  # "slow" has read nothing

    slow = await bus.read("s", "slow", "c", count=500, block_ms=0)
    await bus.ack("s", "slow", [m.id for m in slow])
    await bus.trim("s")
    assert 500 <= await bus.length("s") < 1000
    rest = await bus.read("s", "slow", "c", count=1000, block_ms=0)
    assert [m.data for m in rest] == numbered(1000)[500:]  # every one it had not read


async def test_bus_trim_keeps_everything_on_a_stream_no_group_reads(ports: Ports) -> None:
    """The dead letters: nobody acknowledges them; they stay until replayed or deleted."""
    bus = ports.bus
    ids = await bus.publish("events.dead", numbered(1000))
    await bus.ensure_group("events", "router")
    assert await bus.trim("events.dead") == 0
    assert await bus.trim("nowhere") == 0
    assert await bus.move("events.dead", ids[0], "events", b"replayed") is not None
    (replayed,) = await bus.read("events", "router", "c", count=10, block_ms=0)
    await bus.ack("events", "router", [replayed.id])
    assert await bus.trim("events.dead") == 0
    assert await on_stream(bus, "events.dead") == numbered(1000)[1:]


async def test_bus_acknowledging_trims_the_stream_now_and_then(ports: Ports) -> None:
    bus = ports.bus
    await bus.ensure_group("s", "g")
    await bus.publish("s", numbered(1000))
    taken = await bus.read("s", "g", "c", count=1000, block_ms=0)
    await bus.ack("s", "g", [m.id for m in taken])  # a stream's first acknowledgement trims
    assert 1 <= await bus.length("s") <= 100


async def test_bus_backlog_is_what_the_slowest_group_has_not_finished(ports: Ports) -> None:
    bus = ports.bus
    assert await bus.backlog("s") == 0
    await bus.publish("s", numbered(10))
    assert await bus.backlog("s") == 10  # no group yet: all of it waits
    await bus.ensure_group("s", "g")
    await bus.ensure_group("s", "late")
    assert await bus.backlog("s") == 10
    taken = await bus.read("s", "g", "c", count=4, block_ms=0)
    await bus.ack("s", "g", [m.id for m in taken])
    assert await bus.backlog("s") == 10  # "late" has read nothing yet
    late = await bus.read("s", "late", "c", count=10, block_ms=0)
    assert await bus.backlog("s") == 10  # handed out to it, not acknowledged
    await bus.ack("s", "late", [m.id for m in late])
    assert await bus.backlog("s") == 6  # "g" is the slower one now
    rest = await bus.read("s", "g", "c", count=10, block_ms=0)
    assert await bus.backlog("s") == 6
    await bus.ack("s", "g", [m.id for m in rest[:2]])
    assert await bus.backlog("s") == 4
    await bus.publish("s", [b"more"])
    assert await bus.backlog("s") == 5


async def test_bus_admit_refuses_while_the_backlog_is_over_the_limit(
    make_ports: MakePorts,
) -> None:
    bus = (await make_ports(bus_maxlen=5)).bus
    await bus.ensure_group("s", "g")
    await bus.publish("s", numbered(5))
    await bus.admit("s")  # 5 waiting: at the limit, not over it
    await bus.publish("s", [b"one too many"])
    await asyncio.sleep(BACKLOG_TTL_SECONDS * 1.5)  # past what the bus remembers of it
    with pytest.raises(Backlogged) as refused:
        await bus.admit("s")
    assert (refused.value.stream, refused.value.waiting, refused.value.limit) == ("s", 6, 5)
    await bus.admit("other")  # each stream on its own

    taken = await bus.read("s", "g", "c", count=2, block_ms=0)
    await bus.ack("s", "g", [m.id for m in taken])
    async with asyncio.timeout(5):
        while True:  # admitted again once the readers caught up, and the figure was read anew
            try:
                await bus.admit("s")
                break
            except Backlogged:
                await asyncio.sleep(0.02)


# --- broadcast -------------------------------------------------------------------------------


async def test_broadcast_reaches_every_subscriber(ports: Ports) -> None:
    one = await ports.broadcast.subscribe("replies")
    two = await ports.broadcast.subscribe("replies")
    other = await ports.broadcast.subscribe("elsewhere")
    await ports.broadcast.publish("replies", b"hello")
    await ports.broadcast.publish("replies", b"again")
    for sub in (one, two):
        assert await next_message(sub) == b"hello"
        assert await next_message(sub) == b"again"
    await no_message(other)


async def test_broadcast_late_subscriber_misses_earlier_messages(ports: Ports) -> None:
    early = await ports.broadcast.subscribe("c")
    await ports.broadcast.publish("c", b"old")
    assert await next_message(early) == b"old"
    late = await ports.broadcast.subscribe("c")
    await ports.broadcast.publish("c", b"new")
    assert await next_message(late) == b"new"
    assert await next_message(early) == b"new"


async def test_broadcast_closed_subscription_stops(ports: Ports) -> None:
    keep = await ports.broadcast.subscribe("c")
    gone = await ports.broadcast.subscribe("c")
    await gone.close()
    await gone.close()  # idempotent
    await ports.broadcast.publish("c", b"after")
    assert await next_message(keep) == b"after"
    assert [m async for m in gone] == []


async def test_broadcast_close_ends_a_waiting_iterator(ports: Ports) -> None:
    sub = await ports.broadcast.subscribe("c")
    waiting = asyncio.create_task(next_message(sub, timeout=3))
    await asyncio.sleep(0.05)
    await sub.close()
    with pytest.raises(StopAsyncIteration):
        await waiting


async def test_broadcast_resubscribe_after_last_subscriber_left(ports: Ports) -> None:
    sub = await ports.broadcast.subscribe("c")
    await sub.close()
    again = await ports.broadcast.subscribe("c")
    await ports.broadcast.publish("c", b"back")
    assert await next_message(again) == b"back"


async def test_broadcast_many_concurrent_subscribes(ports: Ports) -> None:
    subs = await asyncio.gather(*(ports.broadcast.subscribe(f"ch{i % 5}") for i in range(20)))
    for i in range(5):
        await ports.broadcast.publish(f"ch{i}", str(i).encode())
    for i, sub in enumerate(subs):
        assert await next_message(sub) == str(i % 5).encode()


# --- rate limiter ----------------------------------------------------------------------------


async def test_ratelimit_exact_under_concurrency(ports: Ports) -> None:
    limit = Limit(50, 30)
    results = await asyncio.gather(*(ports.ratelimiter.hit(limit, "user", "1") for _ in range(200)))
    assert results.count(True) == 50
    assert await ports.ratelimiter.hit(limit, "user", "2")  # other keys are independent


async def test_ratelimit_reset_in(ports: Ports) -> None:
    limiter = ports.ratelimiter
    limit = Limit(2, 30)
    assert await limiter.reset_in(limit, "k") == 0
    assert await limiter.hit(limit, "k")
    assert await limiter.reset_in(limit, "k") == 0
    assert await limiter.hit(limit, "k")
    assert not await limiter.hit(limit, "k")
    assert 0 < await limiter.reset_in(limit, "k") <= 30
    await limiter.clear(limit, "k")
    assert await limiter.reset_in(limit, "k") == 0
    assert await limiter.hit(limit, "k")


async def test_ratelimit_window_moves(ports: Ports) -> None:
    limit = Limit(1, 1)
    assert await ports.ratelimiter.hit(limit, "k")
    assert not await ports.ratelimiter.hit(limit, "k")
    await asyncio.sleep(await ports.ratelimiter.reset_in(limit, "k") + 0.05)
    assert await ports.ratelimiter.hit(limit, "k")


async def test_ratelimit_hit_many_stops_at_the_first_refusal(ports: Ports) -> None:
    limiter = ports.ratelimiter
    place, person, cooldown = Limit(3, 30), Limit(1, 30), Limit(1, 5)
    chatter = [(place, ("entity", "a")), (person, ("user", "a", "1")), (cooldown, ("cd", "1"))]
    assert await limiter.hit_many([chatter, chatter, []]) == [None, 1, None]
    # the second group counted its place hit, and stopped before the cooldown
    assert await limiter.hit_many([[(place, ("entity", "a"))], chatter]) == [None, 0]
    assert not await limiter.hit(cooldown, "cd", "1")
    assert 0 < await limiter.reset_in(person, "user", "a", "1") <= 30
    await limiter.clear(place, "entity", "a")
    assert await limiter.hit_many([[(place, ("entity", "a"))]]) == [None]
    assert await limiter.hit_many([]) == []
    assert await limiter.hit_many([[(Limit(0, 30), ("closed",))]]) == [0]


async def test_ratelimit_hit_many_exact_under_concurrency(ports: Ports) -> None:
    limit = Limit(50, 30)
    batches = await asyncio.gather(
        *(ports.ratelimiter.hit_many([[(limit, ("user", "1"))]] * 20) for _ in range(10))
    )
    assert sum(result is None for batch in batches for result in batch) == 50
    assert await ports.ratelimiter.hit(limit, "user", "1") is False


async def test_ratelimit_exact_across_two_redis_clients(redis_url: str, key_prefix: str) -> None:
    one = RedisRateLimiter(redis_url, key_prefix)
    two = RedisRateLimiter(redis_url, key_prefix)
    try:
        limit = Limit(50, 30)
        results = await asyncio.gather(
            *((one if i % 2 else two).hit(limit, "shared") for i in range(200))
        )
        assert results.count(True) == 50
        assert await one.reset_in(limit, "shared") > 0
    finally:
        await one.close()
        await two.close()
        await one.close()


# --- lifecycle -------------------------------------------------------------------------------


async def test_ports_close_is_idempotent(make_ports: MakePorts) -> None:
    ports = await make_ports()
    await ports.broadcast.subscribe("c")
    await ports.close()
    await ports.close()


# --- Redis specifics -------------------------------------------------------------------------


async def test_redis_ports_close_the_shared_client_exactly_once(
    redis_url: str, key_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ports = await build_ports(redis_url, key_prefix)
    assert isinstance(ports, RedisPorts)
    client = ports.redis
    assert client is not None
    assert all(getattr(p, "_redis", None) is client for p in (ports.cache, ports.bus))
    closes = 0
    real_aclose = client.aclose

    async def counting_aclose(*args: object, **kwargs: object) -> None:
        nonlocal closes
        closes += 1
        await real_aclose()

    monkeypatch.setattr(client, "aclose", counting_aclose)
    sub = await ports.broadcast.subscribe("c")
    await ports.cache.set("k", b"v")
    await ports.close()
    await ports.close()
    await sub.close()
    assert closes == 1


async def test_redis_build_ports_fails_fast_without_redis() -> None:
    with pytest.raises(Exception):  # noqa: B017 - any connection error
        await build_ports("redis://127.0.0.1:1/0")


async def test_redis_keys_are_namespaced_by_prefix(redis_url: str, key_prefix: str) -> None:
    ports = await build_ports(redis_url, key_prefix)
    other = await build_ports(redis_url, f"{key_prefix}-other")
    try:
        await ports.cache.set("k", b"mine")
        await ports.bus.publish("s", [b"x"])
        await ports.ratelimiter.hit(Limit(1, 5), "u")
        assert await other.cache.get("k") is None
        assert await other.bus.length("s") == 0
        assert await other.ratelimiter.hit(Limit(1, 5), "u")
        client = Redis.from_url(redis_url)
        keys = {k.decode() async for k in client.scan_iter(match=f"{key_prefix}:*")}
        await client.aclose()
        assert f"{key_prefix}:k" in keys
        assert f"{key_prefix}:s" in keys
        assert any(k.startswith(f"{key_prefix}:ratelimit:") for k in keys)
    finally:
        await ports.close()
        await other.close()


async def test_redis_blocking_read_longer_than_socket_timeout(
    redis_url: str, key_prefix: str
) -> None:
    client = Redis.from_url(redis_url, socket_timeout=0.3)
    bus = RedisBus(client, key_prefix)
    try:
        await bus.ensure_group("s", "g")
        start = time.monotonic()
        assert await bus.read("s", "g", "c", count=1, block_ms=700) == []
        # it waited out its block (no upper bound: a loaded machine may answer late)
        assert time.monotonic() - start >= 0.6
        reader = asyncio.create_task(bus.read("s", "g", "c", count=1, block_ms=2000))
        await asyncio.sleep(0.5)
        await bus.publish("s", [b"late"])
        assert [m.data for m in await reader] == [b"late"]
    finally:
        await bus.close()
        await client.aclose()


async def test_redis_adapters_reject_decoding_clients(redis_url: str, key_prefix: str) -> None:
    client = Redis.from_url(redis_url, decode_responses=True)
    try:
        with pytest.raises(ValueError):
            RedisCache(client, key_prefix)
    finally:
        await client.aclose()


async def test_redis_broadcast_uses_one_connection_for_all_subscribers(
    redis_url: str, key_prefix: str
) -> None:
    client = Redis.from_url(redis_url)
    broadcast = RedisBroadcast(client, key_prefix)
    try:
        before = len(await client.client_list(_type="pubsub"))
        subs = [await broadcast.subscribe(f"c{i % 3}") for i in range(30)]
        after = len(await client.client_list(_type="pubsub"))
        assert after - before == 1
        for sub in subs:
            await sub.close()
    finally:
        await broadcast.close()
        await client.aclose()


async def test_redis_reclaim_reports_entries_deleted_before_they_were_acknowledged(
    redis_url: str, key_prefix: str
) -> None:
    from waddlebot.infra import metrics

    ports = await build_ports(redis_url, key_prefix)
    try:
        bus = ports.bus
        await bus.ensure_group("s", "g")
        await bus.publish("s", [b"lost"])
        await bus.read("s", "g", "dead", count=1, block_ms=0)
        # by hand: trimming never removes a pending entry
        await ports.bus._redis.xtrim(f"{key_prefix}:s", maxlen=0)  # type: ignore[attr-defined]
        before = metrics.BUS_LOST._value.get()
        await asyncio.sleep(0.15)
        assert await bus.reclaim("s", "g", "rescuer", min_idle_ms=100, count=10) == []
        assert metrics.BUS_LOST._value.get() == before + 1
        assert await bus.pending_count("s", "g") == 0
    finally:
        await ports.close()


async def test_redis_backlog_counts_the_whole_stream_past_a_deleted_entry(
    redis_url: str, key_prefix: str
) -> None:
    """Redis 7.0 cannot tell a group's lag past an entry deleted with XDEL; the backlog then
    counts every entry on the stream (more than waits, never less)."""
    bus = RedisBus(redis_url, key_prefix)
    try:
        await bus.ensure_group("s", "g")
        ids = await bus.publish("s", numbered(10))
        taken = await bus.read("s", "g", "c", count=3, block_ms=0)
        await bus.ack("s", "g", [m.id for m in taken[:1]])
        await bus.delete("s", [ids[5]])
        assert await bus.backlog("s") == 9  # 6 not handed out and 2 pending: 8 wait
    finally:
        await bus.close()
