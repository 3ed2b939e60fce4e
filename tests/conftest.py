"""Shared fixtures. Real PostgreSQL and Redis are required: a missing service fails the run
(it is never skipped), because the distributed half of the suite is the point."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator

import pytest

PG_ADMIN_URL = os.environ.get(
    "WADDLEBOT_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("WADDLEBOT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _pg_dsn(database: str) -> str:
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    return f"{base}/{database}"


async def _pg_admin(sql: str) -> None:
    import asyncpg

    try:
        conn = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
    except Exception as exc:  # a missing service is a failure, not a skip
        pytest.fail(f"PostgreSQL is required at {PG_ADMIN_URL}: {exc}", pytrace=False)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def temporary_database(name_prefix: str, template: str = "") -> Iterator[str]:
    """A new PostgreSQL database, empty or a copy of the database named ``template``."""
    name = f"{name_prefix}_{uuid.uuid4().hex[:10]}"
    copied = f' TEMPLATE "{template}"' if template else ""
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"{copied}'))
    try:
        yield _pg_dsn(name).replace("postgresql://", "postgresql+asyncpg://", 1)
    finally:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """An empty PostgreSQL database for this test session, as an SQLAlchemy asyncpg URL."""
    yield from temporary_database("waddlebot_test")


@pytest.fixture
def fresh_postgres_url() -> Iterator[str]:
    """An empty PostgreSQL database for one test."""
    yield from temporary_database("waddlebot_t")


@pytest.fixture(scope="session")
def migrated_template() -> Iterator[str]:
    """The name of a PostgreSQL database migrated once for this session, which
    ``migrated_postgres_url`` copies (copying is faster than migrating each one); nothing
    stays connected to it, as PostgreSQL requires of a template."""
    from waddlebot.infra.db.migrate import upgrade

    for url in temporary_database("waddlebot_tpl"):
        upgrade(url)
        yield url.rpartition("/")[2]


@pytest.fixture
def migrated_postgres_url(migrated_template: str) -> Iterator[str]:
    """A PostgreSQL database for one test, its tables made by every migration."""
    yield from temporary_database("waddlebot_t", template=migrated_template)


@pytest.fixture(scope="session")
def redis_url() -> str:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=5)
    try:
        client.ping()
    except Exception as exc:
        pytest.fail(f"Redis is required at {REDIS_URL}: {exc}", pytrace=False)
    finally:
        client.close()
    return REDIS_URL


def temporary_key_prefix(redis_url: str) -> Iterator[str]:
    import redis

    prefix = f"wbtest-{uuid.uuid4().hex[:10]}"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture
def key_prefix(redis_url: str) -> Iterator[str]:
    """A Redis key prefix unique to one test; its keys are deleted afterwards."""
    yield from temporary_key_prefix(redis_url)


@pytest.fixture(scope="module")
def module_key_prefix(redis_url: str) -> Iterator[str]:
    """A Redis key prefix for the tests of one module; its keys are deleted afterwards."""
    yield from temporary_key_prefix(redis_url)


@pytest.fixture(scope="module")
def module_postgres_url() -> Iterator[str]:
    """An empty PostgreSQL database for the tests of one module."""
    yield from temporary_database("waddlebot_m")


@pytest.fixture
def sqlite_url(tmp_path: object) -> str:
    return f"sqlite+aiosqlite:///{tmp_path}/waddlebot.db"
