"""The module store's rules, the same in memory (what module tests use) and in the database
(SQLite and PostgreSQL): values, versions, quota, expiry, isolation between modules,
communities and scopes, and writers racing each other (on PostgreSQL each one holds its own
connection and transaction: a real race)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from waddlebot.core.clock import ManualClock
from waddlebot.features.modulestore.service import SqlStore
from waddlebot.infra.db import Database
from waddlebot.infra.db.migrate import upgrade
from waddlebot.infra.db.models import Community
from waddlebot.sdk.store import (
    Bucket,
    Limits,
    MemoryStore,
    NotANumber,
    ScopedStore,
    StoreBackend,
    StoreFull,
    ValueTooLarge,
)

LIMITS = Limits(total_bytes=2_000, value_bytes=500)


@dataclass
class Backend:
    store: MemoryStore | SqlStore
    clock: ManualClock
    communities: tuple[int, int]

    def scoped(self, module: str = "kudos", community: int = 0, **where: str) -> ScopedStore:
        scope, scope_id = next(iter(where.items())) if where else ("community", "")
        bucket = Bucket(module, self.communities[community], scope, scope_id)  # type: ignore[arg-type]
        return ScopedStore(self.store, bucket)

    async def used(self, module: str = "kudos", community: int = 0) -> int:
        used = self.store.used(module, self.communities[community])
        return used if isinstance(used, int) else await used


async def _communities(db: Database) -> tuple[int, int]:
    async with db.session() as session:
        made = [Community(name="Waddle TV"), Community(name="Other")]
        session.add_all(made)
        await session.flush()
        return made[0].id, made[1].id


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest) -> str:
    """ "" for the memory store, else a migrated, empty database."""
    if request.param == "memory":
        return ""
    name = "sqlite_url" if request.param == "sqlite" else "fresh_postgres_url"
    url = str(request.getfixturevalue(name))
    upgrade(url)
    return url


@pytest.fixture
async def backend(store_url: str) -> AsyncIterator[Backend]:
    clock = ManualClock()
    if not store_url:
        yield Backend(MemoryStore(limits=LIMITS, clock=clock), clock, (1, 2))
        return
    db = Database(store_url, pool_size=25, max_overflow=5)
    try:
        yield Backend(SqlStore(db, LIMITS, clock), clock, await _communities(db))
    finally:
        await db.close()


async def test_values_are_json_and_keys_are_listed(backend: Backend) -> None:
    store = backend.scoped()
    assert await store.get("topic") is None
    assert await store.get("topic", "nothing yet") == "nothing yet"
    await store.set("topic", {"title": "Speedrun", "tags": ["any%", 1, 2.5, None, True]})
    assert await store.get("topic") == {"title": "Speedrun", "tags": ["any%", 1, 2.5, None, True]}
    await store.set("count", 3)
    await store.set("flag", True)
    assert await store.get("flag") is True  # not counted as the number 1
    await store.set("topic:old", "x")
    assert await store.keys() == ["count", "flag", "topic", "topic:old"]
    assert await store.keys("topic") == ["topic", "topic:old"]
    assert await store.keys("to%") == []  # a prefix is no pattern
    assert await store.delete("topic") is True
    assert await store.delete("topic") is False
    assert await store.get("topic") is None
    with pytest.raises(TypeError, match="cannot be stored as JSON"):
        await store.set("bad", {1, 2})


async def test_increment_counts_whole_numbers_only(backend: Backend) -> None:
    store = backend.scoped(person="user:7")
    assert await store.increment("kudos") == 1
    assert await store.increment("kudos", 5) == 6
    assert await store.increment("kudos", -10) == -4
    assert await store.get("kudos") == -4
    await store.set("name", "bob")
    with pytest.raises(NotANumber, match="'name' is not a whole number"):
        await store.increment("name")
    await store.set("big", 2**63 - 1)
    with pytest.raises(NotANumber):
        await store.increment("big")
    assert await store.get("big") == 2**63 - 1


async def test_update_reads_changes_and_writes_in_one_step(backend: Backend) -> None:
    store = backend.scoped(channel="twitch:1337")
    queue = await store.update("queue", lambda q: [*q, "song a"], default=[])
    assert queue == ["song a"]
    assert await store.update("queue", lambda q: [*q, "song b"], default=[]) == [
        "song a",
        "song b",
    ]


async def test_writers_racing_lose_nothing(backend: Backend) -> None:
    store = backend.scoped()
    other = backend.scoped(person="user:1")

    async def slow_append(items: list[str], n: int) -> list[str]:
        await asyncio.sleep(0)  # let the others read the same version
        return [*items, f"item{n}"]

    lists = await asyncio.gather(
        *(
            store.update("list", lambda items, n=n: slow_append(items, n), default=[])
            for n in range(12)
        )
    )
    counts = await asyncio.gather(*(other.increment("hits") for _ in range(25)))
    final = await store.get("list")
    assert sorted(final) == sorted(f"item{n}" for n in range(12))
    assert max(lists, key=len) == final
    assert sorted(counts) == list(range(1, 26))
    assert await other.get("hits") == 25


async def test_modules_communities_and_scopes_are_kept_apart(backend: Backend) -> None:
    await backend.scoped().set("k", "kudos, community 1")
    await backend.scoped("songs").set("k", "songs")
    await backend.scoped(community=1).set("k", "kudos, community 2")
    await backend.scoped(channel="twitch:1").set("k", "channel 1")
    await backend.scoped(person="user:1").set("k", "person 1")
    await backend.scoped(person="user:2").increment("k")
    assert await backend.scoped().get("k") == "kudos, community 1"
    assert await backend.scoped("songs").get("k") == "songs"
    assert await backend.scoped(community=1).get("k") == "kudos, community 2"
    assert await backend.scoped(channel="twitch:1").get("k") == "channel 1"
    assert await backend.scoped(channel="twitch:2").get("k") is None
    assert await backend.scoped(person="user:1").get("k") == "person 1"
    assert await backend.scoped(person="user:2").get("k") == 1
    assert await backend.scoped("songs").keys() == ["k"]
    await backend.scoped("songs").delete("k")
    assert await backend.scoped().get("k") == "kudos, community 1"


async def test_the_quota_holds_per_module_per_community(backend: Backend) -> None:
    store = backend.scoped()
    with pytest.raises(ValueTooLarge, match="more than 500 bytes"):
        await store.set("big", "x" * 600)
    for n in range(4):
        await store.set(f"part{n}", "x" * 400)  # 4 * (5 + 402) = 1628 bytes
    assert await backend.used() == 1628
    with pytest.raises(StoreFull, match="kudos module has no room left"):
        await store.set("part4", "x" * 400)
    with pytest.raises(StoreFull):
        await backend.scoped(person="user:1").set("more", "x" * 400)  # every scope counts
    await backend.scoped("songs").set("part4", "x" * 400)  # another module has its own
    await backend.scoped(community=1).set("part4", "x" * 400)  # and so has another community
    await store.set("part0", "small")  # shrinking is always allowed
    await store.set("part4", "x" * 300)  # which makes room
    assert await backend.used() == 1628 - 407 + 12 + 307
    await store.delete("part4")
    await store.increment("n")  # a whole number costs 8 bytes whatever its digits
    assert await backend.used() == 1628 - 407 + 12 + 1 + 8


async def test_quota_races_do_not_overshoot(backend: Backend) -> None:
    store = backend.scoped()
    outcomes = await asyncio.gather(
        *(store.set(f"k{n}", "x" * 400) for n in range(8)), return_exceptions=True
    )
    written = [o for o in outcomes if not isinstance(o, BaseException)]
    assert len(written) == 4  # each takes 404 bytes of 2000
    assert all(isinstance(o, StoreFull) for o in outcomes if isinstance(o, BaseException))
    assert await backend.used() == 4 * 404


async def test_expired_values_read_as_absent_and_give_their_room_back(backend: Backend) -> None:
    store = backend.scoped()
    await store.set("raid", "bob", ttl=60)
    await store.set("kept", "forever")
    backend.clock.advance(seconds=59)
    assert await store.get("raid") == "bob"
    backend.clock.advance(seconds=2)
    assert await store.get("raid") is None
    assert await store.keys() == ["kept"]
    assert await store.increment("raid") == 1  # counts from nothing
    await store.set("gone", "x" * 400, ttl=1)
    backend.clock.advance(seconds=5)
    if isinstance(backend.store, SqlStore):
        assert await backend.store.purge_expired() == 1
    assert await store.keys() == ["kept", "raid"]
    assert await backend.used() == (4 + 9) + (4 + 8)


async def test_compare_and_set_refuses_a_stale_version(backend: Backend) -> None:
    raw: StoreBackend = backend.store
    bucket = backend.scoped().bucket
    assert await raw.write(bucket, "k", "a", ttl=None, version=0) == 1
    assert await raw.write(bucket, "k", "b", ttl=None, version=0) is None  # not absent
    entry = await raw.read(bucket, "k")
    assert entry is not None and entry.version == 1
    assert await raw.write(bucket, "k", "b", ttl=None, version=1) == 2
    assert await raw.write(bucket, "k", "c", ttl=None, version=1) is None
    current: Any = await raw.read(bucket, "k")
    assert (current.value, current.version) == ("b", 2)
