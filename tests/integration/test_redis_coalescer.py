"""Redis commands issued at once share one round trip, and each caller still gets its own
answer or its own error."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.asyncio.connection import Connection
from redis.exceptions import ConnectionError, ResponseError

from waddlebot.infra.outages import unavailable
from waddlebot.infra.redis_coalescer import Coalescer
from waddlebot.infra.redis_ports import RedisCache


class CountingConnection(Connection):
    """Counts what goes to the server: each write of one command or one pipeline."""

    writes = 0

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        CountingConnection.writes += 1
        await super().send_packed_command(command, check_health)


class CountingRedis(Redis):
    @property
    def round_trips(self) -> int:
        return CountingConnection.writes

    @round_trips.setter
    def round_trips(self, value: int) -> None:
        CountingConnection.writes = value


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[CountingRedis]:
    client = CountingRedis.from_url(redis_url, connection_class=CountingConnection)
    yield client
    await client.aclose()


async def test_commands_issued_at_once_share_one_round_trip(
    redis: CountingRedis, key_prefix: str
) -> None:
    cache = RedisCache(redis, key_prefix)
    await cache.set_many([("a", b"1"), ("b", b"2")])
    redis.round_trips = 0
    got, added, counted = await asyncio.gather(
        cache.get_many(["a", "b", "missing"]),
        cache.add_many([("a", b"x"), ("c", b"3")], ttl=5),
        cache.incr_many([("n", 2), ("n", 3)]),
    )
    assert (got, added, counted) == ([b"1", b"2", None], [False, True], [2, 5])
    assert redis.round_trips == 1
    assert await cache.get("a") == b"1"  # one alone still works, as one command
    assert redis.round_trips == 2
    await cache.close()


async def test_commands_issued_while_a_pipeline_is_out_follow_it_in_order(
    redis: CountingRedis, key_prefix: str
) -> None:
    commands = Coalescer(redis)
    key = f"{key_prefix}:order"

    async def push(i: int) -> None:
        for _ in range(i):  # one command per turn of the event loop
            await asyncio.sleep(0)
        await commands.execute(("RPUSH", key, str(i)))

    await asyncio.gather(*(push(i) for i in range(30)))
    assert await redis.lrange(key, 0, -1) == [str(i).encode() for i in range(30)]
    assert redis.round_trips < 30  # those issued while one was out went together


async def test_a_refused_command_fails_only_its_caller(
    redis: CountingRedis, key_prefix: str
) -> None:
    commands = Coalescer(redis)
    await redis.set(f"{key_prefix}:text", b"not a number")
    bad, good = await asyncio.gather(
        commands.execute(("INCRBY", f"{key_prefix}:text", 1)),
        commands.execute(("SET", f"{key_prefix}:k", b"v"), ("GET", f"{key_prefix}:k")),
        return_exceptions=True,
    )
    assert isinstance(bad, ResponseError)
    assert good == [b"OK", b"v"]  # replies as Redis sends them


async def test_a_cancelled_caller_leaves_the_others_their_answers(
    redis: CountingRedis, key_prefix: str
) -> None:
    commands = Coalescer(redis)
    cancelled = asyncio.ensure_future(commands.execute(("SET", f"{key_prefix}:gone", b"1")))
    kept = asyncio.ensure_future(commands.execute(("SET", f"{key_prefix}:kept", b"1")))
    await asyncio.sleep(0)  # both queued
    cancelled.cancel()
    assert await kept == [b"OK"]
    await commands.drain()
    assert await redis.get(f"{key_prefix}:gone") == b"1"  # sent all the same, as a write in flight


async def test_redis_unreachable_fails_every_caller_as_an_outage() -> None:
    client = Redis.from_url("redis://127.0.0.1:1/0")
    commands = Coalescer(client)
    results = await asyncio.gather(
        commands.execute(("GET", "a")),
        commands.execute(("GET", "b"), ("GET", "c")),
        return_exceptions=True,
    )
    assert all(isinstance(r, ConnectionError) and unavailable(r) for r in results)
    await client.aclose()


async def test_a_connection_redis_dropped_is_made_again(
    redis: CountingRedis, key_prefix: str
) -> None:
    commands = Coalescer(redis)
    key = f"{key_prefix}:again"
    _, (own_id,) = await asyncio.gather(
        commands.execute(("SET", key, b"1")), commands.execute(("CLIENT", "ID"))
    )
    await redis.execute_command("CLIENT", "KILL", "ID", own_id)  # as a restart would
    got, (new_id,) = await asyncio.gather(
        commands.execute(("GET", key)), commands.execute(("CLIENT", "ID"))
    )
    assert got == [b"1"] and new_id != own_id  # answered, on a new connection
    await commands.close()


async def test_closing_closes_the_coalescers_connection(
    redis: CountingRedis, key_prefix: str
) -> None:
    commands = Coalescer(redis)
    name = f"{key_prefix}-coalescer"
    await commands.execute(("CLIENT", "SETNAME", name))
    assert name in await _client_names(redis)
    await commands.close()
    # Redis drops a client once it reads the socket's end, which a CLIENT LIST sent on
    # another connection may beat: gone within a few event-loop turns of Redis
    async with asyncio.timeout(5):
        while name in await _client_names(redis):
            await asyncio.sleep(0.01)


async def _client_names(redis: Redis) -> list[str]:
    clients = await redis.client_list()
    return [c["name"] for c in clients]
