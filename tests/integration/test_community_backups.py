"""Scheduled community backups on both databases: each community (or those configured) is
exported to the object store once per interval, the newest few kept, a failing one reported
without stopping the rest; a running bot's scheduler runs the job; and the command line lists
a community's backups and restores one, from a local folder and from S3 (moto's server on
loopback, the real aiobotocore client)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from prometheus_client import REGISTRY

from tests.integration.test_community_archive import (
    IMAGE,
    other_db_url,  # noqa: F401 (a fixture)
    seed,
    seed_at,
    upload_media,
)
from tests.support.cli import invoke
from tests.support.media_files import MP3
from tests.support.s3 import S3Endpoint, fake_aws_credentials, make_bucket, moto_s3
from waddlebot.core.clock import ManualClock
from waddlebot.features.community.archive import decode
from waddlebot.features.community.backups import Backups, list_backups
from waddlebot.features.community.settings import BackupSettings
from waddlebot.features.overlay.media import MediaLibrary
from waddlebot.features.overlay.settings import OverlaySettings
from waddlebot.infra.db.engine import Database
from waddlebot.infra.db.models import Community
from waddlebot.infra.objects import LocalObjectStore, ObjectStore
from waddlebot.infra.objects_s3 import S3ObjectStore
from waddlebot.runtime import Runtime
from waddlebot.settings import Settings

START = datetime(2026, 3, 1, 3, 0, tzinfo=UTC)


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = Database(db_url)
    try:
        yield database
    finally:
        await database.close()


def backups(db: Database, store: ObjectStore, clock: ManualClock, **settings: object) -> Backups:
    own = BackupSettings.model_validate({"backups": True, **settings})
    return Backups(db, store, MediaLibrary(store, OverlaySettings()), own, clock)


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def kept(store: ObjectStore, community_id: int) -> list[datetime]:
    return [backup.taken_at for backup in await list_backups(store, community_id)]


async def test_each_community_once_per_interval_the_newest_kept(
    db: Database, tmp_path: Path
) -> None:
    cid = await seed(db)  # and a second community, "Other"
    other = cid + 1
    store = LocalObjectStore(tmp_path / "objects")
    await upload_media(db, store, cid)
    clock = ManualClock(START)
    job = backups(db, store, clock, backup_interval_hours=6, backup_keep=2)
    assert await job.run_due() == 2
    assert await job.run_due() == 0  # nothing is due yet
    clock.advance(hours=5)
    assert await job.run_due() == 0
    assert metric("waddlebot_backup_complete_timestamp_seconds") == START.timestamp()
    assert metric("waddlebot_backup_interval_seconds") == 6 * 3600
    clock.advance(hours=1)
    assert await job.run_due() == 2
    clock.advance(hours=6)
    assert await job.run_due() == 2
    latest = START + timedelta(hours=12)
    assert await kept(store, cid) == [START + timedelta(hours=6), latest]
    assert await kept(store, other) == [START + timedelta(hours=6), latest]
    assert metric("waddlebot_backup_complete_timestamp_seconds") == latest.timestamp()
    newest = (await list_backups(store, cid))[-1]
    document = decode((await store.get(newest.key)).data)
    assert document["community"]["name"] == "Penguins"
    assert {m["size"] for m in document["media"]} == {len(IMAGE), len(MP3)}

    # a new process (or the lease moving) reads what is due from the store: nothing yet
    again = backups(db, store, clock, backup_interval_hours=6, backup_keep=2)
    assert await again.run_due() == 0


async def test_only_the_configured_communities_and_a_failing_one_is_counted(
    db: Database, tmp_path: Path
) -> None:
    cid = await seed(db)
    store = LocalObjectStore(tmp_path / "objects")
    clock = ManualClock(START)
    failed = metric("waddlebot_backups_total", outcome="failed")
    done = metric("waddlebot_backups_total", outcome="done")
    job = backups(db, store, clock, backup_communities="404, " + str(cid))
    assert await job.run_due() == 1
    assert await kept(store, cid) == [START]
    assert await kept(store, cid + 1) == []  # not configured
    assert metric("waddlebot_backups_total", outcome="failed") == failed + 1
    assert metric("waddlebot_backups_total", outcome="done") == done + 1
    # a community never backed up holds the "every community has one by" time at 0
    assert metric("waddlebot_backup_complete_timestamp_seconds") == 0


def test_settings_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WADDLEBOT_BACKUPS", "true")
    monkeypatch.setenv("WADDLEBOT_BACKUP_COMMUNITIES", "3,4")
    monkeypatch.setenv("WADDLEBOT_BACKUP_KEEP", "3")
    own = Settings().section(BackupSettings)
    assert (own.backups, own.backup_communities, own.backup_keep) == (True, [3, 4], 3)
    assert not Settings.model_fields["backups"].default


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(
        update={"backups": True, "object_store_dir": str(tmp_path / "objects")}
    )


async def test_a_running_bot_backs_communities_up(runtime: Runtime, tmp_path: Path) -> None:
    await runtime.scheduler.stop()  # the test ticks by hand
    async with runtime.db.session() as s:
        community = Community(name="Ticked")
        s.add(community)
    # past the job's next check, however far its first run got before the scheduler stopped
    runtime.scheduler.clock = ManualClock(datetime.now(UTC) + timedelta(minutes=6))
    assert await runtime.scheduler.tick()
    store = LocalObjectStore(tmp_path / "objects")
    assert len(await kept(store, community.id)) == 1


# --- the command line --------------------------------------------------------------------


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[S3Endpoint]:
    with moto_s3() as endpoint:
        yield endpoint


async def back_up_at(url: str, store: ObjectStore, clock: ManualClock) -> None:
    database = Database(url)
    try:
        await backups(database, store, clock).run_due()
    finally:
        await database.close()
        await store.close()


def test_cli_lists_and_restores_from_the_local_store(
    db_url: str,
    other_db_url: str,  # noqa: F811 (the fixture)
    tmp_path: Path,
) -> None:
    cid = asyncio.run(seed_at(db_url))
    store = LocalObjectStore(tmp_path / "data" / "objects")
    clock = ManualClock(START)
    asyncio.run(back_up_at(db_url, store, clock))
    clock.advance(days=1)
    asyncio.run(back_up_at(db_url, store, clock))
    env = {"WADDLEBOT_DATA_DIR": str(tmp_path / "data"), "WADDLEBOT_AUTO_MIGRATE": "false"}

    listed = invoke(
        ["community", "backups", str(cid)], env={**env, "WADDLEBOT_DATABASE_URL": db_url}
    )
    assert listed.exit_code == 0, listed.output
    lines = listed.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["20260301T030000Z", "20260302T030000Z"]
    assert "2026-03-02 03:00:00 UTC" in lines[1]
    as_json = invoke(
        ["community", "backups", str(cid), "--json"], env={**env, "WADDLEBOT_DATABASE_URL": db_url}
    )
    assert orjson.loads(as_json.stdout)[0]["url"].startswith("file://")

    target = {**env, "WADDLEBOT_DATABASE_URL": other_db_url}
    missing = invoke(
        ["community", "backups", str(cid), "--restore", "20250101T000000Z"], env=target
    )
    assert missing.exit_code == 1
    assert f"waddlebot community backups {cid}` lists them" in missing.stderr
    restored = invoke(
        ["community", "backups", str(cid), "--restore", "latest", "--json"], env=target
    )
    assert restored.exit_code == 0, restored.output
    assert orjson.loads(restored.stdout)["community_id"] == cid
    nothing = invoke(["community", "backups", "404"], env=target)
    assert nothing.exit_code == 0
    assert "No backups of community 404" in nothing.stdout


def test_cli_restores_a_backup_from_s3(
    db_url: str,
    other_db_url: str,  # noqa: F811 (the fixture)
    s3_endpoint: S3Endpoint,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cid = asyncio.run(seed_at(db_url))
    fake_aws_credentials(monkeypatch, tmp_path)
    bucket = asyncio.run(make_bucket(s3_endpoint))
    store = S3ObjectStore(
        bucket, prefix="wb", region=s3_endpoint.region, endpoint_url=s3_endpoint.url
    )
    asyncio.run(back_up_at(db_url, store, ManualClock(START)))
    env = {
        "WADDLEBOT_OBJECT_STORE": "s3",
        "WADDLEBOT_OBJECT_STORE_BUCKET": bucket,
        "WADDLEBOT_OBJECT_STORE_PREFIX": "wb",
        "WADDLEBOT_OBJECT_STORE_REGION": s3_endpoint.region,
        "WADDLEBOT_OBJECT_STORE_ENDPOINT_URL": s3_endpoint.url,
        "WADDLEBOT_DATA_DIR": str(tmp_path),
        "WADDLEBOT_DATABASE_URL": other_db_url,
        "WADDLEBOT_AUTO_MIGRATE": "false",
    }
    listed = invoke(["community", "backups", str(cid), "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    assert orjson.loads(listed.stdout)[0]["url"] == (
        f"s3://{bucket}/wb/backups/community-{cid}/20260301T030000Z.json"
    )
    restored = invoke(
        ["community", "backups", str(cid), "--restore", "20260301T030000Z.json"], env=env
    )
    assert restored.exit_code == 0, restored.output
    assert f"Imported community {cid}:" in restored.stdout
