"""The module store in the database: a :class:`~waddlebot.sdk.store.StoreBackend` for every
module the bot calls, in-process or over HTTP (through the store endpoint).

Concurrency, on PostgreSQL and SQLite alike:

- a write reads the entry, then changes it with ``UPDATE ... WHERE id = :id AND version =
  :read``: when another writer got there first the update matches nothing and the write is
  tried again (or, for a compare-and-set, reported as lost); a new key is an ``INSERT`` the
  unique constraint lets only one writer make;
- ``increment`` is one ``UPDATE ... SET counter = counter + :by ... RETURNING counter`` on a
  key that holds a whole number (PostgreSQL makes a second writer wait on the row, then counts
  on from the first one's result);
- the quota is one conditional ``UPDATE`` of the usage row (``bytes + :grown <= :limit``) in
  the same transaction as the write, so writers in other processes cannot pass it together.

An expired entry reads as absent and is overwritten in place; :meth:`SqlStore.purge_expired`
(a scheduled job) deletes them and gives their bytes back.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Final

import orjson
from sqlalchemy import ColumnElement, and_, delete, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from waddlebot.core.clock import Clock, SystemClock
from waddlebot.features.modulestore.models import ModuleStoreEntry as E
from waddlebot.features.modulestore.models import ModuleStoreUsage as U
from waddlebot.infra.db.engine import Database
from waddlebot.sdk.store import (
    INT64,
    Bucket,
    Entry,
    Limits,
    StoreBusy,
    StoreFull,
    counted,
    encode,
    entry_size,
    expiry,
    is_counter,
)

ATTEMPTS = 50  # of a write that keeps losing to others before it gives up
_LOST: Final = object()  # another writer changed the entry first


def _in(bucket: Bucket) -> ColumnElement[bool]:
    return and_(
        E.module == bucket.module,
        E.community_id == bucket.community_id,
        E.scope == bucket.scope,
        E.scope_id == bucket.scope_id,
    )


class SqlStore:
    def __init__(self, db: Database, limits: Limits | None = None, clock: Clock | None = None):
        self._db = db
        self.limits = limits or Limits()
        self.clock = clock or SystemClock()

    def _live(self) -> ColumnElement[bool]:
        return or_(E.expires_at.is_(None), E.expires_at > self.clock.now())

    # ----- reads -----

    async def read(self, bucket: Bucket, key: str) -> Entry | None:
        async with self._db.session() as session:  # the primary: a compare-and-set follows
            return await self._read_in(session, bucket, key)

    async def _read_in(self, session: AsyncSession, bucket: Bucket, key: str) -> Entry | None:
        row = (
            await session.execute(
                select(E.value, E.counter, E.version).where(_in(bucket), E.key == key, self._live())
            )
        ).one_or_none()
        if row is None:
            return None
        value = row.counter if row.counter is not None else orjson.loads(row.value or "null")
        return Entry(value, row.version)

    async def keys(self, bucket: Bucket, prefix: str) -> list[str]:
        async with self._db.read_session() as session:
            found = await session.scalars(
                select(E.key)
                .where(_in(bucket), E.key.startswith(prefix, autoescape=True), self._live())
                .order_by(E.key)
            )
            return list(found)

    async def used(self, module: str, community_id: int) -> int:
        """Bytes the module keeps in the community (expired entries until purged)."""
        async with self._db.read_session() as session:
            used = await session.scalar(
                select(U.bytes).where(U.module == module, U.community_id == community_id)
            )
        return used or 0

    # ----- writes -----

    async def write(
        self, bucket: Bucket, key: str, value: Any, *, ttl: float | None, version: int | None
    ) -> int | None:
        data = encode(key, value, self.limits)
        value = orjson.loads(data)
        expires = expiry(self.clock, ttl)
        counter = value if is_counter(value) else None
        columns = {
            "value": None if counter is not None else data.decode(),
            "counter": counter,
            "size": entry_size(key, value, data),
            "expires_at": expires,
        }
        for _ in range(ATTEMPTS):
            try:
                async with self._db.session() as session:
                    written = await self._write_once(session, bucket, key, columns, version)
            except IntegrityError:  # another writer made the key first
                written = _LOST
            if written is not _LOST:
                assert isinstance(written, int)
                return written
            if version is not None:
                return None
        raise StoreBusy.of(key)

    async def _write_once(
        self,
        session: AsyncSession,
        bucket: Bucket,
        key: str,
        columns: dict[str, Any],
        expected: int | None,
    ) -> object:
        now = self.clock.now()
        row = (
            await session.execute(
                select(E.id, E.version, E.size, E.expires_at).where(_in(bucket), E.key == key)
            )
        ).one_or_none()
        live = row is not None and (row.expires_at is None or row.expires_at > now)
        if expected is not None and expected != (row.version if live and row else 0):
            return _LOST
        if row is None:
            await session.execute(
                insert(E).values(
                    module=bucket.module,
                    community_id=bucket.community_id,
                    scope=bucket.scope,
                    scope_id=bucket.scope_id,
                    key=key,
                    version=1,
                    updated_at=now,
                    **columns,
                )
            )
            await self._charge(session, bucket, columns["size"])
            return 1
        changed = await session.execute(
            update(E)
            .where(E.id == row.id, E.version == row.version)
            .values(version=row.version + 1, updated_at=now, **columns)
        )
        if changed.rowcount != 1:  # type: ignore[attr-defined]
            return _LOST
        await self._charge(session, bucket, columns["size"] - row.size)
        return row.version + 1

    async def delete(self, bucket: Bucket, key: str) -> bool:
        async with self._db.session() as session:
            row = (
                await session.execute(
                    delete(E).where(_in(bucket), E.key == key).returning(E.size, E.expires_at)
                )
            ).one_or_none()
            if row is None:
                return False
            await self._charge(session, bucket, -row.size)
        return row.expires_at is None or row.expires_at > self.clock.now()

    async def increment(self, bucket: Bucket, key: str, by: int) -> int:
        low, high = max(INT64[0], INT64[0] - by), min(INT64[1], INT64[1] - by)
        for _ in range(ATTEMPTS):
            try:
                async with self._db.session() as session:
                    total = await session.scalar(
                        update(E)
                        .where(
                            _in(bucket),
                            E.key == key,
                            self._live(),
                            E.counter.is_not(None),
                            E.counter.between(low, high),
                        )
                        .values(counter=E.counter + by, version=E.version + 1)
                        .returning(E.counter)
                    )
                    if total is not None:
                        return int(total)
                    # absent, expired, no whole number, or past the range: see which
                    current = await self._read_in(session, bucket, key)
                    total = counted(key, None if current is None else current.value, by)
                    if current is not None:
                        continue  # a whole number someone wrote a moment ago: count on it
            except IntegrityError:
                continue
            written = await self.write(bucket, key, total, ttl=None, version=0)
            if written is not None:
                return total
        raise StoreBusy.of(key)

    async def _charge(self, session: AsyncSession, bucket: Bucket, grown: int) -> None:
        """Count ``grown`` bytes more (or fewer) for the module in the community;
        :class:`StoreFull` (the transaction rolls back) past the quota."""
        if grown == 0:
            return
        where = [U.module == bucket.module, U.community_id == bucket.community_id]
        if grown < 0:
            await session.execute(update(U).where(*where).values(bytes=U.bytes + grown))
            return
        charge = (
            update(U)
            .where(*where, U.bytes + grown <= self.limits.total_bytes)
            .values(bytes=U.bytes + grown)
        )
        for _ in range(2):
            if (await session.execute(charge)).rowcount == 1:  # type: ignore[attr-defined]
                return
            if await session.scalar(select(U.bytes).where(*where)) is not None:
                break  # there is a row, and no room in it
            await session.execute(self._usage_row(bucket))
        raise StoreFull.of(bucket.module, self.limits.total_bytes)

    def _usage_row(self, bucket: Bucket) -> Any:
        make = pg_insert if self._db.dialect == "postgresql" else sqlite_insert
        return (
            make(U)
            .values(module=bucket.module, community_id=bucket.community_id, bytes=0)
            .on_conflict_do_nothing()
        )

    # ----- upkeep -----

    async def purge_expired(self) -> int:
        """Delete the expired entries and give their bytes back; how many there were."""
        async with self._db.session() as session:
            gone = (
                await session.execute(
                    delete(E)
                    .where(E.expires_at.is_not(None), E.expires_at <= self.clock.now())
                    .returning(E.module, E.community_id, E.size)
                )
            ).all()
            freed: Counter[tuple[str, int]] = Counter()
            for module, community_id, size in gone:
                freed[module, community_id] += size
            for (module, community_id), size in sorted(freed.items()):
                await session.execute(
                    update(U)
                    .where(U.module == module, U.community_id == community_id)
                    .values(bytes=U.bytes - size)
                )
        return len(gone)

    async def purge(self, module: str, community_id: int) -> None:
        """Forget everything ``module`` keeps in the community (``!module uninstall --purge``)."""
        async with self._db.session() as session:
            await session.execute(
                delete(E).where(E.module == module, E.community_id == community_id)
            )
            await session.execute(
                delete(U).where(U.module == module, U.community_id == community_id)
            )
