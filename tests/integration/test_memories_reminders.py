"""Reminders end to end with a controlled clock: every ``!remind`` form through the console,
delivery (privately, or in a place) as the scheduler ticks, times in the community's time zone,
recurring ones moving on, reminders surviving a restart, and each one sent exactly once when
two processes share one PostgreSQL and Redis (also when one dies half way)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from tests.support import scheduled
from tests.support.harness import say
from tests.support.scheduled import (
    Process,
    both_tick,
    claim_after_the_other,
    tick,
    two_processes,
)
from waddlebot.core.clock import ManualClock
from waddlebot.core.contract import OutboundMessage, Visibility
from waddlebot.core.language import When
from waddlebot.core.permissions import Level
from waddlebot.features.memories.models import Reminder
from waddlebot.features.memories.reminders import CLAIM
from waddlebot.features.memories.service import Author, Place, ReminderService
from waddlebot.infra.audit import AuditLog
from waddlebot.infra.db import Database
from waddlebot.infra.db.models import Community, Entity
from waddlebot.infra.directory import Directory
from waddlebot.infra.ports import Bus, Ports
from waddlebot.platforms import CONSOLE
from waddlebot.platforms.console.collector import ConsoleSession
from waddlebot.runtime import Runtime
from waddlebot.settings import Settings

MOD = {"role": "moderator", "user": "mia"}
START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)  # a Thursday


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """More commands per person than the default 20 in 30 seconds: a test types quickly."""
    return settings.model_copy(update={"rate_user_per_30s": 500, "rate_entity_per_30s": 1000})


def put_on(runtime: Runtime, clock: ManualClock) -> None:
    """Stop the runtime's scheduler loop (the test ticks by hand) and put the reminders and
    the scheduler on one manual clock."""
    runtime.memories.reminders.clock = clock
    runtime.scheduler.clock = clock


@pytest.fixture
async def clock(runtime: Runtime) -> ManualClock:
    await runtime.scheduler.stop()
    clock = ManualClock(START)
    put_on(runtime, clock)
    return clock


async def posted(bus: Bus, platform: str = "console") -> list[OutboundMessage]:
    """Reminders put on the platform's reply stream since the last call."""
    return await scheduled.posted(bus, platform, "reminder:")


async def texts(runtime: Runtime) -> list[str]:
    return sorted(message.text for message in await posted(runtime.ports.bus))


async def shown(session: ConsoleSession) -> str:
    line = await asyncio.wait_for(session.lines.get(), 5)
    return ("(private) " if line.private else "") + line.text


async def community_of(runtime: Runtime, channel: str = "local") -> int:
    return (await runtime.directory.resolve_entity(f"console:{channel}", "console")).community_id


async def add_place(runtime: Runtime, community_id: int, channel: str) -> None:
    """Another console channel in the same community (as ``!community join`` would make)."""
    async with runtime.db.session() as session:
        session.add(
            Entity(
                id=f"console:{channel}",
                community_id=community_id,
                platform="console",
                channel_id=channel,
            )
        )


async def set_timezone(runtime: Runtime, community_id: int, zone: str) -> None:
    async with runtime.db.session() as session:
        await session.execute(
            update(Community)
            .where(Community.id == community_id)
            .values(settings={"timezone": zone})
        )


# --- commands ----------------------------------------------------------------------------


