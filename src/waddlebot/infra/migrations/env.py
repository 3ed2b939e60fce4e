"""Alembic environment. The database URL comes from ``config.attributes["url"]`` (set by
:mod:`waddlebot.infra.db.migrate`), else ``-x url=...``, else ``WADDLEBOT_DATABASE_URL``.
A caller may also hand over an open connection in ``config.attributes["connection"]``."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from alembic import context
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from waddlebot.features import load_models
from waddlebot.infra.db.engine import async_url, ensure_sqlite_directory
from waddlebot.infra.db.migrate import compare_server_default

config = context.config
metadata = load_models()  # every feature's tables, not only the shared ones


def _url() -> str:
    url = (
        config.attributes.get("url")
        or context.get_x_argument(as_dictionary=True).get("url")
        or os.environ.get("WADDLEBOT_DATABASE_URL")
    )
    if not url:
        raise RuntimeError("no database URL: set WADDLEBOT_DATABASE_URL or pass -x url=...")
    return async_url(url).render_as_string(hide_password=False)


def _configure(**options: Any) -> None:
    context.configure(
        target_metadata=metadata,
        compare_type=True,
        compare_server_default=compare_server_default,
        **options,
    )


def _run(connection: Connection) -> None:
    _configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


async def _run_async(url: str) -> None:
    ensure_sqlite_directory(url)
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
    finally:
        await engine.dispose()


def run_offline() -> None:
    """Emit SQL to stdout instead of running it (``alembic upgrade --sql``)."""
    url = _url()
    _configure(
        url=url,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=url.startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
    else:
        asyncio.run(_run_async(_url()))


if context.is_offline_mode():
    run_offline()
else:
    run_online()
