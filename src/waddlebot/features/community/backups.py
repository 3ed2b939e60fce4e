"""Scheduled backups: every community (or those configured) exported to the object store as
``backups/community-<id>/<UTC time>.json`` once per interval, the newest few kept
(``WADDLEBOT_BACKUP*``, docs/operations.md#backups). ``waddlebot community backups ID`` lists
them and restores one through the same import as ``waddlebot community import``.

When a community is due is read from the store (the time in its newest backup's key), not
kept in memory: a restart, or the scheduler's lease moving to another process, neither skips
a backup nor takes one early. Two processes overlapping on the lease write the same key or
two keys a second apart; the extra one is pruned with the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import select

from waddlebot.core.clock import Clock, SystemClock
from waddlebot.features.community.archive import (
    CONTENT_TYPE,
    encode,
    export_community,
    object_key,
    time_of,
)
from waddlebot.features.community.settings import BackupSettings
from waddlebot.features.overlay.media import MediaLibrary
from waddlebot.infra import metrics
from waddlebot.infra.db.engine import Database
from waddlebot.infra.db.models import Community
from waddlebot.infra.objects import ObjectStore

log = structlog.get_logger("waddlebot.backups")

FOLDER = "backups"
NEVER = datetime(1970, 1, 1, tzinfo=UTC)  # a community without a backup holds the gauge at 0


@dataclass(frozen=True, slots=True)
class Backup:
    name: str  # the key's last part without .json: what the command line takes
    key: str
    taken_at: datetime
    size: int


async def list_backups(store: ObjectStore, community_id: int | None = None) -> list[Backup]:
    """The backups of one community (or of all), oldest first."""
    prefix = f"{FOLDER}/" if community_id is None else f"{FOLDER}/community-{community_id}/"
    found = []
    for info in await store.list(prefix):
        taken_at = time_of(info.key)
        if taken_at is not None:
            name = info.key.rpartition("/")[2].removesuffix(".json")
            found.append(Backup(name, info.key, taken_at, info.size))
    return sorted(found, key=lambda backup: (backup.taken_at, backup.key))


def _community_of(backup: Backup) -> int | None:
    folder = backup.key.split("/")[1]
    number = folder.removeprefix("community-")
    return int(number) if number.isdigit() else None


class Backups:
    def __init__(
        self,
        db: Database,
        store: ObjectStore,
        media: MediaLibrary,
        settings: BackupSettings,
        clock: Clock | None = None,
    ) -> None:
        self._db = db
        self._store = store
        self._media = media
        self._settings = settings
        self._clock = clock or SystemClock()

    @property
    def interval(self) -> timedelta:
        return timedelta(hours=self._settings.backup_interval_hours)

    async def run_due(self) -> int:
        """Back up each community whose newest backup is an interval old (or that has none),
        then prune its old ones; returns how many were backed up."""
        now = self._clock.now()
        metrics.BACKUP_INTERVAL.set(self.interval.total_seconds())
        newest: dict[int, datetime] = {}
        for backup in await list_backups(self._store):
            community_id = _community_of(backup)
            if community_id is not None:
                newest[community_id] = backup.taken_at
        done = 0
        complete: list[datetime] = []
        for community_id in await self._wanted():
            last = newest.get(community_id)
            due = last is None or now - last >= self.interval
            if due and await self._back_up(community_id, now):
                last = now
                done += 1
            complete.append(last or NEVER)
        if complete:
            metrics.BACKUP_NEWEST.set(min(complete).timestamp())
        return done

    async def _wanted(self) -> list[int]:
        if self._settings.backup_communities:
            return list(self._settings.backup_communities)
        async with self._db.read_session() as session:
            return list(await session.scalars(select(Community.id).order_by(Community.id)))

    async def _back_up(self, community_id: int, now: datetime) -> bool:
        try:
            document = await export_community(self._db, community_id, self._media)
            key = object_key(FOLDER, community_id, now)
            await self._store.put(key, encode(document), CONTENT_TYPE)
            await self._prune(community_id)
        except Exception as exc:  # one community's failure must not stop the others' backups
            metrics.BACKUPS.labels("failed").inc()
            log.warning("backup failed", community_id=community_id, error=str(exc))
            return False
        metrics.BACKUPS.labels("done").inc()
        log.info("backed up", community_id=community_id, key=key)
        return True

    async def _prune(self, community_id: int) -> None:
        kept = await list_backups(self._store, community_id)
        for backup in kept[: -self._settings.backup_keep]:
            await self._store.delete(backup.key)