async def test_every_reminder_form(runtime: Runtime, clock: ManualClock) -> None:
    await add_place(runtime, await community_of(runtime), "studio")
    assert await say(runtime, "!remind me in 10m check the oven") == [
        "Reminder #1: today at 12:10 UTC (in 10m), by private message."
    ]
    assert await say(runtime, "!remind ME at 18:30 stream ends") == [
        "Reminder #2: today at 18:30 UTC (in 6h 30m), by private message."
    ]
    assert await say(runtime, "!remind me at 9:15am coffee") == [
        "Reminder #3: tomorrow at 09:15 UTC (in 21h 15m), by private message."
    ]
    assert await say(runtime, "!remind me 1h30m stretch") == [
        "Reminder #4: today at 13:30 UTC (in 1h 30m), by private message."
    ]
    assert await say(runtime, "!remind here in 2 hours and 5 minutes raid!", **MOD) == [
        "Reminder #5: today at 14:05 UTC (in 2h 5m), here."
    ]
    assert await say(runtime, "!remind #local every monday 20:00 raid night", **MOD) == [
        "Reminder #6: every Monday at 20:00 UTC, here."
    ]
    assert await say(runtime, "!remind #Studio every day at 8pm going live soon", **MOD) == [
        "Reminder #7: every day at 20:00 UTC, in console:studio."
    ]
    assert await say(runtime, "!remind #studio in 3d tidy up", **MOD) == [
        "Reminder #8: on 2026-01-04 at 12:00 UTC (in 3d), in console:studio."
    ]
    assert await say(runtime, "!reminders") == [
        "Reminders: #1 today at 12:10 UTC (in 10m), by private message: check the oven, "
        "#4 today at 13:30 UTC (in 1h 30m), by private message: stretch, "
        "#5 today at 14:05 UTC (in 2h 5m), here: raid!, "
        "#2 today at 18:30 UTC (in 6h 30m), by private message: stream ends, "
        "#7 every day at 20:00 UTC, in console:studio: going live soon, "
        "#3 tomorrow at 09:15 UTC (in 21h 15m), by private message: coffee ... and 2 more"
    ]
    # another person sees the reminders for places, never someone else's private ones
    (listing,) = await say(runtime, "!remind list", user="bob")
    assert listing.startswith("Reminders: #5 today at 14:05 UTC (in 2h 5m), here: raid!, #7")
    assert "by private message" not in listing
    assert await say(runtime, "!remind cancel 1", user="bob") == ["There is no reminder #1 here."]
    assert await say(runtime, "!remind cancel 5", user="bob") == [
        "Only moderators and up, and whoever set it, can cancel a reminder."
    ]
    assert await say(runtime, "!remind cancel 1") == ["Cancelled reminder #1."]
    assert await say(runtime, "!remind cancel 5", **MOD) == ["Cancelled reminder #5."]
    assert await say(runtime, "!remind cancel 1") == ["There is no reminder #1 here."]
    assert await say(runtime, "!reminders", user="bob") == [
        "Reminders: #7 every day at 20:00 UTC, in console:studio: going live soon, "
        "#8 on 2026-01-04 at 12:00 UTC (in 3d), in console:studio: tidy up, "
        "#6 every Monday at 20:00 UTC, here: raid night"
    ]
    await runtime.audit.flush()
    actions = [e.action for e in await runtime.audit.recent(limit=100)]
    assert actions.count("reminder.add") == 8 and actions.count("reminder.cancel") == 2


async def test_reminder_mistakes_and_refusals_are_clear(
    runtime: Runtime, clock: ManualClock
) -> None:
    problems = {
        "!remind": "!remind me in 10m stretch",
        "!remind you in 10m tea": "remind whom? me, here or a #channel",
        "!remind me": "when? e.g. in 10m, at 18:30, every monday 20:00 or every day 20:00",
        "!remind me soon tea": "when?",
        "!remind me in tea": "in how long?",
        "!remind me in 10x tea": "'10x' is not a duration",
        "!remind me in 0m tea": "a reminder is at least 1 minute away",
        "!remind me in 366d tea": "a reminder is at most 365 days away",
        "!remind me at 18 tea": "at what time? write it like 18:30",
        "!remind me at 25:00 tea": "'25:00' is not a time of day",
        "!remind me at 13:00pm tea": "with am or pm the hour is 1 to 12",
        "!remind me every funday 20:00 tea": "every what? a weekday or day",
        "!remind me every monday tea": "at what time?",
        "!remind me in 10m": "what should I remind you of?",
        f"!remind me in 10m {'x' * 301}": "a reminder is at most 300 characters",
        "!remind cancel": "which reminder? give its number",
        "!remind cancel two": "which reminder? give its number",
        "!remind list now": "list takes nothing after it",
        "!reminders now": "nothing goes after it",
    }
    for line, problem in problems.items():
        (answer,) = await say(runtime, line, **MOD)
        assert answer.startswith("Usage: !"), line
        assert problem in answer, (line, answer)
    assert await say(runtime, "!remind here in 10m hello") == [
        "Only moderators and up can set reminders for a channel; anyone can set one for themselves."
    ]
    assert await say(runtime, "!remind #nowhere in 10m hello", **MOD) == [
        "I know no channel #nowhere on console in this community."
    ]
    assert await say(runtime, "!remind #elsewhere in 10m hello", **MOD) == [
        "I know no channel #elsewhere on console in this community."
    ]
    for n in range(10):
        await say(runtime, f"!remind me in {n + 1}m number {n}")
    assert await say(runtime, "!remind me in 1h one too many") == [
        "You already have 10 reminders for yourself (the limit)."
    ]
    assert await say(runtime, "!remind me in 1h another person", user="bob") == [
        "Reminder #11: today at 13:00 UTC (in 1h), by private message."
    ]
    for n in range(11):  # reminders for channels are for moderators, and not counted so
        await say(
            runtime, f"!remind here in {n + 1}h announcement {n}", user="alice", role="moderator"
        )
    assert await say(runtime, "!remind here in 1d twelfth", user="alice", role="moderator") == [
        "Reminder #23: tomorrow at 12:00 UTC (in 1d), here."
    ]


