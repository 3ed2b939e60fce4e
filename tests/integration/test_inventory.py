"""The inventory end to end: every ``!inventory`` form through the console (embedded on SQLite
and distributed on PostgreSQL and Redis), who may do what, the audit trail, isolation between
communities, and checkouts racing each other on real databases (on PostgreSQL each attempt
holds its own connection and transaction: a real race)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from tests.support.harness import say
from waddlebot.core.clock import ManualClock
from waddlebot.features.inventory.service import (
    MAX_LABELS,
    InventoryError,
    InventoryService,
    ItemTaken,
    NotTheHolder,
    UnknownItem,
)
from waddlebot.infra.audit import AuditLog
from waddlebot.infra.db import Database
from waddlebot.infra.db.models import Community
from waddlebot.runtime import Runtime

MOD = {"role": "moderator", "user": "mia"}
USAGE = "Usage: !inventory add <item> [description] [#label ...] | remove <item> |"


@pytest.fixture
def clock(runtime: Runtime) -> ManualClock:
    clock = ManualClock()  # 2026-01-01 12:00 UTC
    runtime.inventory.clock = clock
    return clock


async def test_every_command_form(runtime: Runtime, clock: ManualClock) -> None:
    assert await say(
        runtime, "!inventory add camera Sony A7 with two batteries #video #Gear", **MOD
    ) == ["Added item camera. Labels: #gear #video."]
    assert await say(runtime, '!inv add "Green screen"', **MOD) == ["Added item Green screen."]
    assert await say(runtime, "!inventory add tripod tall, wobbly #video", **MOD) == [
        "Added item tripod. Labels: #video."
    ]
    assert await say(runtime, "!inventory list") == ["Items: camera, Green screen, tripod"]
    assert await say(runtime, "!inventory checkout CAMERA", user="bob") == [
        "@bob, camera is yours. Check it in with !inventory checkin camera"
    ]
    clock.advance(hours=2)
    assert await say(runtime, "!inventory checkout camera", user="carol") == [
        "Sorry, @bob has camera (since Thu 1 Jan 12:00 UTC)."
    ]
    assert await say(runtime, "!inventory checkout camera", user="bob") == [
        "You have camera already (since Thu 1 Jan 12:00 UTC)."
    ]
    assert await say(runtime, "!inventory list out") == ["Checked out: camera (@bob)"]
    assert await say(runtime, "!inventory list available") == ["Available: Green screen, tripod"]
    assert await say(runtime, "!inventory list all") == [
        "Items: camera (out), Green screen, tripod"
    ]
    assert await say(runtime, "!inventory status camera") == [
        "camera (Sony A7 with two batteries; #gear #video): @bob has it since Thu 1 Jan 12:00 UTC."
    ]
    assert await say(runtime, '!inventory status "green SCREEN"') == ["Green screen: available."]
    assert await say(runtime, "!inventory search wobbly") == ["Found: tripod"]
    assert await say(runtime, "!inventory search #video") == ["Found: camera (@bob), tripod"]
    assert await say(runtime, "!inventory search sony video") == ["Found: camera (@bob)"]
    assert await say(runtime, "!inventory search tent") == ["No item matches 'tent'."]
    assert await say(runtime, "!inventory checkin camera", user="carol") == [
        "@bob has camera; only they or a moderator can check it in."
    ]
    assert await say(runtime, "!inventory checkin camera", user="bob") == [
        "camera is checked in; @bob had it since Thu 1 Jan 12:00 UTC."
    ]
    assert await say(runtime, "!inventory checkin camera", user="bob") == [
        "Camera is not checked out."
    ]
    await say(runtime, "hello", user="carol")  # the bot knows carol now
    clock.advance(days=1)
    assert await say(runtime, "!inventory checkout camera @carol", **MOD) == [
        "camera is checked out to @carol."
    ]
    assert await say(runtime, "!inventory history camera") == [
        "camera, newest first: @carol since Fri 2 Jan 14:00 UTC (still out); "
        "@bob from Thu 1 Jan 12:00 UTC to Thu 1 Jan 14:00 UTC"
    ]
    assert await say(runtime, "!inventory history tripod") == ["tripod has never been checked out."]
    assert await say(runtime, "!inventory checkin camera", **MOD) == [
        "camera is checked in; @carol had it since Fri 2 Jan 14:00 UTC."
    ]
    assert await say(runtime, "!inventory label camera add #4k", **MOD) == ["camera now has #4k."]
    assert await say(runtime, "!inventory label camera add 4k", **MOD) == [
        "camera has #4k already."
    ]
    assert await say(runtime, "!inventory label camera remove gear", **MOD) == [
        "camera no longer has #gear."
    ]
    assert await say(runtime, "!inventory label camera remove gear", **MOD) == [
        "camera does not have #gear."
    ]
    assert await say(runtime, "!inventory status camera") == [
        "camera (Sony A7 with two batteries; #4k #video): available."
    ]
    assert await say(runtime, "!inventory remove tripod", **MOD) == ["Removed item tripod."]
    assert await say(runtime, "!inventory remove tripod", **MOD) == [
        "There is no item tripod here."
    ]
    assert await say(runtime, "!inventory list") == ["Items: camera, Green screen"]
    await runtime.audit.flush()
    actions = {e.action for e in await runtime.audit.recent(limit=200)}
    assert {
        "inventory.add",
        "inventory.remove",
        "inventory.checkout",
        "inventory.checkin",
        "inventory.label.add",
        "inventory.label.remove",
    } <= actions


async def test_who_may_do_what_and_clear_errors(runtime: Runtime, clock: ManualClock) -> None:
    refusals = {
        "!inventory add x": "Only moderators and up can add items.",
        "!inventory remove x": "Only moderators and up can remove items.",
        "!inventory label x add y": "Only moderators and up can label items.",
        "!inventory checkout x @mia": (
            "Only moderators and up can check things out for someone else."
        ),
    }
    for line, refusal in refusals.items():
        assert await say(runtime, line) == [refusal], line
    assert await say(runtime, "!inventory add camera", **MOD) == ["Added item camera."]
    assert await say(runtime, "!inventory add Camera again", **MOD) == [
        "There is already an item Camera here."
    ]
    problems = {
        "!inventory": "say what to do: add, remove, checkout",
        "!inventory frob": "there is no 'frob'",
        "!inventory add": "which item?",
        "!inventory add #cam": "an item name cannot start with #",
        f"!inventory add {'x' * 65}": "an item name is at most 64 characters",
        f"!inventory add pen {'d' * 301}": "a description is at most 300 characters",
        "!inventory add pen #bad!": "'bad!' is not a label name",
        "!inventory status": "which item?",
        "!inventory status green screen": (
            'put a name with spaces in quotes: !inventory status "green screen"'
        ),
        "!inventory list lost": "list takes one of all, available, out, or nothing",
        "!inventory search": "search for what?",
        "!inventory label camera": "the item, add or remove, and the label",
        "!inventory label camera paint red": "the item, add or remove, and the label",
        "!inventory label camera add no!": "'no!' is not a label name",
        "!inventory checkout camera @a @b": "the item, then whom for",
    }
    for line, problem in problems.items():
        (answer,) = await say(runtime, line, **MOD)
        assert answer.startswith(USAGE), line
        assert problem in answer, (line, answer)
    assert await say(runtime, "!inventory checkout nothing") == ["There is no item nothing here."]
    assert await say(runtime, "!inventory history nothing") == ["There is no item nothing here."]
    assert await say(runtime, "!inventory checkout camera @zed", **MOD) == [
        "I don't know @zed here yet."
    ]
    await say(runtime, "!inventory checkout camera", user="bob")
    assert await say(runtime, "!inventory remove camera", **MOD) == [
        "@bob has camera since Thu 1 Jan 12:00 UTC; check it in first."
    ]
    for n in range(MAX_LABELS):
        await say(runtime, f"!inventory label camera add l{n}", **MOD)
    assert await say(runtime, "!inventory label camera add one-more", **MOD) == [
        f"Camera already has {MAX_LABELS} labels (the limit)."
    ]
    assert await say(runtime, "!inventory list", user="zoe") == ["Items: camera (out)"]


async def test_times_are_shown_in_the_community_time_zone(
    runtime: Runtime, clock: ManualClock
) -> None:
    assert await say(runtime, "!community timezone", user="ada") == [
        "This community's time zone is UTC."
    ]
    assert await say(
        runtime, "!community timezone Europe/Berlin", user="mia", role="moderator"
    ) == ["Only admins and the owner can set the time zone."]
    (wrong,) = await say(runtime, "!community timezone Mars/Olympus", user="ada", role="admin")
    assert "'Mars/Olympus' is not a time zone; use an IANA name like Europe/Berlin" in wrong
    assert await say(runtime, "!community timezone europe/berlin", user="ada", role="admin") == [
        "This community's time zone is now Europe/Berlin."
    ]
    await say(runtime, "!inventory add camera", **MOD)
    await say(runtime, "!inventory checkout camera", user="bob")
    assert await say(runtime, "!inventory status camera") == [
        "camera: @bob has it since Thu 1 Jan 13:00 CET."
    ]
    community = (await runtime.directory.resolve_entity("console:local", "console")).community_id
    assert (await runtime.community.timezone(community)).key == "Europe/Berlin"
    await runtime.audit.flush()
    assert "community.timezone" in {e.action for e in await runtime.audit.recent(limit=50)}


async def test_communities_do_not_share_items(runtime: Runtime, clock: ManualClock) -> None:
    await say(runtime, "!inventory add camera", **MOD)
    elsewhere = {"channel": "another-channel"}  # a console channel of its own: another community
    assert await say(runtime, "!inventory list", **elsewhere) == ["No items yet."]
    assert await say(runtime, "!inventory checkout camera", **elsewhere) == [
        "There is no item camera here."
    ]
    assert await say(runtime, "!inventory add camera", **MOD, **elsewhere) == ["Added item camera."]
    assert await say(runtime, "!inventory checkout camera", user="bob", **elsewhere) == [
        "@bob, camera is yours. Check it in with !inventory checkin camera"
    ]
    assert await say(runtime, "!inventory list") == ["Items: camera"]


# --- the service on both databases, racing ------------------------------------------------


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = Database(db_url, pool_size=25, max_overflow=5)
    yield database
    await database.close()


@pytest.fixture
async def service(db: Database) -> AsyncIterator[InventoryService]:
    audit = AuditLog(db)
    audit.start()
    yield InventoryService(db, audit)
    await audit.stop()


async def new_community(db: Database) -> int:
    async with db.session() as session:
        community = Community(name="Waddle TV")
        session.add(community)
        await session.flush()
        return community.id


async def test_two_checkouts_at_the_same_moment_give_the_item_to_one(
    db: Database, service: InventoryService
) -> None:
    community = await new_community(db)
    for round_ in range(5):
        await service.add(community, f"camera{round_}")
        people = range(10)
        outcomes = await asyncio.gather(
            *(service.checkout(community, f"camera{round_}", None, f"@p{n}") for n in people),
            return_exceptions=True,
        )
        winners = [o for o in outcomes if not isinstance(o, BaseException)]
        losers = [o for o in outcomes if isinstance(o, BaseException)]
        assert len(winners) == 1
        assert all(isinstance(o, ItemTaken) for o in losers), losers
        assert {o.holder for o in losers if isinstance(o, ItemTaken)} == {winners[0].holder_name}
        _, lendings = await service.history(community, f"camera{round_}")
        assert [lending.user_name for lending in lendings] == [winners[0].holder_name]


async def test_two_checkins_at_the_same_moment_close_one_lending(
    db: Database, service: InventoryService
) -> None:
    community = await new_community(db)
    await service.add(community, "mic")
    await service.checkout(community, "mic", None, "@bob")
    outcomes = await asyncio.gather(
        *(service.checkin(community, "mic") for _ in range(6)), return_exceptions=True
    )
    assert sum(not isinstance(o, BaseException) for o in outcomes) == 1
    assert all(isinstance(o, InventoryError) for o in outcomes if isinstance(o, BaseException))


async def test_service_scopes_everything_to_its_community(
    db: Database, service: InventoryService
) -> None:
    a, b = await new_community(db), await new_community(db)
    await service.add(a, "tent")
    with pytest.raises(UnknownItem):
        await service.checkout(b, "tent", None, "@x")
    with pytest.raises(UnknownItem):
        await service.remove(b, "tent")
    assert await service.search(b, ["tent"]) == []
    await service.checkout(a, "tent", None, "@x")
    with pytest.raises(NotTheHolder):
        await service.checkin(a, "tent", holder_user_id=12345)
