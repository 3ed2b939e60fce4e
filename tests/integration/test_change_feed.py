"""The change feed (infra/changes.py) over the in-process and the Redis broadcast: what one
process writes or names reaches the others, and only the caches that need it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from tests.integration.test_ports_contract import MakePorts, make_ports  # noqa: F401
from waddlebot.infra.changes import ChangeFeed, channel
from waddlebot.infra.memory import MemoryCache
from waddlebot.infra.ports import Broadcast, Ports


class Heard:
    """A handler that remembers the keys it was called with, and lets a test await one."""

    def __init__(self) -> None:
        self.keys: list[str] = []
        self._arrived = asyncio.Event()

    async def __call__(self, key: str) -> None:
        self.keys.append(key)
        self._arrived.set()

    async def next(self, timeout: float = 2.0) -> str:
        async with asyncio.timeout(timeout):
            await self._arrived.wait()
        self._arrived.clear()
        return self.keys[-1]


@pytest.fixture
async def ports(make_ports: MakePorts) -> Ports:  # noqa: F811
    return await make_ports()


@pytest.fixture
async def feeds(ports: Ports) -> AsyncIterator[list[ChangeFeed]]:
    """Feeds of processes started in a test, stopped after it."""
    started: list[ChangeFeed] = []
    yield started
    for feed in started:
        await feed.stop()


async def process(
    broadcast: Broadcast, feeds: list[ChangeFeed], *, scope: str = ""
) -> tuple[ChangeFeed, MemoryCache, Heard]:
    """One process: a cache of its own, a feed watching kind ``k``."""
    cache = MemoryCache()
    feed = ChangeFeed(broadcast, cache, cache_scope=scope)
    heard = Heard()
    feed.watch("k", heard)
    await feed.start()
    feeds.append(feed)
    return feed, cache, heard


async def test_entries_written_in_one_process_reach_the_cache_of_another(
    ports: Ports, feeds: list[ChangeFeed]
) -> None:
    writer, own, _ = await process(ports.broadcast, feeds)
    _, other, heard = await process(ports.broadcast, feeds)
    await other.set("gone", b"old")
    await writer.write("k", [("x", b"new"), ("gone", None)], 60)
    assert await own.get("x") == b"new"  # the writer's own cache at once
    await heard.next()  # entries are taken before the handlers run
    assert await other.get("x") == b"new"
    assert await other.get("gone") is None


async def test_a_cache_shared_with_the_writer_is_left_to_the_writer(
    ports: Ports, feeds: list[ChangeFeed]
) -> None:
    """Processes of one deployment share its Redis: the writer wrote it already, and a late
    copy of its entries must not overwrite what another writer wrote since."""
    writer, _, _ = await process(ports.broadcast, feeds, scope="redis")
    _, same, heard = await process(ports.broadcast, feeds, scope="redis")
    await same.set("x", b"newer")
    await writer.write("k", [("x", b"old")], 60)
    await heard.next()
    assert await same.get("x") == b"newer"


async def test_a_notice_reaches_the_handlers_of_every_process_and_its_own(
    ports: Ports, feeds: list[ChangeFeed]
) -> None:
    publisher, _, mine = await process(ports.broadcast, feeds)
    _, _, theirs = await process(ports.broadcast, feeds)
    await publisher.publish("k", "team-1")
    assert await theirs.next() == "team-1"
    assert await mine.next() == "team-1"


async def test_a_malformed_change_is_skipped_and_the_next_one_heard(
    ports: Ports, feeds: list[ChangeFeed]
) -> None:
    publisher, _, _ = await process(ports.broadcast, feeds)
    _, _, heard = await process(ports.broadcast, feeds)
    await ports.broadcast.publish(channel("k"), b"not json")
    await ports.broadcast.publish(channel("k"), b'{"no": "scope"}')
    await publisher.publish("k", "after")
    assert await heard.next() == "after"
    assert heard.keys == ["after"]


async def test_a_kind_watched_after_start_is_heard(ports: Ports, feeds: list[ChangeFeed]) -> None:
    publisher, _, _ = await process(ports.broadcast, feeds)
    listener, _, _ = await process(ports.broadcast, feeds)
    late = Heard()
    listener.watch("late", late)  # subscribes in the background
    async with asyncio.timeout(2):  # bounded: published until the subscription is there
        while not late.keys:
            await publisher.publish("late", "x")
            await asyncio.sleep(0.02)
    assert set(late.keys) == {"x"}


class Unreachable:
    async def publish(self, channel: str, data: bytes) -> None:
        raise ConnectionError("broadcast is down")


async def test_a_change_that_cannot_be_told_still_changes_this_process() -> None:
    """The database change is committed: failing the command for the notice would lie."""
    cache = MemoryCache()
    feed = ChangeFeed(Unreachable(), cache)  # type: ignore[arg-type]
    await feed.write("k", [("x", b"new")], 60)
    await feed.publish("k", "x")
    assert await cache.get("x") == b"new"