# --- delivery ----------------------------------------------------------------------------


async def test_reminders_are_delivered_privately_or_in_their_place(
    runtime: Runtime, clock: ManualClock
) -> None:
    console = runtime.collector(CONSOLE)
    assert console is not None
    await add_place(runtime, await community_of(runtime), "studio")
    await say(runtime, "!remind me in 10m check the oven")  # alice
    await say(runtime, "!remind here in 15m raid soon", **MOD)
    await say(runtime, "!remind #studio in 15m lights on", **MOD)
    alice = console.open("alice", "everyone", "another-channel")
    bob = console.open("bob", "everyone", "local")
    studio = console.open("sam", "everyone", "studio")
    try:
        await tick(runtime, clock, minutes=9)
        assert await posted(runtime.ports.bus) == []
        await tick(runtime, clock, minutes=1)
        (message,) = await posted(runtime.ports.bus)
        assert (message.visibility, message.to_user, message.entity_id) == (
            Visibility.DIRECT,
            "alice",
            "",
        )
        assert await shown(alice) == "(private) Reminder: check the oven"  # wherever she is
        await tick(runtime, clock, minutes=5)
        assert await shown(bob) == "Reminder: raid soon"
        assert await shown(studio) == "Reminder: lights on"
        assert await texts(runtime) == ["Reminder: lights on", "Reminder: raid soon"]
        await tick(runtime, clock, hours=24)  # one-off reminders are gone once sent
        assert await posted(runtime.ports.bus) == []
        assert alice.lines.empty() and bob.lines.empty() and studio.lines.empty()
        assert await say(runtime, "!reminders") == [
            "No reminders set. Set one with !remind me in 10m <text>."
        ]
    finally:
        for session in (alice, bob, studio):
            console.close(session)


async def test_recurring_reminders_move_on_in_the_communitys_time_zone(
    runtime: Runtime, clock: ManualClock
) -> None:
    community = await community_of(runtime)
    await set_timezone(runtime, community, "Europe/Berlin")  # 13:00 there at START
    assert await say(runtime, "!remind here every monday 20:00 raid night", **MOD) == [
        "Reminder #1: every Monday at 20:00 Europe/Berlin, here."
    ]
    assert await say(runtime, "!remind me at 18:30 stretch") == [
        "Reminder #2: today at 18:30 Europe/Berlin (in 5h 30m), by private message."
    ]
    assert await say(runtime, "!remind here every day 12:00 lunch", **MOD) == [
        "Reminder #3: every day at 12:00 Europe/Berlin, here."
    ]
    await tick(runtime, clock, hours=5, minutes=29)  # 17:29 UTC, 18:29 in Berlin
    assert await texts(runtime) == []
    await tick(runtime, clock, minutes=1)
    assert await texts(runtime) == ["Reminder: stretch"]
    await tick(runtime, clock, hours=17, minutes=30)  # Friday 11:00 UTC, noon in Berlin
    assert await texts(runtime) == ["Reminder: lunch"]
    # the bot is down over the weekend: Saturday's, Sunday's and Monday's lunch are sent
    # once, late, and the raid (Monday 19:00 UTC) comes at its time
    await tick(runtime, clock, days=3, hours=7, minutes=59)  # Monday 18:59 UTC
    assert await texts(runtime) == ["Reminder: lunch"]
    await tick(runtime, clock, minutes=1)
    assert await texts(runtime) == ["Reminder: raid night"]
    await tick(runtime, clock, days=7)
    assert await texts(runtime) == ["Reminder: lunch", "Reminder: raid night"]
    reminders = await runtime.memories.reminders.list(community, viewer=_service())
    assert {(r.number, r.runs) for r in reminders} == {(1, 2), (3, 3)}
    assert [r.due_at for r in reminders] == [
        datetime(2026, 1, 13, 11, 0, tzinfo=UTC),  # Tuesday lunch
        datetime(2026, 1, 19, 19, 0, tzinfo=UTC),  # next Monday, 20:00 in Berlin
    ]


