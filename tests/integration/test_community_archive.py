"""Community export and import on both databases: a community with data in every exported
table goes out as one document and comes back whole, into a fresh database (same ids) and
as a copy in the same one, its overlay media with it (within the quota of where it lands);
and an export through the command line lands in S3 (moto's server on loopback, the real
aiobotocore client) and in a file, and is imported back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select

from tests.conftest import temporary_database
from tests.support.cli import invoke
from tests.support.media_files import MP3, png
from tests.support.s3 import S3Endpoint, fake_aws_credentials, make_bucket, moto_s3
from waddlebot.features.alias.models import Alias
from waddlebot.features.calendar.models import CalendarAttendee, CalendarEvent, CalendarFeed
from waddlebot.features.commands.models import Counter, CustomCommand
from waddlebot.features.community.archive import (
    FORMAT,
    LEFT_OUT,
    PARTS,
    VERSION,
    ArchiveRefused,
    decode,
    encode,
    export_community,
    import_community,
)
from waddlebot.features.identity.models import ApiKey
from waddlebot.features.inventory.models import (
    InventoryCheckout,
    InventoryItem,
    InventoryItemLabel,
)
from waddlebot.features.labels.models import Label, LabelAssignment
from waddlebot.features.marketplace.models import CommunityModule
from waddlebot.features.memories.models import (
    MemoryCounter,
    Note,
    NoteLabel,
    Quote,
    Reminder,
    SavedUrl,
)
from waddlebot.features.overlay.media import MediaLibrary
from waddlebot.features.overlay.models import OverlayToken
from waddlebot.features.overlay.settings import OverlaySettings
from waddlebot.features.timers.models import Timer
from waddlebot.infra.audit import AuditLog
from waddlebot.infra.db.engine import Database
from waddlebot.infra.db.migrate import upgrade
from waddlebot.infra.db.models import (
    Community,
    Entity,
    Identity,
    Membership,
    ModuleSetting,
    PlatformToken,
    User,
)
from waddlebot.infra.objects import LocalObjectStore, ObjectStore
from waddlebot.infra.objects_s3 import S3ObjectStore

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
IMAGE = png(padding=700)  # with the sound, over the smallest quota a community may have


@pytest.fixture
def other_db_url(db_url: str, tmp_path: Path) -> Iterator[str]:
    """A second migrated, empty database of the same kind as ``db_url``."""
    if db_url.startswith("sqlite"):
        url = f"sqlite+aiosqlite:///{tmp_path}/other.db"
        upgrade(url)
        yield url
        return
    for url in temporary_database("waddlebot_t"):
        upgrade(url)
        yield url


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = Database(db_url)
    try:
        yield database
    finally:
        await database.close()


async def seed(db: Database) -> int:
    """A community with rows in every exported table, secrets beside them, and a second
    community whose rows must stay out of the export."""
    async with db.session() as s:
        community = Community(name="Penguins", prefix="?", timezone="Europe/Berlin")
        community.settings = {"welcome": "hi", "limits": {"labels": 5}}
        other = Community(name="Other")
        s.add_all([community, other])
        await s.flush()
        cid = community.id
        alice, bob = User(display_name="Alice"), User(display_name="Bob")
        s.add_all([alice, bob])
        await s.flush()
        s.add_all(
            [
                Identity(user_id=alice.id, platform="twitch", platform_user_id="11", login="al"),
                Identity(user_id=alice.id, platform="discord", platform_user_id="d11"),
                Identity(user_id=bob.id, platform="twitch", platform_user_id="22", login="bob"),
                Entity(id="twitch:1337", community_id=cid, platform="twitch", channel_id="1337"),
                Entity(id="twitch:9", community_id=other.id, platform="twitch", channel_id="9"),
                Membership(community_id=cid, user_id=alice.id, role="owner"),
                Membership(community_id=cid, user_id=bob.id, role="moderator"),
                Membership(community_id=other.id, user_id=bob.id, role="member"),
                ModuleSetting(community_id=cid, module="quotes", enabled=False, config={"a": 1}),
                CommunityModule(community_id=cid, module="dice", grants=["chat"], config={"n": 6}),
                CustomCommand(community_id=cid, name="hello", response="Hi $(user)!", count=4),
                CustomCommand(community_id=other.id, name="secretive", response="no"),
                Counter(community_id=cid, name="deaths", value=7),
                Alias(community_id=cid, name="so", expansion="shoutout $1", forced=True),
                MemoryCounter(community_id=cid, kind="quote", last_number=3),
                ApiKey(name="k", key_id="kid1", secret_hash="h" * 64, community_id=cid),
                OverlayToken(community_id=cid, token_hash="t" * 64, token_sealed="sealed"),
                CalendarFeed(community_id=cid, token_hash="f" * 64),
                PlatformToken(
                    platform="twitch",
                    account_id="1337",
                    purpose="broadcaster",
                    community_id=cid,
                    access_token="sealed-access",
                ),
            ]
        )
        await s.flush()
        timer = Timer(
            community_id=cid,
            entity_id="twitch:1337",
            name="discord",
            message="Join us",
            interval_minutes=15,
            next_run_at=NOW,
        )
        quote = Quote(
            community_id=cid,
            number=3,
            text="Noot noot",
            said_by="Alice",
            said_by_user_id=alice.id,
            added_by_user_id=bob.id,
        )
        url = SavedUrl(community_id=cid, number=1, url="https://example.org", title="ex")
        note = Note(community_id=cid, number=1, text="buy fish", added_by_user_id=alice.id)
        item = InventoryItem(
            community_id=cid,
            name="Camera",
            name_key="camera",
            holder_user_id=bob.id,
            checked_out_at=NOW,
        )
        event = CalendarEvent(
            community_id=cid,
            entity_id="twitch:1337",
            title="Stream",
            starts_at=NOW + timedelta(days=1),
            duration_minutes=90,
            timezone="Europe/Berlin",
            rrule="FREQ=WEEKLY",
            status="approved",
            creator_user_id=alice.id,
        )
        label = Label(community_id=cid, name="vip", colour="#ff0000", grants_level=20)
        reminder = Reminder(
            community_id=cid,
            number=1,
            entity_id="twitch:1337",
            platform="twitch",
            text="stretch",
            due_at=NOW,
            repeat="daily",
            time_of_day="12:00",
            created_by_user_id=bob.id,
            claimed_by="router-1",
            claimed_until=NOW,
        )
        s.add_all([timer, quote, url, note, item, event, label, reminder])
        await s.flush()
        s.add_all(
            [
                NoteLabel(note_id=note.id, label="todo", community_id=cid),
                InventoryItemLabel(item_id=item.id, name="gear"),
                InventoryCheckout(item_id=item.id, user_id=bob.id, user_name="Bob", out_at=NOW),
                CalendarAttendee(event_id=event.id, user_id=bob.id, name="Bob"),
                LabelAssignment(
                    label_id=label.id, community_id=cid, target_type="user", target_id=str(bob.id)
                ),
                LabelAssignment(
                    label_id=label.id,
                    community_id=cid,
                    target_type="item",
                    target_id=str(item.id),
                    expires_at=NOW + timedelta(days=3),
                ),
            ]
        )
    return cid


def without_places(document: dict[str, Any]) -> None:
    for name in ("entities", "timers", "reminders"):
        document["tables"][name] = []
    for event in document["tables"]["calendar_events"]:
        event["entity_id"] = None


def without_time_of_export(document: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k != "exported_at"}


async def test_export_holds_every_part_and_no_secret(db: Database) -> None:
    cid = await seed(db)
    document = decode(encode(await export_community(db, cid)))
    assert document["format"] == FORMAT
    assert document["left_out"] == LEFT_OUT
    tables = document["tables"]
    empty = [part.table for part in PARTS if not tables[part.table]]
    assert not empty, f"the seed should fill every part: {empty}"
    assert [c["name"] for c in tables["custom_commands"]] == ["hello"]  # not the other's
    assert [e["id"] for e in tables["entities"]] == ["twitch:1337"]
    assert {u["display_name"] for u in document["users"]} == {"Alice", "Bob"}
    alice = next(u for u in document["users"] if u["display_name"] == "Alice")
    assert {i["platform"] for i in alice["identities"]} == {"twitch", "discord"}
    text = encode(document).decode()
    for secret in ("sealed-access", "sealed", "t" * 64, "f" * 64, "h" * 64, "kid1"):
        assert f'"{secret}"' not in text


async def test_round_trip_into_a_fresh_database(db: Database, other_db_url: str) -> None:
    cid = await seed(db)
    document = decode(encode(await export_community(db, cid)))
    fresh = Database(other_db_url)
    try:
        restored = await import_community(fresh, document, as_new=False)
        assert restored.community_id == cid
        assert restored.users_created == 2
        again = await export_community(fresh, cid)
        # reminders are not claimed by any process after an import
        claimed = document["tables"]["reminders"][0]
        assert claimed["claimed_by"] == "router-1"
        claimed.update(claimed_by="", claimed_until=None)
        assert without_time_of_export(decode(encode(again))) == without_time_of_export(document)
        async with fresh.session() as s:  # the id sequence moved past the restored id
            later = Community(name="Later")
            s.add(later)
        assert later.id > cid
        with pytest.raises(ArchiveRefused, match=f"community {cid} exists here already"):
            await import_community(fresh, document, as_new=False)
    finally:
        await fresh.close()


async def test_import_as_new_copies_and_matches_people(db: Database, other_db_url: str) -> None:
    cid = await seed(db)
    document = await export_community(db, cid)
    # a place belongs to one community: the copy into the same database is refused...
    with pytest.raises(ArchiveRefused, match=f"twitch:1337 belongs to community {cid}"):
        await import_community(db, decode(encode(document)), as_new=True)
    async with db.read_session() as s:
        assert await s.scalar(select(func.count()).select_from(Community)) == 2  # rolled back
    # ...and without places (and what is posted in them) it is a copy
    without_places(document)
    restored = await import_community(db, decode(encode(document)), as_new=True)
    assert restored.community_id not in (cid,)
    assert (restored.users_created, restored.users_matched) == (0, 2)
    copy = await export_community(db, restored.community_id)
    async with db.read_session() as s:
        bob = await s.scalar(select(User.id).where(User.display_name == "Bob"))
        assignments = (
            await s.scalars(
                select(LabelAssignment).where(LabelAssignment.community_id == restored.community_id)
            )
        ).all()
        item = await s.scalar(
            select(InventoryItem.id).where(InventoryItem.community_id == restored.community_id)
        )
    assert {(a.target_type, a.target_id) for a in assignments} == {
        ("user", str(bob)),
        ("item", str(item)),
    }
    assert [q["text"] for q in copy["tables"]["quotes"]] == ["Noot noot"]
    assert copy["community"]["name"] == "Penguins"


async def test_bad_documents_are_refused() -> None:
    with pytest.raises(ArchiveRefused, match="not JSON"):
        decode(b"{")
    with pytest.raises(ArchiveRefused, match="not a community export"):
        decode(b'{"format": "other"}')
    with pytest.raises(ArchiveRefused, match="version 99; this WaddleBot reads versions 1, 2"):
        decode(orjson.dumps({"format": FORMAT, "version": 99}))
    document = {"format": FORMAT, "version": 1, "community": {}, "users": [], "tables": {"x": []}}
    with pytest.raises(ArchiveRefused, match="unknown tables"):
        decode(orjson.dumps(document))


async def test_unknown_column_is_refused_and_nothing_kept(db: Database) -> None:
    cid = await seed(db)
    document = await export_community(db, cid)
    without_places(document)
    document["tables"]["aliases"][0]["colour"] = "blue"
    with pytest.raises(ArchiveRefused, match=r"aliases\.colour"):
        await import_community(db, decode(encode(document)), as_new=True)
    async with db.read_session() as s:
        assert await s.scalar(select(func.count()).select_from(Community)) == 2


async def test_no_such_community(db: Database) -> None:
    with pytest.raises(ArchiveRefused, match="no community 404"):
        await export_community(db, 404)


def media_library(store: ObjectStore, **limits: int) -> MediaLibrary:
    return MediaLibrary(store, OverlaySettings(**limits))


async def upload_media(db: Database, store: ObjectStore, community_id: int) -> list[str]:
    """An alert image and sound uploaded for the community, as the API does; their ids."""
    library = MediaLibrary(store, OverlaySettings(), AuditLog(db))
    image, _ = await library.upload(community_id, IMAGE, actor="test")
    sound, _ = await library.upload(community_id, MP3, actor="test")
    return [image.media_id, sound.media_id]


async def test_media_goes_out_and_comes_back_in_a_copy(db: Database, tmp_path: Path) -> None:
    cid = await seed(db)
    store = LocalObjectStore(tmp_path / "objects")
    image, sound = await upload_media(db, store, cid)
    library = media_library(store)
    document = decode(encode(await export_community(db, cid, library)))
    assert document["version"] == VERSION
    assert [(m["media_id"], m["content_type"], m["size"]) for m in document["media"]] == sorted(
        [(image, "image/png", len(IMAGE)), (sound, "audio/mpeg", len(MP3))]
    )
    without_places(document)
    restored = await import_community(db, document, as_new=True, media=library)
    assert restored.media == 2
    # ids name the files' contents: an alert naming the image or sound finds it in the copy
    _, data = await library.get(restored.community_id, image)
    assert data == IMAGE
    _, data = await library.get(restored.community_id, sound)
    assert data == MP3
    assert [f.media_id for f in await library.files(cid)] == sorted([image, sound])


async def test_media_over_the_quota_refuses_the_import(db: Database, tmp_path: Path) -> None:
    cid = await seed(db)
    store = LocalObjectStore(tmp_path / "objects")
    await upload_media(db, store, cid)
    document = await export_community(db, cid, media_library(store))
    without_places(document)
    small = media_library(store, overlay_media_max_files=1)
    with pytest.raises(ArchiveRefused, match=r"2 files .* do not fit .* may keep 1 files"):
        await import_community(db, decode(encode(document)), as_new=True, media=small)
    async with db.read_session() as s:
        assert await s.scalar(select(func.count()).select_from(Community)) == 2  # rolled back
    assert {info.key.split("/")[1] for info in await store.list("overlay-media/")} == {
        f"community-{cid}"
    }
    tight = media_library(store, overlay_media_quota_bytes=1024)
    with pytest.raises(ArchiveRefused, match="do not fit"):
        await import_community(db, decode(encode(document)), as_new=True, media=tight)


async def test_bad_media_is_refused(db: Database, tmp_path: Path) -> None:
    cid = await seed(db)
    store = LocalObjectStore(tmp_path / "objects")
    await upload_media(db, store, cid)
    exported = await export_community(db, cid, media_library(store))
    without_places(exported)

    def changed(**fields: str) -> dict[str, Any]:
        document: dict[str, Any] = orjson.loads(encode(exported))
        document["media"][0].update(fields)
        return document

    with pytest.raises(ArchiveRefused, match="is not base64"):
        decode(encode(changed(data="not base64!")))
    with pytest.raises(ArchiveRefused, match="without a media id"):
        decode(encode(changed(media_id="../../etc/passwd")))
    swapped = changed(media_id="0" * 16 + ".png", data=exported["media"][1]["data"])
    with pytest.raises(ArchiveRefused, match="is not the file that id names"):
        await import_community(db, decode(encode(swapped)), as_new=True, media=media_library(store))
    with pytest.raises(ArchiveRefused, match="no store to put them"):
        await import_community(db, decode(encode(exported)), as_new=True)
    async with db.read_session() as s:
        assert await s.scalar(select(func.count()).select_from(Community)) == 2


async def test_a_version_1_export_without_media_is_read(db: Database) -> None:
    cid = await seed(db)
    document = await export_community(db, cid)
    without_places(document)
    document["version"] = 1
    del document["media"]
    restored = await import_community(db, decode(encode(document)), as_new=True)
    assert restored.media == 0


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[S3Endpoint]:
    with moto_s3() as endpoint:
        yield endpoint


async def seed_at(url: str) -> int:
    database = Database(url)
    try:
        return await seed(database)
    finally:
        await database.close()


def s3_store(endpoint: S3Endpoint, bucket: str, prefix: str) -> S3ObjectStore:
    return S3ObjectStore(bucket, prefix=prefix, region=endpoint.region, endpoint_url=endpoint.url)


async def upload_media_at(url: str, store: ObjectStore, community_id: int) -> list[str]:
    database = Database(url)
    try:
        return await upload_media(database, store, community_id)
    finally:
        await database.close()
        await store.close()


async def media_in(store: ObjectStore, community_id: int) -> dict[str, bytes]:
    try:
        library = media_library(store)
        return {file.media_id: data for file, data in await library.everything(community_id)}
    finally:
        await store.close()


async def export_at(url: str, community_id: int) -> dict[str, Any]:
    database = Database(url)
    try:
        return await export_community(database, community_id)
    finally:
        await database.close()


def test_cli_exports_to_s3_and_a_file_and_imports_back(
    db_url: str,
    other_db_url: str,
    s3_endpoint: S3Endpoint,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cid = asyncio.run(seed_at(db_url))
    fake_aws_credentials(monkeypatch, tmp_path)
    bucket = asyncio.run(make_bucket(s3_endpoint))
    image, sound = asyncio.run(upload_media_at(db_url, s3_store(s3_endpoint, bucket, "wb"), cid))
    s3 = {
        "WADDLEBOT_OBJECT_STORE": "s3",
        "WADDLEBOT_OBJECT_STORE_BUCKET": bucket,
        "WADDLEBOT_OBJECT_STORE_PREFIX": "wb",
        "WADDLEBOT_OBJECT_STORE_REGION": s3_endpoint.region,
        "WADDLEBOT_OBJECT_STORE_ENDPOINT_URL": s3_endpoint.url,
        "WADDLEBOT_DATA_DIR": str(tmp_path),
    }
    source = {**s3, "WADDLEBOT_DATABASE_URL": db_url, "WADDLEBOT_AUTO_MIGRATE": "false"}
    target = {
        **s3,
        "WADDLEBOT_OBJECT_STORE_PREFIX": "restored",
        "WADDLEBOT_DATABASE_URL": other_db_url,
        "WADDLEBOT_AUTO_MIGRATE": "false",
    }

    exported = invoke(["community", "export", str(cid), "--json"], env=source)
    assert exported.exit_code == 0, exported.output
    url = orjson.loads(exported.stdout)["url"]
    assert orjson.loads(exported.stdout)["media"] == 2
    assert url.startswith(f"s3://{bucket}/wb/exports/community-{cid}/")
    path = tmp_path / "out" / "penguins.json"
    to_file = invoke(["community", "export", str(cid), "--to", str(path)], env=source)
    assert to_file.exit_code == 0, to_file.output
    assert f"to {path}" in to_file.stdout

    imported = invoke(["community", "import", url, "--json"], env=target)
    assert imported.exit_code == 0, imported.output
    answer = orjson.loads(imported.stdout)
    assert answer["community_id"] == cid
    assert answer["rows"]["quotes"] == 1
    assert answer["media"] == 2
    restored = asyncio.run(media_in(s3_store(s3_endpoint, bucket, "restored"), cid))
    assert restored == {image: IMAGE, sound: MP3}
    again = invoke(["community", "import", str(path)], env=target)
    assert again.exit_code == 1
    assert f"community {cid} exists here already" in again.stderr

    document = asyncio.run(export_at(other_db_url, cid))
    assert document["tables"]["custom_commands"][0]["response"] == "Hi $(user)!"

    missing = invoke(["community", "import", f"s3://{bucket}/wb/nothing.json"], env=target)
    assert missing.exit_code == 1
    assert "there is no s3://" in missing.stderr
    nothing = invoke(["community", "export", "404"], env=source)
    assert nothing.exit_code == 1
    assert "no community 404" in nothing.stderr


def test_cli_exports_into_the_local_object_store(db_url: str, tmp_path: Path) -> None:
    cid = asyncio.run(seed_at(db_url))
    objects = tmp_path / "data" / "objects"
    image, sound = asyncio.run(upload_media_at(db_url, LocalObjectStore(objects), cid))
    env = {"WADDLEBOT_DATABASE_URL": db_url, "WADDLEBOT_DATA_DIR": str(tmp_path / "data")}
    exported = invoke(["community", "export", str(cid), "--json"], env=env)
    assert exported.exit_code == 0, exported.output
    url = orjson.loads(exported.stdout)["url"]
    assert url.startswith((tmp_path / "data" / "objects").resolve().as_uri())
    document = decode(
        (tmp_path / "data" / "objects" / "exports" / f"community-{cid}")
        .glob("*.json")
        .__next__()
        .read_bytes()
    )
    assert document["community"]["id"] == cid
    assert {m["media_id"] for m in document["media"]} == {image, sound}
