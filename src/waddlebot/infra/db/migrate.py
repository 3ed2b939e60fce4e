"""Schema migrations, driven from code: no ``alembic.ini`` is needed on disk.

The synchronous functions suit the CLI; they run their own event loop (or, when called from
inside a running loop, a worker thread with its own loop). The ``*_async`` variants are for
code that is already async.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from waddlebot.infra.db.engine import async_url, ensure_sqlite_directory

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"

T = TypeVar("T")


def make_config(url: str | None = None) -> Config:
    """An alembic config pointing at the packaged migrations (and at ``url`` if given)."""
    config = Config()
    # configparser interpolates "%": escape it in case the install path contains one
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    if url is not None:
        config.attributes["url"] = async_url(url).render_as_string(hide_password=False)
    return config


def compare_server_default(
    context: MigrationContext,
    inspected_column: Any,
    metadata_column: Any,
    inspected_default: str | None,
    metadata_default: Any,
    rendered_metadata_default: str | None,
) -> bool | None:
    """Server-default comparison for autogenerate (``compare_server_default=``).

    alembic's SQLite comparison reports a false difference for an empty-string default
    (reflected as ``('')``, rendered as nothing); that case is settled here as equal and
    everything else is left to alembic (None).
    """
    if rendered_metadata_default == "" and inspected_default in ("''", "('')"):
        return False
    return None


def head_revision() -> str:
    """The newest revision the packaged migrations know."""
    head = ScriptDirectory.from_config(make_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIR}")
    return head


def known_revision(revision: str) -> bool:
    """Whether the packaged migrations have ``revision`` (an older WaddleBot's database has
    one they know; a newer one's may not)."""
    from alembic.util import CommandError

    try:
        return ScriptDirectory.from_config(make_config()).get_revision(revision) is not None
    except CommandError:
        return False


async def _on_connection(url: str, work: Callable[[Connection], T]) -> T:
    """Run ``work`` on a sync view of one async connection, in one committed transaction."""
    ensure_sqlite_directory(url)
    engine = create_async_engine(async_url(url), poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            return await connection.run_sync(work)
    finally:
        await engine.dispose()


def _alembic(url: str, operation: Callable[[Config], None]) -> Callable[[Connection], None]:
    def work(connection: Connection) -> None:
        config = make_config(url)
        config.attributes["connection"] = connection  # env.py reuses it
        operation(config)

    return work


async def upgrade_async(url: str, revision: str = "head") -> None:
    await _on_connection(url, _alembic(url, lambda config: command.upgrade(config, revision)))


async def downgrade_async(url: str, revision: str = "-1") -> None:
    """Step back to ``revision``: relative (``-1``), an id, or ``base`` (an empty schema)."""
    await _on_connection(url, _alembic(url, lambda config: command.downgrade(config, revision)))


async def current_async(url: str) -> str | None:
    def read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    return await _on_connection(url, read)


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    # called from async code: asyncio.run would refuse, so use a loop in another thread
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at ``url`` up to ``revision`` (the newest by default)."""
    _run(upgrade_async(url, revision))


def downgrade(url: str, revision: str = "-1") -> None:
    """Migrate down to ``revision``: ``-1`` (one step, the default), an id, or ``base``."""
    _run(downgrade_async(url, revision))


def current(url: str) -> str | None:
    """The revision the database is at; None when it has no schema yet (or is at base)."""
    return _run(current_async(url))