def _service() -> Author:
    return Author(name="test", user_id=None, level=None, actor="test")


async def test_a_place_that_left_the_community_gets_no_reminders(
    runtime: Runtime, clock: ManualClock
) -> None:
    community = await community_of(runtime)
    await add_place(runtime, community, "studio")
    await say(runtime, "!remind #studio in 10m not for you", **MOD)
    await say(runtime, "!remind #studio every day 13:00 nor this", **MOD)
    await say(runtime, "!remind me in 10m but this", user="sam", channel="studio")
    other = await community_of(runtime, "elsewhere")
    async with runtime.db.session() as session:
        await session.execute(
            update(Entity).where(Entity.id == "console:studio").values(community_id=other)
        )
    await tick(runtime, clock, minutes=10)
    assert await texts(runtime) == ["Reminder: but this"]  # a private one follows the person
    assert [
        r.number for r in await runtime.memories.reminders.list(community, viewer=_service())
    ] == [
        2  # the recurring one stays, and will post if the place comes back
    ]


async def test_a_community_that_switched_memories_off_gets_no_reminders(
    runtime: Runtime, clock: ManualClock
) -> None:
    community = await community_of(runtime)
    await say(runtime, "!remind here every day 12:10 stretch", **MOD)
    await say(runtime, "!remind here every day 12:10 water", channel="elsewhere", **MOD)
    owner = {"user": "olive", "role": "owner"}
    assert await say(runtime, "!module disable memories", **owner) == ["memories is off here now."]
    await tick(runtime, clock, minutes=10)
    assert await texts(runtime) == ["Reminder: water"]  # another community's own
    (stretch,) = await runtime.memories.reminders.list(community, viewer=_service())
    assert stretch.runs == 0  # not sent, and not counted as sent
    assert stretch.due_at == datetime(2026, 1, 2, 12, 10, tzinfo=UTC)  # it carries on
    assert await say(runtime, "!module enable memories", **owner) == ["memories is on here now."]
    await tick(runtime, clock, days=1)
    assert await texts(runtime) == ["Reminder: stretch", "Reminder: water"]


async def test_reminders_survive_a_restart(
    runtime: Runtime, clock: ManualClock, settings: Settings
) -> None:
    await say(runtime, "!remind me in 1h after the restart")
    await say(runtime, "!remind here every day 13:30 daily", **MOD)
    await runtime.stop()
    # without the router, the scheduler does not run by itself: the test ticks it
    again = await Runtime.start(settings, services=("api",))
    try:
        put_on(again, clock)
        await tick(again, clock, minutes=59)
        assert await texts(again) == []
        await tick(again, clock, minutes=1)
        assert await texts(again) == ["Reminder: after the restart"]
        await tick(again, clock, minutes=30)
        assert await texts(again) == ["Reminder: daily"]
    finally:
        await again.stop()


# --- two processes -----------------------------------------------------------------------


Reminders = Process[ReminderService]


@pytest.fixture
async def processes(
    fresh_postgres_url: str, redis_url: str, key_prefix: str
) -> AsyncIterator[tuple[Reminders, Reminders, ManualClock]]:
    clock = ManualClock(START)

    def reminders(db: Database, ports: Ports, audit: AuditLog) -> ReminderService:
        return ReminderService(db, audit, ports.bus, clock=clock)

    async with two_processes(
        fresh_postgres_url, redis_url, key_prefix, clock, "reminders", reminders
    ) as (first, second):
        yield first, second, clock


