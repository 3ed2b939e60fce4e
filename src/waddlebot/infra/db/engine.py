"""Async engines and sessions: one primary for writes, optional read replicas for reads."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

_ASYNC_DRIVERS = {"postgresql": "postgresql+asyncpg", "sqlite": "sqlite+aiosqlite"}

_SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",  # readers never block the writer
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=5000",  # wait for the write lock instead of failing at once
    "PRAGMA synchronous=NORMAL",  # safe with WAL, much faster than FULL
)


class DatabaseSettings(Protocol):
    """The fields of :class:`waddlebot.settings.Settings` the database needs."""

    database_url: str
    database_replica_urls: list[str]
    database_pool_size: int
    database_max_overflow: int
    database_pool_timeout: float
    database_echo: bool


def async_url(url: str | URL) -> URL:
    """The URL with an async driver: ``postgresql://`` becomes ``postgresql+asyncpg://`` and
    ``sqlite://`` becomes ``sqlite+aiosqlite://``; explicit drivers are kept."""
    parsed = make_url(url)
    if parsed.drivername in _ASYNC_DRIVERS:
        parsed = parsed.set(drivername=_ASYNC_DRIVERS[parsed.drivername])
    return parsed


def sqlite_file(url: str | URL) -> Path | None:
    """The database file of an SQLite URL; None for other databases and in-memory SQLite."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database)


def ensure_sqlite_directory(url: str | URL) -> None:
    """Create the directory an SQLite database file lives in (SQLite will not)."""
    path = sqlite_file(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)


def _set_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        for pragma in _SQLITE_PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()


def build_engine(
    url: str | URL,
    *,
    pool_size: int = 10,
    max_overflow: int = 20,
    pool_timeout: float = 10.0,
    echo: bool = False,
) -> AsyncEngine:
    """An async engine configured for its backend (pool, SQLite pragmas)."""
    parsed = async_url(url)
    options: dict[str, Any] = {"echo": echo}
    if parsed.get_backend_name() == "sqlite":
        ensure_sqlite_directory(parsed)
        if sqlite_file(parsed) is not None:  # in-memory SQLite keeps its single static conn
            options.update(
                pool_size=pool_size, max_overflow=max_overflow, pool_timeout=pool_timeout
            )
        engine = create_async_engine(parsed, **options)
        event.listen(engine.sync_engine, "connect", _set_sqlite_pragmas)
        return engine
    options.update(
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout,
        pool_pre_ping=True,  # a connection the server closed is replaced, not handed out
        pool_recycle=1800,  # and none lives past proxies' and servers' idle limits
    )
    return create_async_engine(parsed, **options)


class Database:
    """The primary engine (all writes, and reads that must see them) and any replicas.

    ``session()`` runs a unit of work on the primary and commits it; ``read_session()`` is
    for reads that tolerate replication lag and goes to the replicas in turn.
    """

    def __init__(
        self,
        url: str,
        *,
        replica_urls: Sequence[str] = (),
        pool_size: int = 10,
        max_overflow: int = 20,
        pool_timeout: float = 10.0,
        echo: bool = False,
    ) -> None:
        options: dict[str, Any] = {
            "pool_size": pool_size,
            "max_overflow": max_overflow,
            "pool_timeout": pool_timeout,
            "echo": echo,
        }
        self.url = async_url(url)
        self.engine = build_engine(url, **options)
        self.replicas = [build_engine(replica, **options) for replica in replica_urls]
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._replica_sessions = itertools.cycle(
            [async_sessionmaker(replica, expire_on_commit=False) for replica in self.replicas]
            or [self._sessions]
        )

    @classmethod
    def from_settings(cls, settings: DatabaseSettings) -> Database:
        return cls(
            settings.database_url,
            replica_urls=settings.database_replica_urls,
            pool_size=settings.database_pool_size,
            max_overflow=settings.database_max_overflow,
            pool_timeout=settings.database_pool_timeout,
            echo=settings.database_echo,
        )

    @property
    def dialect(self) -> str:
        """``postgresql`` or ``sqlite``."""
        return self.engine.dialect.name

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session on the primary: committed when the block ends, rolled back on error."""
        async with self._sessions() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    @asynccontextmanager
    async def read_session(self) -> AsyncIterator[AsyncSession]:
        """A session for reads that tolerate lag: the next replica, or the primary.

        Nothing is committed; closing the session ends its transaction and leaves the objects
        it loaded usable (detached, not expired)."""
        async with next(self._replica_sessions)() as session:
            yield session

    async def ping(self) -> bool:
        """True when the primary and every replica answer a query."""
        try:
            await self.check()
        except Exception:
            return False
        return True

    async def check(self) -> None:
        """Query the primary and every replica; raises the first one's error."""
        for engine in (self.engine, *self.replicas):
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))

    async def close(self) -> None:
        for engine in (self.engine, *self.replicas):
            await engine.dispose()
