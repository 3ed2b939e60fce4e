"""Engines, sessions, replica routing, API keys and the audit log, on real SQLite and
PostgreSQL (schemas always made by the migrations)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import IntegrityError, StatementError

from waddlebot.features.identity import apikeys
from waddlebot.features.identity.apikeys import (
    KeyVerifier,
    count_keys,
    create_key,
    list_keys,
    revoke_key,
    verify_key,
)
from waddlebot.features.identity.models import ApiKey
from waddlebot.infra import audit
from waddlebot.infra.audit import AuditLog
from waddlebot.infra.db import Database
from waddlebot.infra.db.migrate import upgrade
from waddlebot.infra.db.models import AuditRow, Community, Entity
from waddlebot.settings import Settings


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = Database(db_url)
    yield database
    await database.close()


class StatementLog:
    """Records the SQL a database's engines execute (one entry per execute call)."""

    def __init__(self, database: Database) -> None:
        self.entries: list[tuple[str, int]] = []
        self._engines = [database.engine.sync_engine]
        for engine in self._engines:
            event.listen(engine, "before_execute", self._on_execute)

    def _on_execute(self, _conn: Any, clause: Any, multiparams: Any, _params: Any, _o: Any) -> None:
        self.entries.append((str(clause), len(multiparams) if multiparams else 1))

    def matching(self, *words: str) -> list[tuple[str, int]]:
        return [entry for entry in self.entries if all(w in entry[0] for w in words)]

    def close(self) -> None:
        for engine in self._engines:
            event.remove(engine, "before_execute", self._on_execute)


# ----- engine and sessions -----------------------------------------------------------------


async def test_ping_and_session_commit_and_rollback(db: Database) -> None:
    assert await db.ping()
    async with db.session() as session:
        session.add(Community(name="committed"))
    with pytest.raises(RuntimeError):
        async with db.session() as session:
            session.add(Community(name="rolled back"))
            await session.flush()
            raise RuntimeError("boom")
    async with db.read_session() as session:
        names = (await session.scalars(select(Community.name))).all()
    assert names == ["committed"]


async def test_ping_is_false_when_the_server_is_unreachable() -> None:
    database = Database("postgresql+asyncpg://postgres@127.0.0.1:1/nowhere", pool_timeout=1)
    try:
        assert await database.ping() is False
    finally:
        await database.close()


async def test_timestamps_round_trip_as_aware_utc(db: Database) -> None:
    moment = datetime(2024, 5, 1, 14, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2)))
    async with db.session() as session:
        community = Community(name="tz", created_at=moment)
        session.add(community)
    async with db.session() as session:
        stored = await session.scalar(select(Community.created_at))
    assert stored == moment
    assert stored is not None and stored.tzinfo == UTC and stored.hour == 12
    with pytest.raises(StatementError, match="naive datetime"):
        async with db.session() as session:
            session.add(Community(name="naive", created_at=datetime(2024, 1, 1)))


async def test_server_defaults_fill_raw_inserts(db: Database) -> None:
    async with db.session() as session:
        await session.execute(text("INSERT INTO communities (name) VALUES ('raw')"))
        await session.execute(
            text("INSERT INTO module_settings (community_id, module) VALUES (1, 'quotes')")
        )
    async with db.session() as session:
        community = await session.scalar(select(Community))
        row = (await session.execute(text("SELECT enabled, config FROM module_settings"))).one()
    assert community is not None
    assert (community.prefix, community.timezone) == ("!", "UTC")
    assert community.created_at.tzinfo == UTC
    assert abs(datetime.now(UTC) - community.created_at) < timedelta(minutes=5)
    assert bool(row.enabled) is True
    assert row.config in ({}, "{}")


async def test_foreign_keys_are_enforced_and_cascade(db: Database) -> None:
    with pytest.raises(IntegrityError):
        async with db.session() as session:
            session.add(Entity(id="twitch:1", community_id=999, platform="twitch"))
    async with db.session() as session:
        community = Community(name="c")
        session.add(community)
        await session.flush()
        session.add(Entity(id="twitch:1", community_id=community.id, platform="twitch"))
    async with db.session() as session:
        await session.execute(text("DELETE FROM communities"))
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Entity)) == 0


