"""The directory on real SQLite and PostgreSQL, including races between concurrent callers
(on PostgreSQL each call holds its own connection and transaction: a real race)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import IntegrityError

from waddlebot.infra.db import Database
from waddlebot.infra.db.migrate import upgrade
from waddlebot.infra.db.models import Community, Entity, Identity, Membership, User
from waddlebot.infra.directory import Directory, ResolvedEntity


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = Database(db_url, pool_size=25, max_overflow=5)
    yield database
    await database.close()


@pytest.fixture
def directory(db: Database) -> Directory:
    return Directory(db)


ATTEMPTS = 10


class Inserts:
    """Counts INSERT statements per table, to show a race really happened."""

    def __init__(self, db: Database) -> None:
        self.engine = db.engine.sync_engine
        self.tables: list[str] = []
        event.listen(self.engine, "before_execute", self._on_execute)

    def _on_execute(self, _conn: Any, clause: Any, *_args: Any) -> None:
        sql = str(clause)
        if sql.startswith("INSERT INTO "):
            self.tables.append(sql.split()[2])

    def __enter__(self) -> Inserts:
        return self

    def __exit__(self, *_exc: object) -> None:
        event.remove(self.engine, "before_execute", self._on_execute)


async def _count(db: Database, model: Any) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_resolve_entity_creates_once(db: Database, directory: Directory) -> None:
    first = await directory.resolve_entity(
        "twitch:1337", "twitch", server_id="1337", name="Waddle TV"
    )
    assert first.created and first.prefix == "!"
    again = await directory.resolve_entity("twitch:1337", "twitch")
    assert again == ResolvedEntity("twitch:1337", first.community_id, "!", False)
    async with db.session() as session:
        community = await session.get(Community, first.community_id)
        entity = await session.get(Entity, "twitch:1337")
    assert community is not None and community.name == "Waddle TV"
    assert entity is not None and (entity.platform, entity.server_id) == ("twitch", "1337")

    unnamed = await directory.resolve_entity("console:local", "console")
    assert unnamed.created and unnamed.community_id != first.community_id
    async with db.session() as session:
        assert (await session.get(Community, unnamed.community_id)).name == "console:local"  # type: ignore[union-attr]


async def test_resolve_entity_is_race_safe(db: Database, directory: Directory) -> None:
    raced = False
    for attempt in range(ATTEMPTS):  # until callers really collided (timing decides that)
        entity_id = f"discord:9:{attempt}"
        with Inserts(db) as inserts:
            results = await asyncio.gather(
                *(directory.resolve_entity(entity_id, "discord", name="general") for _ in range(20))
            )
        assert sum(result.created for result in results) == 1
        assert len({result.community_id for result in results}) == 1
        assert await _count(db, Entity) == attempt + 1
        assert await _count(db, Community) == attempt + 1
        raced = inserts.tables.count("entities") > 1  # several callers tried to create it
        if raced:
            break
    assert raced, f"no two callers collided in {ATTEMPTS} attempts: the race was not tested"


async def test_resolve_entity_uses_the_default_prefix(db: Database) -> None:
    resolved = await Directory(db, default_prefix="?").resolve_entity("slack:T1:C1", "slack")
    assert resolved.prefix == "?"
    with pytest.raises(ValueError):
        Directory(db, default_prefix="")


async def test_prefixes(directory: Directory) -> None:
    resolved = await directory.resolve_entity("twitch:1", "twitch")
    assert await directory.get_prefix(resolved.community_id) == "!"
    await directory.set_prefix(resolved.community_id, "~>")
    assert await directory.get_prefix(resolved.community_id) == "~>"
    assert (await directory.resolve_entity("twitch:1", "twitch")).prefix == "~>"
    for bad in ("", "has space", "123456789"):
        with pytest.raises(ValueError):
            await directory.set_prefix(resolved.community_id, bad)
    with pytest.raises(LookupError):
        await directory.set_prefix(999, "!")
    with pytest.raises(LookupError):
        await directory.get_prefix(999)


async def test_ensure_identity(db: Database, directory: Directory) -> None:
    user_id = await directory.ensure_identity("twitch", "55", "waddle", "Waddle")
    assert await directory.ensure_identity("twitch", "55") == user_id
    assert await directory.ensure_identity("discord", "55", "waddle") != user_id
    async with db.session() as session:
        user = await session.get(User, user_id)
    assert user is not None and user.display_name == "Waddle"

    await directory.ensure_identity("twitch", "55", "waddle2", "Waddle Two")
    await directory.ensure_identity("twitch", "55", "", "")  # unknown values keep known ones
    async with db.session() as session:
        identity = await session.scalar(
            select(Identity).where(Identity.platform == "twitch", Identity.platform_user_id == "55")
        )
    assert identity is not None
    assert (identity.login, identity.display_name) == ("waddle2", "Waddle Two")


async def test_ensure_identity_writes_only_changes(db: Database, directory: Directory) -> None:
    await directory.ensure_identity("twitch", "7", "pingu", "Pingu")
    updates: list[str] = []

    def on_execute(_conn: Any, clause: Any, *_args: Any) -> None:
        if str(clause).startswith(("UPDATE", "INSERT")):
            updates.append(str(clause))

    event.listen(db.engine.sync_engine, "before_execute", on_execute)
    try:
        for _ in range(3):
            await directory.ensure_identity("twitch", "7", "pingu", "Pingu")
        assert updates == []
        await directory.ensure_identity("twitch", "7", "pingu", "PINGU")
        assert len(updates) == 1
    finally:
        event.remove(db.engine.sync_engine, "before_execute", on_execute)


async def test_ensure_identity_is_race_safe(db: Database, directory: Directory) -> None:
    raced = False
    for attempt in range(ATTEMPTS):  # until callers really collided (timing decides that)
        with Inserts(db) as inserts:
            user_ids = await asyncio.gather(
                *(directory.ensure_identity("slack", f"U{attempt}", "robin") for _ in range(20))
            )
        assert len(set(user_ids)) == 1
        assert await _count(db, Identity) == attempt + 1
        assert await _count(db, User) == attempt + 1  # the losers' users were rolled back
        raced = inserts.tables.count("identities") > 1
        if raced:
            break
    assert raced, f"no two callers collided in {ATTEMPTS} attempts: the race was not tested"


async def test_roles(db: Database, directory: Directory) -> None:
    community = (await directory.resolve_entity("twitch:1", "twitch")).community_id
    user = await directory.ensure_identity("twitch", "100", "mod")
    assert await directory.member_role(community, user) is None
    await directory.set_role(community, user, "member")
    assert await directory.member_role(community, user) == "member"
    await directory.set_role(community, user, "moderator")
    assert await directory.member_role(community, user) == "moderator"
    assert await _count(db, Membership) == 1
    with pytest.raises(ValueError):
        await directory.set_role(community, user, "emperor")
    with pytest.raises(IntegrityError):  # the database refuses unknown roles as well
        async with db.session() as session:
            await session.execute(
                text("UPDATE memberships SET role = 'emperor' WHERE user_id = :u"), {"u": user}
            )


async def test_ensure_owner_only_the_first_time(directory: Directory) -> None:
    community = (await directory.resolve_entity("twitch:1", "twitch")).community_id
    broadcaster = await directory.ensure_identity("twitch", "1", "streamer")
    other = await directory.ensure_identity("twitch", "2", "viewer")
    await directory.set_role(community, broadcaster, "member")  # spoke before as a member

    assert await directory.ensure_owner(community, broadcaster) is True
    assert await directory.member_role(community, broadcaster) == "owner"
    assert await directory.ensure_owner(community, broadcaster) is False
    assert await directory.ensure_owner(community, other) is False
    assert await directory.member_role(community, other) is None
    with pytest.raises(LookupError):
        await directory.ensure_owner(999, other)


async def test_ensure_owner_is_race_safe(db: Database, directory: Directory) -> None:
    community = (await directory.resolve_entity("discord:1:2", "discord")).community_id
    users = [await directory.ensure_identity("discord", str(n)) for n in range(12)]
    results = await asyncio.gather(*(directory.ensure_owner(community, user) for user in users))
    assert results.count(True) == 1
    async with db.session() as session:
        owners = (
            await session.scalars(select(Membership.user_id).where(Membership.role == "owner"))
        ).all()
    assert owners == [users[results.index(True)]]


async def test_prefix_cannot_take_the_serverless_marker(directory: Directory) -> None:
    resolved = await directory.resolve_entity("console:prefix-test", "console")
    with pytest.raises(ValueError, match="serverless"):
        await directory.set_prefix(resolved.community_id, "#")
    await directory.set_prefix(resolved.community_id, "?")
    assert await directory.get_prefix(resolved.community_id) == "?"


async def test_a_new_channel_joins_the_community_of_its_server(directory: Directory) -> None:
    general = await directory.resolve_entity(
        "slack:T1:C1", "slack", server_id="T1", channel_id="C1"
    )
    random = await directory.resolve_entity("slack:T1:C2", "slack", server_id="T1", channel_id="C2")
    elsewhere = await directory.resolve_entity(
        "slack:T2:C1", "slack", server_id="T2", channel_id="C1"
    )
    other_platform = await directory.resolve_entity(
        "discord:T1:C1", "discord", server_id="T1", channel_id="C1"
    )
    assert random.created and random.community_id == general.community_id
    assert elsewhere.community_id != general.community_id
    assert other_platform.community_id not in (general.community_id, elsewhere.community_id)


async def test_new_channels_of_one_server_seen_at_once_share_one_community(
    fresh_postgres_url: str,
) -> None:
    """On PostgreSQL, where each call holds its own transaction: a real race."""
    upgrade(fresh_postgres_url)
    database = Database(fresh_postgres_url, pool_size=ATTEMPTS)
    try:
        directory = Directory(database)
        resolved = await asyncio.gather(
            *(
                directory.resolve_entity(
                    f"slack:T9:C{n}", "slack", server_id="T9", channel_id=f"C{n}"
                )
                for n in range(ATTEMPTS)
            )
        )
    finally:
        await database.close()
    assert len({r.community_id for r in resolved}) == 1
