from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.harness import make_settings
from waddlebot.infra.db.migrate import upgrade
from waddlebot.runtime import Runtime
from waddlebot.settings import Settings


@pytest.fixture(params=["embedded", "distributed"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def migrated_sqlite_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite database migrated once for this session, which tests copy."""
    path = tmp_path_factory.mktemp("migrated") / "waddlebot.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture
def migrated_sqlite_url(migrated_sqlite_file: Path, tmp_path: Path) -> str:
    """An SQLite database for one test (``tmp_path/waddlebot.db``), its tables made by every
    migration."""
    shutil.copyfile(migrated_sqlite_file, tmp_path / "waddlebot.db")
    return f"sqlite+aiosqlite:///{tmp_path}/waddlebot.db"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    """A migrated, empty database: an SQLite file or a PostgreSQL database of its own."""
    name = "migrated_sqlite_url" if request.param == "sqlite" else "migrated_postgres_url"
    return str(request.getfixturevalue(name))


@pytest.fixture
def settings(mode: str, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """Settings for one whole WaddleBot: SQLite and in-process ports, or PostgreSQL and Redis."""
    if mode == "embedded":
        return make_settings(
            database_url=request.getfixturevalue("migrated_sqlite_url"), data_dir=str(tmp_path)
        )
    return make_settings(
        database_url=request.getfixturevalue("migrated_postgres_url"),
        redis_url=request.getfixturevalue("redis_url"),
        stream_prefix=request.getfixturevalue("key_prefix"),
        auto_migrate=True,
        data_dir=str(tmp_path),
    )


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    rt = await Runtime.start(settings)
    try:
        yield rt
    finally:
        await rt.stop()