async def set_many(process: Reminders, count: int) -> tuple[int, Place]:
    """``count`` reminders, every tenth daily, the others once, private and not in turn,
    due 1 to 5 minutes from now; returns the community and the place."""
    found = await Directory(process.db).resolve_entity(
        "console:local", "console", channel_id="local"
    )
    place = Place("console:local", "console", "local")
    author = Author(name="mia", user_id=None, level=int(Level.MODERATOR), actor="mia")
    for n in range(count):
        when = When("daily", at=(START + timedelta(minutes=1)).time()) if n % 10 == 0 else None
        await process.service.add(
            found.community_id,
            place,
            when or When("once", delay=timedelta(minutes=1 + n % 5)),
            f"r{n}",
            author=author,
            to_user="alice" if n % 2 else "",
        )
    return found.community_id, place


async def test_two_processes_send_each_reminder_exactly_once(
    processes: tuple[Reminders, Reminders, ManualClock],
) -> None:
    first, second, clock = processes
    await set_many(first, 60)
    ids: list[str] = []
    for _ in range(5):
        clock.advance(minutes=1)
        await both_tick(first, second)  # the lease lets only one of them run the job
        ids += [m.outbound_id for m in await posted(first.ports.bus)]
    assert len(ids) == len(set(ids)) == 60
    clock.advance(days=1)
    # and if both believed they led (a lease changing hands), each is sent once
    counts = await asyncio.gather(first.service.fire_due(), second.service.fire_due())
    assert sum(counts) == 6  # the daily ones, a day later
    again = [m.outbound_id for m in await posted(second.ports.bus)]
    assert len(again) == len(set(again)) == 6 and not set(again) & set(ids)


async def test_a_reminder_both_processes_saw_due_is_claimed_by_one(
    processes: tuple[Reminders, Reminders, ManualClock], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worst interleaving, forced: the first process has read the due reminders, then
    the second claims and sends them all before the first gets to claim them."""
    first, second, clock = processes
    await set_many(first, 10)
    clock.advance(minutes=5)
    seen = claim_after_the_other(monkeypatch, first, second, 10)
    assert await first.service.fire_due() == 0
    assert seen == [10]
    ids = [m.outbound_id for m in await posted(first.ports.bus)]
    assert len(ids) == len(set(ids)) == 10


async def test_a_process_dying_after_its_claim_leaves_the_reminder_to_another(
    processes: tuple[Reminders, Reminders, ManualClock], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second, clock = processes
    community, _ = await set_many(first, 1)  # a daily one, due in a minute
    clock.advance(minutes=1)

    async def die(claimed: Any, now: Any) -> list[Any]:
        raise ConnectionError("gone before sending")

    monkeypatch.setattr(first.service, "_messages", die)
    with pytest.raises(ConnectionError):
        await first.service.fire_due()
    assert await second.service.fire_due() == 0  # the claim holds for a while
    clock.advance(seconds=CLAIM.total_seconds())
    assert await second.service.fire_due() == 1  # then another process sends it
    (message,) = await posted(second.ports.bus)
    assert message.text == "Reminder: r0"
    async with second.db.session() as session:
        row = await session.scalar(select(Reminder).where(Reminder.community_id == community))
        assert row is not None
        assert (row.runs, row.claimed_by, row.due_at) == (
            1,
            "",
            START + timedelta(days=1, minutes=1),
        )


async def test_channels_are_found_the_way_each_platform_names_them(runtime: Runtime) -> None:
    reminders = runtime.memories.reminders
    community = await community_of(runtime)
    async with runtime.db.session() as session:
        for entity_id, platform, channel in (
            ("twitch:1337", "twitch", "1337"),
            ("discord:9:123", "discord", "123"),
        ):
            session.add(
                Entity(id=entity_id, community_id=community, platform=platform, channel_id=channel)
            )
    await runtime.directory.ensure_identity("twitch", "1337", login="Streamer")
    found = {
        given: await reminders.place_named(community, platform, given)
        for platform, given in (
            ("twitch", "#streamer"),  # by the channel owner's login
            ("twitch", "#twitch:1337"),
            ("discord", "<#123>"),  # a Discord channel mention
            ("discord", "#123"),
            ("console", "#LOCAL"),
        )
    }
    assert {given: place.entity_id if place else None for given, place in found.items()} == {
        "#streamer": "twitch:1337",
        "#twitch:1337": "twitch:1337",
        "<#123>": "discord:9:123",
        "#123": "discord:9:123",
        "#LOCAL": "console:local",
    }
    assert await reminders.place_named(community, "discord", "#streamer") is None  # Twitch's
    other = await community_of(runtime, "elsewhere")
    assert await reminders.place_named(other, "twitch", "#streamer") is None
