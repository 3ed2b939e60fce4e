"""Settings for one WaddleBot shared by the tests of a module (one start per backend):
SQLite and in-process ports, or PostgreSQL and Redis."""

from __future__ import annotations

import pytest

from tests.support.harness import make_settings
from waddlebot.settings import Settings


def module_settings(request: pytest.FixtureRequest, mode: str, **overrides: object) -> Settings:
    """For a module-scoped fixture; ``mode``: ``embedded`` or ``distributed``."""
    factory: pytest.TempPathFactory = request.getfixturevalue("tmp_path_factory")
    data_dir = factory.mktemp(mode)
    if mode == "embedded":
        return make_settings(
            database_url=f"sqlite+aiosqlite:///{data_dir}/waddlebot.db",
            data_dir=str(data_dir),
            **overrides,
        )
    return make_settings(
        database_url=request.getfixturevalue("module_postgres_url"),
        redis_url=request.getfixturevalue("redis_url"),
        stream_prefix=request.getfixturevalue("module_key_prefix"),
        auto_migrate=True,
        data_dir=str(data_dir),
        **overrides,
    )