async def test_sqlite_connection_settings(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/not/yet/there.db"
    database = Database(url)
    try:
        async with database.session() as session:
            values = [
                (await session.execute(text(f"PRAGMA {name}"))).scalar()
                for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
            ]
        assert values == ["wal", 1, 5000, 1]
        assert (tmp_path / "not" / "yet" / "there.db").is_file()
    finally:
        await database.close()


def test_from_settings_reads_the_database_fields(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/a.db",
        database_replica_urls=f"sqlite:///{tmp_path}/b.db, sqlite:///{tmp_path}/c.db",
        database_pool_size=3,
        database_max_overflow=4,
        database_pool_timeout=2.5,
    )
    database = Database.from_settings(settings)
    try:
        assert database.url.drivername == "sqlite+aiosqlite"
        assert database.dialect == "sqlite"
        assert len(database.replicas) == 2
        pool: Any = database.engine.pool
        assert (pool.size(), pool._max_overflow, pool._timeout) == (3, 4, 2.5)
    finally:
        asyncio.run(database.close())


async def test_postgres_pool_settings(fresh_postgres_url: str) -> None:
    database = Database(fresh_postgres_url, pool_size=2, max_overflow=1, pool_timeout=3)
    try:
        pool: Any = database.engine.pool
        assert (pool.size(), pool._max_overflow, pool._timeout) == (2, 1, 3)
        assert pool._pre_ping is True and pool._recycle == 1800
        assert await database.ping()
    finally:
        await database.close()


# ----- replicas ----------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def primary_and_replicas(request: pytest.FixtureRequest, tmp_path: Path) -> list[str]:
    if request.param == "sqlite":
        urls = [f"sqlite+aiosqlite:///{tmp_path}/{name}.db" for name in ("p", "r1", "r2")]
    else:  # two distinct PostgreSQL databases stand in for primary and replica
        urls = [
            request.getfixturevalue("fresh_postgres_url"),
            request.getfixturevalue("postgres_url"),
        ]
    for url in urls:
        upgrade(url)
    return urls


async def _names(url: str) -> set[str]:
    database = Database(url)
    try:
        async with database.session() as session:
            return set((await session.scalars(select(Community.name))).all())
    finally:
        await database.close()


async def test_reads_go_to_replicas_and_writes_to_the_primary(
    primary_and_replicas: list[str],
) -> None:
    primary, *replicas = primary_and_replicas
    markers = [f"replica-{uuid.uuid4().hex}" for _ in replicas]
    for url, marker in zip(replicas, markers, strict=True):
        database = Database(url)
        async with database.session() as session:
            session.add(Community(name=marker))
        await database.close()

    routed = Database(primary, replica_urls=replicas)
    try:
        written = f"primary-{uuid.uuid4().hex}"
        async with routed.session() as session:
            session.add(Community(name=written))
        seen = []
        for _ in range(2 * len(replicas)):
            async with routed.read_session() as session:
                names = set((await session.scalars(select(Community.name))).all())
            assert written not in names
            seen.append(next(marker for marker in markers if marker in names))
        assert seen == markers * 2  # round robin over the replicas
        async with routed.session() as session:
            assert await session.scalar(select(Community.id).where(Community.name == written))
    finally:
        await routed.close()

    assert written in await _names(primary)
    for url in replicas:
        assert written not in await _names(url)


async def test_without_replicas_reads_use_the_primary(db: Database) -> None:
    async with db.session() as session:
        session.add(Community(name="only"))
    async with db.read_session() as session:
        assert (await session.scalars(select(Community.name))).all() == ["only"]


# ----- API keys ----------------------------------------------------------------------------


async def _all_stored_text(db: Database) -> str:
    async with db.session() as session:
        keys = (await session.execute(text("SELECT * FROM api_keys"))).all()
        trail = (await session.execute(text("SELECT * FROM audit_log"))).all()
    return repr(keys) + repr(trail)


async def test_api_key_lifecycle(db: Database) -> None:
    info, plaintext = await create_key(db, "ci", scopes=["events:write", "stats"], actor="admin")
    assert plaintext.startswith(f"wbk_{info.key_id}_")
    secret = plaintext.removeprefix(f"wbk_{info.key_id}_")
    assert info.scopes == ("events:write", "stats") and info.allows("stats")
    assert not info.allows("admin")

    verified = await verify_key(db, plaintext)
    assert verified is not None
    assert (verified.id, verified.name, verified.revoked) == (info.id, "ci", False)
    assert verified.last_used_at is not None

    wrong = plaintext[:-4] + ("AAAA" if not plaintext.endswith("AAAA") else "BBBB")
    assert await verify_key(db, wrong) is None
    other_id = "wbk_" + "Z" * 12 + "_" + secret
    assert await verify_key(db, other_id) is None
    for malformed in ("", "wbk_", "nonsense", plaintext + "x", plaintext[:-1], "wbk_" + "a" * 80):
        assert await verify_key(db, malformed) is None
    assert await verify_key(db, None) is None  # type: ignore[arg-type]

    assert await count_keys(db) == 1
    assert await revoke_key(db, info.key_id, actor="admin") is True
    assert await revoke_key(db, info.key_id) is False
    assert await revoke_key(db, "unknown") is False
    assert await verify_key(db, plaintext) is None
    assert await count_keys(db) == 0
    assert await count_keys(db, include_revoked=True) == 1
    [listed] = await list_keys(db)
    assert listed.revoked and listed.key_id == info.key_id

    stored = await _all_stored_text(db)
    assert secret not in stored and plaintext not in stored
    assert apikeys.hash_secret(secret) in stored  # only the hash is kept

    trail = await AuditLog(db).recent()
    assert [(e.action, e.decision, e.target, e.actor) for e in trail] == [
        ("apikey.revoke", "change", info.key_id, "admin"),
        ("apikey.create", "change", info.key_id, "admin"),
    ]


async def test_community_keys_and_validation(db: Database) -> None:
    async with db.session() as session:
        community = Community(name="c")
        session.add(community)
    info, plaintext = await create_key(db, " scoped ", "a, b", community_id=community.id)
    assert (info.name, info.scopes, info.community_id) == ("scoped", ("a", "b"), community.id)
    verified = await verify_key(db, plaintext)
    assert verified is not None and verified.community_id == community.id
    with pytest.raises(ValueError):
        await create_key(db, "")
    with pytest.raises(ValueError):
        await create_key(db, "x", scopes="s" * 201)


async def test_key_verifier_caches_without_plaintext(db: Database) -> None:
    _, plaintext = await create_key(db, "hot")
    key_id = plaintext[4:16]
    verifier = KeyVerifier(db, ttl=60)
    log = StatementLog(db)
    try:
        for _ in range(5):
            assert await verifier.verify(plaintext) is not None
        assert len(log.matching("FROM api_keys")) == 1  # one lookup, then the cache
    finally:
        log.close()
    cache_text = repr(verifier._cache)
    assert plaintext not in cache_text and plaintext[17:] not in cache_text

    await revoke_key(db, key_id)
    assert await verifier.verify(plaintext) is not None  # still cached (bounded by ttl)
    verifier.forget(key_id)
    assert await verifier.verify(plaintext) is None

    short = KeyVerifier(db, ttl=0)
    assert await short.verify(plaintext) is None


async def _set_expiry(db: Database, key_id: str, when: datetime | None) -> None:
    async with db.session() as session:
        await session.execute(
            ApiKey.__table__.update().where(ApiKey.key_id == key_id).values(expires_at=when)
        )


async def test_expired_keys_do_not_verify(db: Database) -> None:
    info, plaintext = await create_key(db, "temp")
    assert info.expires_at is None
    await _set_expiry(db, info.key_id, datetime.now(UTC) - timedelta(seconds=1))
    assert await verify_key(db, plaintext) is None
    later = datetime.now(UTC) + timedelta(hours=1)
    await _set_expiry(db, info.key_id, later)
    verified = await verify_key(db, plaintext)
    assert verified is not None and verified.expires_at == later


async def test_key_verifier_does_not_serve_a_key_past_its_expiry(db: Database) -> None:
    info, plaintext = await create_key(db, "short-lived")
    await _set_expiry(db, info.key_id, datetime.now(UTC) + timedelta(seconds=0.5))
    verifier = KeyVerifier(db, ttl=60)
    assert await verifier.verify(plaintext) is not None
    await asyncio.sleep(0.6)
    assert await verifier.verify(plaintext) is None  # not the cached success


# ----- audit log ---------------------------------------------------------------------------


async def _audit_count(db: Database) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(AuditRow)) or 0)


