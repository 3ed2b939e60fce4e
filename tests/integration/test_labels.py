"""The label service on real SQLite and PostgreSQL: definitions, assignments and their expiry,
per-community limits (also under concurrent writers: on PostgreSQL each call holds its own
connection and transaction, a real race), bulk apply, level grants and the audit trail."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select, update

from waddlebot.core.clock import ManualClock
from waddlebot.core.permissions import Level
from waddlebot.features.labels.models import Label, LabelAssignment
from waddlebot.features.labels.service import (
    BULK_LIMIT,
    DuplicateLabel,
    InvalidLabel,
    LabelError,
    LabelLevelRefused,
    LabelLimitReached,
    LabelService,
    TooManyTargets,
    UnknownLabel,
    limits_from_settings,
)
from waddlebot.infra.audit import AuditLog
from waddlebot.infra.db import Database
from waddlebot.infra.db.models import Community

ATTEMPTS = 10


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = Database(db_url, pool_size=25, max_overflow=5)
    yield database
    await database.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def audit(db: Database) -> AuditLog:
    return AuditLog(db)


@pytest.fixture
def labels(db: Database, audit: AuditLog, clock: ManualClock) -> LabelService:
    return LabelService(db, audit, clock)


async def new_community(db: Database, settings: dict[str, Any] | None = None) -> int:
    async with db.session() as session:
        community = Community(name="Waddle TV", settings=settings or {})
        session.add(community)
        await session.flush()
        return community.id


@pytest.fixture
async def community(db: Database) -> int:
    return await new_community(db)


async def set_limits(db: Database, community_id: int, **limits: Any) -> None:
    async with db.session() as session:
        await session.execute(
            update(Community)
            .where(Community.id == community_id)
            .values(settings={"labels": limits})
        )


async def count(db: Database, model: Any) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def make(labels: LabelService, community_id: int, *names: str) -> None:
    for name in names:
        await labels.create(community_id, name)


class Statements:
    """Records the SQL statements run while active (to count queries and see races)."""

    def __init__(self, db: Database) -> None:
        self.engine = db.engine.sync_engine
        self.log: list[str] = []

    def _on_execute(self, _conn: Any, clause: Any, *_args: Any) -> None:
        self.log.append(str(clause))

    def _on_commit(self, _conn: Any) -> None:
        self.log.append("COMMIT")

    def __enter__(self) -> Statements:
        event.listen(self.engine, "before_execute", self._on_execute)
        event.listen(self.engine, "commit", self._on_commit)
        return self

    def __exit__(self, *_exc: object) -> None:
        event.remove(self.engine, "before_execute", self._on_execute)
        event.remove(self.engine, "commit", self._on_commit)

    def selects(self) -> list[str]:
        return [sql for sql in self.log if sql.startswith("SELECT")]

    def collided(self) -> bool:
        """Whether a second writer asked for the community lock before the first committed
        (so it had to wait for it: the writers really overlapped)."""
        waiting = 0
        for sql in self.log:
            if sql == "COMMIT":
                return False
            if sql.startswith("UPDATE communities"):
                waiting += 1
                if waiting > 1:
                    return True
        return False


# ----- definitions ------------------------------------------------------------------------


async def test_create_list_get_delete(labels: LabelService, community: int) -> None:
    assert await labels.list(community) == []
    helper = await labels.create(community, "helper", description="  answers   questions ")
    vip = await labels.create(
        community, "VIP-Friend", colour="#1E90FF", grants_level=Level.VIP, actor="7"
    )
    assert (helper.name, helper.colour, helper.description, helper.grants_level) == (
        "helper",
        "",
        "answers questions",
        None,
    )
    assert (vip.name, vip.colour, vip.grants_level, vip.community_id) == (
        "vip-friend",
        "#1e90ff",
        300,
        community,
    )
    assert await labels.list(community) == [helper, vip]
    assert await labels.get(community, "vip-friend") == vip
    assert await labels.get(community, " VIP-friend ") == vip

    with pytest.raises(DuplicateLabel, match="already a label helper"):
        await labels.create(community, "helper")
    other = await new_community(labels.db)
    assert (await labels.create(other, "helper")).community_id == other  # names are per community

    await labels.apply(community, "helper", "user", "1")
    assert await labels.delete(community, "helper", "7") == 1
    assert await labels.list(community) == [vip]
    assert await count(labels.db, LabelAssignment) == 0  # its assignments went with it
    with pytest.raises(UnknownLabel, match="no label helper"):
        await labels.get(community, "helper")
    with pytest.raises(UnknownLabel):
        await labels.delete(community, "helper", "7")


async def test_validation(labels: LabelService, community: int, clock: ManualClock) -> None:
    for bad in ("", "has space", "x" * 33, "émoji", "dot.ted", "@bob"):
        with pytest.raises(InvalidLabel, match="not a label name"):
            await labels.create(community, bad)
    for ok in ("a", "x" * 32, "event-autoapprove", "under_score", "42"):
        await labels.create(community, ok)
    for bad in ("red", "#fff", "#12345g", "1e90ff"):
        with pytest.raises(InvalidLabel, match="not a colour"):
            await labels.create(community, "c", colour=bad)
    with pytest.raises(InvalidLabel, match="not a permission level"):
        await labels.create(community, "c", grants_level=999)
    with pytest.raises(InvalidLabel, match="description"):
        await labels.create(community, "c", description="x" * 201)
    with pytest.raises(LookupError):
        await labels.create(9999, "c")
    assert issubclass(LabelError, ValueError)

    with pytest.raises(InvalidLabel, match="labels apply to"):
        await labels.apply(community, "a", "planet", "1")
    for bad_id in ("", "x" * 65):
        with pytest.raises(InvalidLabel, match="target id"):
            await labels.apply(community, "a", "user", bad_id)
    with pytest.raises(InvalidLabel, match="aware"):
        await labels.apply(community, "a", "user", "1", expires_at=datetime(2027, 1, 1))
    with pytest.raises(InvalidLabel, match="past"):
        await labels.apply(community, "a", "user", "1", expires_at=clock.now())
    with pytest.raises(UnknownLabel):
        await labels.apply(community, "nope", "user", "1")
    with pytest.raises(LookupError):
        await labels.apply(9999, "a", "user", "1")
    assert await count(labels.db, LabelAssignment) == 0


def test_limits_from_settings() -> None:
    defaults = {"per_user": 5, "per_community": 5, "per_item": 10, "definitions": 100}
    assert limits_from_settings({}) == defaults
    assert limits_from_settings(None) == defaults
    assert limits_from_settings({"labels": "lots"}) == defaults
    assert limits_from_settings(
        {"labels": {"per_user": 2, "per_item": -1, "definitions": True, "per_community": "9"}}
    ) == defaults | {"per_user": 2}
    assert limits_from_settings({"labels": {"per_user": 0}})["per_user"] == 0


# ----- assignments and expiry ---------------------------------------------------------------


async def test_apply_remove_and_reapply(
    labels: LabelService, community: int, clock: ManualClock
) -> None:
    await make(labels, community, "helper", "regular")
    first = await labels.apply(community, "helper", "user", "42", actor="mod")
    assert (first.label.name, first.target_type, first.target_id, first.assigned_by) == (
        "helper",
        "user",
        "42",
        "mod",
    )
    assert first.created_at == clock.now() and first.expires_at is None

    later = clock.now() + timedelta(days=7)
    clock.advance(hours=1)
    again = await labels.apply(community, "helper", "user", "42", actor="other", expires_at=later)
    assert again.expires_at == later  # re-applying updates the expiry ...
    assert (again.assigned_by, again.created_at) == ("mod", first.created_at)  # ... only
    assert await count(labels.db, LabelAssignment) == 1
    forever = await labels.apply(community, "helper", "user", "42")
    assert forever.expires_at is None

    await labels.apply(community, "regular", "user", "42")
    await labels.apply(community, "regular", "user", "43")
    held = await labels.labels_of(community, "user", "42")
    assert [(a.label.name, a.target_id) for a in held] == [("helper", "42"), ("regular", "42")]
    assert await labels.labels_of(community, "user", "44") == []

    assert await labels.remove(community, "helper", "user", "42", "mod") is True
    assert await labels.remove(community, "helper", "user", "42", "mod") is False
    assert [a.label.name for a in await labels.labels_of(community, "user", "42")] == ["regular"]
    with pytest.raises(UnknownLabel):
        await labels.remove(community, "nope", "user", "42", "mod")


async def test_expired_assignments_count_for_nothing(
    labels: LabelService, community: int, clock: ManualClock
) -> None:
    await labels.create(community, "vip-friend", grants_level=Level.VIP)
    await make(labels, community, "a", "b", "c", "d", "e")
    start = clock.now()
    await labels.apply(community, "vip-friend", "user", "1", expires_at=start + timedelta(hours=1))
    for name in "abcd":
        await labels.apply(community, name, "user", "1")
    assert len(await labels.labels_of(community, "user", "1")) == 5
    assert await labels.has_label(community, "user", "1", "vip-friend")
    assert await labels.granted_level(community, 1) == Level.VIP
    with pytest.raises(LabelLimitReached):
        await labels.apply(community, "e", "user", "1")

    clock.advance(hours=1)  # expires_at == now: expired
    assert [a.label.name for a in await labels.labels_of(community, "user", "1")] == list("abcd")
    assert not await labels.has_label(community, "user", "1", "vip-friend")
    assert await labels.granted_level(community, 1) is None
    assert await labels.remove(community, "vip-friend", "user", "1", "mod") is False
    await labels.apply(
        community, "vip-friend", "user", "1", expires_at=start + timedelta(hours=3)
    )  # its slot is free again, so it can come back...
    with pytest.raises(LabelLimitReached):  # ... and fill it
        await labels.apply(community, "e", "user", "1")

    # an expired leftover row, re-applied, is a new assignment (and counts against the limit)
    clock.advance(hours=5)
    revived = await labels.apply(community, "vip-friend", "user", "1", actor="admin")
    assert (revived.assigned_by, revived.created_at, revived.expires_at) == (
        "admin",
        clock.now(),
        None,
    )

    await labels.apply(community, "e", "user", "2", expires_at=clock.now() + timedelta(minutes=5))
    await labels.apply(community, "e", "user", "3", expires_at=clock.now() + timedelta(minutes=9))
    clock.advance(minutes=6)
    assert await labels.purge_expired() == 1
    assert await labels.purge_expired() == 0
    assert await count(labels.db, LabelAssignment) == 6
    assert await labels.has_label(community, "user", "3", "e")


# ----- limits -----------------------------------------------------------------------------


async def test_limits_per_target_type(labels: LabelService, community: int) -> None:
    names = [f"l{n}" for n in range(11)]
    await make(labels, community, *names)
    for name in names[:5]:
        await labels.apply(community, name, "user", "7")
        await labels.apply(community, name, "community", str(community))
    with pytest.raises(LabelLimitReached, match=r"^user 7 already has 5 labels \(the limit here\)"):
        await labels.apply(community, names[5], "user", "7")
    with pytest.raises(LabelLimitReached, match="the community already has 5 labels") as caught:
        await labels.apply(community, names[5], "community", str(community))
    assert (caught.value.target_type, caught.value.limit) == ("community", 5)
    await labels.apply(community, names[5], "user", "8")  # the limit is per user
    await labels.apply(community, names[0], "user", "7")  # re-applying needs no new slot

    for target_type in ("item", "event", "memory"):
        for name in names[:10]:
            await labels.apply(community, name, target_type, "99")
        with pytest.raises(LabelLimitReached, match=f"{target_type} 99 already has 10 labels"):
            await labels.apply(community, names[10], target_type, "99")

    # the limit is per community: the same user elsewhere starts from nothing
    elsewhere = await new_community(labels.db)
    await make(labels, elsewhere, "x")
    await labels.apply(elsewhere, "x", "user", "7")


async def test_limits_are_configured_per_community(
    db: Database, labels: LabelService, community: int
) -> None:
    await set_limits(db, community, per_user=2, per_community=1, per_item=1, definitions=3)
    await make(labels, community, "a", "b", "c")
    with pytest.raises(LabelLimitReached, match="3 labels defined") as caught:
        await labels.create(community, "d")
    assert caught.value.target_type == ""
    await labels.apply(community, "a", "user", "1")
    await labels.apply(community, "b", "user", "1")
    with pytest.raises(LabelLimitReached, match="already has 2 labels"):
        await labels.apply(community, "c", "user", "1")
    await labels.apply(community, "a", "community", str(community))
    with pytest.raises(LabelLimitReached, match="already has 1 labels"):
        await labels.apply(community, "b", "community", str(community))
    await labels.apply(community, "a", "memory", "5")
    with pytest.raises(LabelLimitReached):
        await labels.apply(community, "b", "memory", "5")

    await set_limits(db, community, per_user=0)  # others back to their defaults
    with pytest.raises(LabelLimitReached):
        await labels.apply(community, "a", "user", "2")
    await labels.create(community, "d")
    await labels.apply(community, "b", "community", str(community))

    other = await new_community(db, {"labels": {"per_user": 1}})
    await make(labels, other, "a", "b")
    await labels.apply(other, "a", "user", "1")
    with pytest.raises(LabelLimitReached, match="already has 1 labels"):
        await labels.apply(other, "b", "user", "1")


async def test_user_limit_holds_under_concurrency(
    db: Database, labels: LabelService, community: int
) -> None:
    """Many moderators label one user at once when one slot is left: exactly one succeeds."""
    raced = False
    for attempt in range(ATTEMPTS):  # until writers really collided (timing decides that)
        user = f"u{attempt}"
        names = [f"r{attempt}-{n}" for n in range(12)]
        await make(labels, community, *names)
        for name in names[:4]:
            await labels.apply(community, name, "user", user)
        with Statements(db) as statements:
            results = await asyncio.gather(
                *(labels.apply(community, name, "user", user) for name in names[4:]),
                return_exceptions=True,
            )
        failures = [r for r in results if isinstance(r, BaseException)]
        assert len(results) - len(failures) == 1, results
        assert all(isinstance(r, LabelLimitReached) for r in failures), failures
        assert len(await labels.labels_of(community, "user", user)) == 5
        raced = statements.collided()
        if raced:
            break
    assert raced, f"no two writers collided in {ATTEMPTS} attempts: the race was not tested"


async def test_definition_limit_holds_under_concurrency(db: Database, labels: LabelService) -> None:
    raced = False
    for _attempt in range(ATTEMPTS):
        community = await new_community(db, {"labels": {"definitions": 3}})
        await make(labels, community, "a", "b")
        with Statements(db) as statements:
            results = await asyncio.gather(
                *(labels.create(community, f"n{n}") for n in range(10)), return_exceptions=True
            )
        assert sum(not isinstance(r, BaseException) for r in results) == 1, results
        assert len(await labels.list(community)) == 3
        raced = statements.collided()
        if raced:
            break
    assert raced, f"no two writers collided in {ATTEMPTS} attempts: the race was not tested"


async def test_bulk_and_single_apply_race_for_the_last_slot(
    db: Database, labels: LabelService, community: int
) -> None:
    raced = False
    for attempt in range(ATTEMPTS):
        names = [f"b{attempt}-{n}" for n in range(6)]
        await make(labels, community, *names)
        for name in names[:4]:
            await labels.apply(community, name, "item", f"i{attempt}")
        await set_limits(db, community, per_item=5)
        with Statements(db) as statements:
            results = await asyncio.gather(
                labels.bulk_apply(
                    community, names[4], "item", [f"x{attempt}", f"i{attempt}"], actor="m"
                ),
                labels.apply(community, names[5], "item", f"i{attempt}"),
                return_exceptions=True,
            )
        assert sum(not isinstance(r, BaseException) for r in results) == 1, results
        assert len(await labels.labels_of(community, "item", f"i{attempt}")) == 5
        if isinstance(results[0], BaseException):  # all or nothing: x was not labelled either
            assert await labels.labels_of(community, "item", f"x{attempt}") == []
        await set_limits(db, community)
        raced = statements.collided()
        if raced:
            break
    assert raced, f"no two writers collided in {ATTEMPTS} attempts: the race was not tested"


# ----- bulk apply ---------------------------------------------------------------------------


async def test_bulk_apply(labels: LabelService, community: int, clock: ManualClock) -> None:
    names = ["a", "b", "c", "d", "e", "event"]
    await make(labels, community, *names)
    assert await labels.bulk_apply(community, "event", "user", ["1", "2", "2", "3"], actor="m") == 3
    assert await count(labels.db, LabelAssignment) == 3

    until = clock.now() + timedelta(days=1)
    assert (
        await labels.bulk_apply(community, "event", "user", ["3", "4"], actor="m", expires_at=until)
        == 1
    )
    (three,) = await labels.labels_of(community, "user", "3")
    assert three.expires_at == until and three.assigned_by == "m"

    for name in "abcd":  # user 5 has 4 labels and user 6 has 5
        await labels.apply(community, name, "user", "5")
        await labels.apply(community, name, "user", "6")
    await labels.apply(community, "e", "user", "6")
    before = await count(labels.db, LabelAssignment)
    with pytest.raises(LabelLimitReached, match=r"^user 6 already has 5 labels") as caught:
        await labels.bulk_apply(community, "event", "user", ["7", "5", "6", "1"], actor="m")
    assert caught.value.target_id == "6"
    assert await count(labels.db, LabelAssignment) == before  # nothing at all was applied
    assert await labels.labels_of(community, "user", "7") == []
    (three,) = await labels.labels_of(community, "user", "3")
    assert three.expires_at == until  # nor any expiry updated

    with pytest.raises(UnknownLabel):
        await labels.bulk_apply(community, "nope", "user", ["1"], actor="m")
    with pytest.raises(InvalidLabel):
        await labels.bulk_apply(community, "event", "user", ["1", ""], actor="m")
    with pytest.raises(InvalidLabel):
        await labels.bulk_apply(community, "event", "user", "12", actor="m")
    assert await labels.bulk_apply(community, "event", "user", [], actor="m") == 0


async def test_bulk_apply_takes_up_to_a_thousand_targets(
    labels: LabelService, community: int
) -> None:
    await make(labels, community, "wave")
    targets = [str(n) for n in range(BULK_LIMIT)]
    assert await labels.bulk_apply(community, "wave", "event", targets, actor="m") == BULK_LIMIT
    assert await count(labels.db, LabelAssignment) == BULK_LIMIT
    assert await labels.bulk_apply(community, "wave", "event", targets, actor="m") == 0
    with pytest.raises(TooManyTargets, match="at most 1000"):
        await labels.bulk_apply(community, "wave", "event", [*targets, "1000"], actor="m")
    assert await count(labels.db, LabelAssignment) == BULK_LIMIT


# ----- levels and capabilities --------------------------------------------------------------


async def test_granted_level_and_has_label(
    labels: LabelService, community: int, clock: ManualClock
) -> None:
    await labels.create(community, "vip-friend", grants_level=Level.VIP)
    await labels.create(community, "trusted", grants_level=Level.MODERATOR)
    await labels.create(community, "event-autoapprove")
    assert await labels.granted_level(community, 1) is None

    await labels.apply(community, "event-autoapprove", "user", "1")
    assert await labels.granted_level(community, 1) is None
    assert await labels.has_label(community, "user", "1", "event-autoapprove")
    assert not await labels.has_label(community, "user", "2", "event-autoapprove")
    assert not await labels.has_label(community, "item", "1", "event-autoapprove")
    assert not await labels.has_label(community, "user", "1", "unknown-label")

    await labels.apply(community, "vip-friend", "user", "1")
    assert await labels.granted_level(community, 1) == Level.VIP
    await labels.apply(
        community, "trusted", "user", "1", expires_at=clock.now() + timedelta(minutes=1)
    )
    assert await labels.granted_level(community, 1) == Level.MODERATOR
    clock.advance(minutes=2)
    assert await labels.granted_level(community, 1) == Level.VIP

    elsewhere = await new_community(labels.db)
    assert await labels.granted_level(elsewhere, 1) is None
    assert not await labels.has_label(elsewhere, "user", "1", "event-autoapprove")


async def test_actor_level_prevents_escalation(labels: LabelService, community: int) -> None:
    with pytest.raises(LabelLevelRefused, match="grants admin"):
        await labels.create(community, "boss", grants_level=Level.ADMIN, actor_level=Level.ADMIN)
    await labels.create(community, "boss", grants_level=Level.ADMIN, actor_level=Level.OWNER)
    await labels.create(community, "plain")
    with pytest.raises(LabelLevelRefused):
        await labels.apply(community, "boss", "user", "1", actor_level=Level.MODERATOR)
    await labels.apply(community, "plain", "user", "1", actor_level=Level.MODERATOR)
    await labels.apply(community, "boss", "user", "1", actor_level=Level.OWNER)
    with pytest.raises(LabelLevelRefused):
        await labels.remove(community, "boss", "user", "1", "m", actor_level=Level.ADMIN)
    with pytest.raises(LabelLevelRefused):
        await labels.bulk_apply(community, "boss", "user", ["2"], actor_level=Level.ADMIN)
    with pytest.raises(LabelLevelRefused):
        await labels.delete(community, "boss", "a", actor_level=Level.ADMIN)
    assert await labels.has_label(community, "user", "1", "boss")


async def test_reads_are_one_query_each(db: Database, labels: LabelService, community: int) -> None:
    names = [f"l{n}" for n in range(5)]
    await make(labels, community, *names)
    await labels.bulk_apply(community, "l0", "user", ["1", "2"], actor="m")
    for name in names[1:]:
        await labels.apply(community, name, "user", "1")
    reads = [
        labels.list(community),
        labels.get(community, "l1"),
        labels.labels_of(community, "user", "1"),
        labels.granted_level(community, 1),
        labels.has_label(community, "user", "1", "l3"),
    ]
    for read in reads:
        with Statements(db) as statements:
            await read
        assert len(statements.selects()) == 1, statements.log


# ----- audit --------------------------------------------------------------------------------


async def test_every_change_is_audited(
    labels: LabelService, audit: AuditLog, community: int, clock: ManualClock
) -> None:
    await labels.create(community, "helper", colour="#00ff00", actor="7")
    await labels.apply(community, "helper", "user", "42", actor="7")
    await labels.bulk_apply(community, "helper", "user", ["1", "2"], actor="8")
    await labels.remove(community, "helper", "user", "42", "7")
    await labels.remove(community, "helper", "user", "42", "7")  # nothing to remove
    await labels.apply(
        community, "helper", "item", "3", expires_at=clock.now() + timedelta(hours=1)
    )
    clock.advance(hours=2)
    await labels.purge_expired()
    await labels.delete(community, "helper", "9")
    with pytest.raises(DuplicateLabel):  # refusals change nothing and are not "change" rows
        await labels.create(community, "x", actor="7")
        await labels.create(community, "x", actor="7")
    await audit.flush()
    rows = list(reversed(await audit.recent(20)))
    assert [(r.action, r.actor, r.target) for r in rows] == [
        ("label.create", "7", "label:helper"),
        ("label.apply", "7", "user:42"),
        ("label.bulk_apply", "8", "label:helper"),
        ("label.remove", "7", "user:42"),
        ("label.apply", "", "item:3"),
        ("label.purge", "", ""),
        ("label.delete", "9", "label:helper"),
        ("label.create", "7", "label:x"),
    ]
    assert all(r.decision == "change" for r in rows)
    assert all(r.community_id == community for r in rows if r.action != "label.purge")
    assert rows[0].detail["colour"] == "#00ff00"
    assert rows[1].detail == {"label": "helper", "expires_at": None, "renewed": False}
    assert rows[2].detail["targets"] == ["1", "2"] and rows[2].detail["added"] == 2
    assert rows[5].detail == {"assignments": 1}
    assert rows[6].detail["assignments"] == 2
    assert rows[4].detail["expires_at"] == (clock.now() - timedelta(hours=1)).isoformat()


async def test_labels_survive_reads_through_the_orm(db: Database, labels: LabelService) -> None:
    """Stored values come back as written (timestamps aware, in UTC)."""
    community = await new_community(db)
    await labels.create(community, "t")
    when = datetime(2027, 3, 1, 9, 30, tzinfo=UTC)
    await labels.apply(community, "t", "user", "1", expires_at=when)
    async with db.session() as session:
        row = await session.scalar(select(LabelAssignment))
        label = await session.scalar(select(Label))
    assert row is not None and label is not None
    assert row.expires_at == when and row.expires_at.tzinfo is not None
    assert row.community_id == label.community_id == community