async def _wait_for(predicate: Any, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_audit_flushes_full_batches_in_one_insert(db: Database) -> None:
    trail = AuditLog(db, flush_interval=60, batch_size=200)
    log = StatementLog(db)
    trail.start()
    try:
        for number in range(200):
            trail.record("command.run", decision="allow", actor=f"u{number}", community_id=1)
        assert trail.pending == 200  # record() only buffers

        async def written() -> bool:
            return await _audit_count(db) == 200

        await _wait_for(written)
        inserts = log.matching("INSERT INTO audit_log")
        assert [rows for _, rows in inserts] == [200]

        for number in range(50):
            trail.record("command.run", decision="deny", target=f"t{number}")
        await asyncio.sleep(0.1)
        assert await _audit_count(db) == 200  # below a batch: waits for the interval
    finally:
        await trail.stop()
        log.close()
    assert await _audit_count(db) == 250
    assert [rows for _, rows in log.matching("INSERT INTO audit_log")] == [200, 50]


async def test_audit_flushes_on_the_interval(db: Database) -> None:
    trail = AuditLog(db, flush_interval=0.05)
    trail.start()
    try:
        trail.record("x", decision="change")

        async def written() -> bool:
            return await _audit_count(db) == 1

        await _wait_for(written, timeout=2)
    finally:
        await trail.stop()


async def test_audit_stop_loses_nothing(db: Database) -> None:
    trail = AuditLog(db, flush_interval=0.2, batch_size=200)
    trail.start()
    for number in range(1234):
        trail.record("flood", decision="allow", session_id=str(number))
        if number % 100 == 0:
            await asyncio.sleep(0)
    await trail.stop()
    assert trail.pending == 0 and trail.dropped == 0
    assert await _audit_count(db) == 1234
    async with db.session() as session:
        ids = set((await session.scalars(select(AuditRow.session_id))).all())
    assert ids == {str(number) for number in range(1234)}


async def test_audit_recent_reads_back(db: Database) -> None:
    trail = AuditLog(db)
    when = datetime.now(UTC)
    trail.record("a", decision="allow", community_id=1, detail={"n": 1, "at": when})
    trail.record("b", decision="deny", community_id=2, actor="x", target="y", session_id="s")
    trail.record("c", decision="change", community_id=1)
    assert await trail.flush() == 3
    assert [e.action for e in await trail.recent()] == ["c", "b", "a"]
    assert [e.action for e in await trail.recent(limit=2)] == ["c", "b"]
    first, second = await trail.recent(community_id=1)
    assert (first.action, second.action) == ("c", "a")
    assert second.detail == {"n": 1, "at": str(when)}  # odd values become strings
    assert second.at.tzinfo == UTC
    [entry] = await trail.recent(community_id=2)
    assert (entry.actor, entry.target, entry.session_id, entry.decision) == ("x", "y", "s", "deny")
    with pytest.raises(ValueError):
        trail.record("bad", decision="maybe")


async def test_audit_write_errors_are_retried_once(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = audit.write_rows
    failures = {"left": 1}

    async def flaky(session: Any, rows: list[dict[str, Any]]) -> None:
        if failures["left"]:
            failures["left"] -= 1
            raise ConnectionError("database went away")
        await real_write(session, rows)

    monkeypatch.setattr(audit, "write_rows", flaky)
    trail = AuditLog(db)
    trail.record("first", decision="allow")
    assert await trail.flush() == 0  # failed, logged, kept for one retry
    trail.record("second", decision="allow")
    assert await trail.flush() == 2
    assert await _audit_count(db) == 2

    failures["left"] = 2
    trail.record("doomed", decision="allow")
    await trail.flush()
    await trail.flush()  # fails again: given up, not retried forever
    assert trail.pending == 0 and trail.dropped == 1
    assert await _audit_count(db) == 2


async def test_audit_stop_retries_a_failed_final_write(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = audit.write_rows
    calls = {"n": 0}

    async def fails_once(session: Any, rows: list[dict[str, Any]]) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("blip")
        await real_write(session, rows)

    monkeypatch.setattr(audit, "write_rows", fails_once)
    trail = AuditLog(db, flush_interval=60)
    trail.start()
    for _ in range(10):
        trail.record("late", decision="allow")
    await trail.stop()
    assert await _audit_count(db) == 10


def test_api_key_table_has_no_secret_column() -> None:
    assert "secret" not in ApiKey.__table__.c and "secret_hash" in ApiKey.__table__.c


async def test_audit_rows_with_nul_characters_are_written(db: Database) -> None:
    trail = AuditLog(db)
    trail.record("before", decision="allow", actor="al")
    trail.record(
        "cmd\x00.run",
        decision="deny",
        actor="mal\x00lory",
        target="\x00bob",
        session_id="s\x001",
        detail={"text": "hi\x00there", "args": ["a\x00", {"k\x00": "\x00v"}]},
    )
    trail.record("after", decision="allow", actor="al")
    assert await trail.flush() == 3  # PostgreSQL refuses NUL: one such row failed all three
    assert trail.dropped == 0
    after, odd, before = await trail.recent()
    assert (before.action, after.action) == ("before", "after")
    assert (odd.action, odd.actor, odd.target, odd.session_id) == (
        "cmd.run",
        "mallory",
        "bob",
        "s1",
    )
    assert odd.detail == {"text": "hithere", "args": ["a", {"k": "v"}]}


async def test_audit_row_the_database_refuses_does_not_lose_its_batch(db: Database) -> None:
    import structlog

    trail = AuditLog(db, flush_interval=60)
    trail.start()
    for number in range(5):
        trail.record("good", decision="allow", actor=f"before{number}")
    trail.record("bad", decision="allow", actor="poison-row-content", community_id=2**70)
    for number in range(5):
        trail.record("good", decision="allow", actor=f"after{number}")
    with structlog.testing.capture_logs() as logs:
        assert await trail.flush() == 10
        await trail.stop()
    assert await _audit_count(db) == 10  # only the row that cannot be stored was lost
    assert (trail.pending, trail.dropped) == (0, 1)
    actors = {entry.actor for entry in await trail.recent()}
    assert actors == {f"before{n}" for n in range(5)} | {f"after{n}" for n in range(5)}
    assert [entry["event"] for entry in logs if entry["log_level"] == "error"] == [
        "audit_row_dropped"
    ]
    assert "poison-row-content" not in repr(logs)  # dropped rows are not logged verbatim


async def test_audit_keeps_rows_for_a_retry_while_the_database_is_down() -> None:
    database = Database("postgresql+asyncpg://postgres@127.0.0.1:1/nowhere", pool_timeout=1)
    try:
        trail = AuditLog(database)
        for number in range(3):
            trail.record("queued", decision="allow", actor=str(number))
        assert await trail.flush() == 0
        assert (trail.pending, trail.dropped) == (3, 0)  # not written one by one and dropped
        assert await trail.flush() == 0
        assert (trail.pending, trail.dropped) == (0, 3)  # the second failure gives up
    finally:
        await database.close()
