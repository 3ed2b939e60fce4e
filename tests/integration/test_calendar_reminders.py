"""Reminders to the people going to an event, with a controlled clock: posted in the channel
the event was added in as the scheduler ticks (embedded and distributed), for every
occurrence of a recurring event, never for nobody, at most once when reminders were missed;
and exactly once when two processes' schedulers and reminder jobs share PostgreSQL and
Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

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
from waddlebot.core.contract import OutboundMessage
from waddlebot.features.calendar.events import CalendarService, NewEvent
from waddlebot.features.calendar.reminders import ReminderJob
from waddlebot.features.labels.service import LabelService
from waddlebot.infra.audit import AuditLog
from waddlebot.infra.db import Database
from waddlebot.infra.directory import Directory
from waddlebot.infra.ports import Bus, Ports
from waddlebot.platforms import CONSOLE
from waddlebot.platforms.console.collector import ConsoleSession
from waddlebot.runtime import Runtime

MOD = {"role": "moderator", "user": "mia"}


@pytest.fixture
async def clock(runtime: Runtime) -> ManualClock:
    """Stops the runtime's scheduler loop (the test ticks by hand) and puts the calendar,
    its reminders and the scheduler on one manual clock (Thursday 2026-01-01 12:00 UTC)."""
    await runtime.scheduler.stop()
    clock = ManualClock()
    runtime.calendar.clock = clock
    runtime.calendar_reminders.clock = clock
    runtime.scheduler.clock = clock
    return clock


async def reminders(bus: Bus, platform: str = "console") -> list[OutboundMessage]:
    """Reminders put on the platform's reply stream since the last call."""
    return await scheduled.posted(bus, platform, "event:")


async def texts(runtime: Runtime) -> list[str]:
    return [m.text for m in await reminders(runtime.ports.bus)]


async def shown(session: ConsoleSession) -> str:
    line = await asyncio.wait_for(session.lines.get(), 5)
    return line.text


async def test_people_going_are_reminded_in_the_channel(
    runtime: Runtime, clock: ManualClock
) -> None:
    console = runtime.collector(CONSOLE)
    assert console is not None
    await say(runtime, '!event add "Movie night" friday 20:00 2h weekly', **MOD)
    await say(runtime, "!event join 1", user="bob")
    await say(runtime, "!event join 1", user="carol")
    watcher = console.open("dave", "everyone", "local")
    elsewhere = console.open("erin", "everyone", "another-channel")
    try:
        await tick(runtime, clock, hours=7, minutes=59)  # Thursday 19:59: not quite a day ahead
        assert await texts(runtime) == []
        await tick(runtime, clock, minutes=1)
        assert await shown(watcher) == (
            "Reminder: Movie night (#1) starts in 1 day, Fri 2 Jan 20:00 UTC. Going: @bob, @carol"
        )
        (message,) = await reminders(runtime.ports.bus)
        assert (message.platform, message.entity_id, message.channel_id) == (
            "console",
            "console:local",
            "local",
        )
        await tick(runtime, clock, hours=23, minutes=44)  # 19:44: 16 minutes to go
        assert await texts(runtime) == []
        await say(runtime, "!event leave 1", user="carol")
        await tick(runtime, clock, minutes=1, seconds=3)  # a tick a little late
        assert await texts(runtime) == [
            "Reminder: Movie night (#1) starts in 15 minutes, Fri 2 Jan 20:00 UTC. Going: @bob"
        ]
        await tick(runtime, clock, hours=1)
        assert await texts(runtime) == []
        await tick(runtime, clock, days=5, hours=23, minutes=15)  # Thursday 8 Jan, 20:00
        assert await texts(runtime) == [
            "Reminder: Movie night (#1) starts in 1 day, Fri 9 Jan 20:00 UTC. Going: @bob"
        ]
        assert elsewhere.lines.empty()  # only in the channel the event was added in
    finally:
        console.close(watcher)
        console.close(elsewhere)


async def test_no_one_going_no_reminder_and_missed_ones_come_once(
    runtime: Runtime, clock: ManualClock
) -> None:
    await say(runtime, '!event add "Quiz" friday 20:00', **MOD)
    await say(runtime, '!event add "Jam" saturday 20:00', **MOD)
    await say(runtime, "!event join 2", user="bob")
    await tick(runtime, clock, days=1, hours=7, minutes=50)  # Friday 19:50
    assert await texts(runtime) == []  # nobody is going to the quiz
    await tick(runtime, clock, days=1)  # Saturday 19:50: both Jam reminders were missed
    assert await texts(runtime) == [
        "Reminder: Jam (#2) starts in 10 minutes, Sat 3 Jan 20:00 UTC. Going: @bob"
    ]
    await tick(runtime, clock, minutes=5)
    assert await texts(runtime) == []


async def test_pending_cancelled_and_silenced_events_remind_no_one(
    runtime: Runtime, clock: ManualClock
) -> None:
    await say(runtime, '!event add "Waiting" friday 20:00', user="bob")
    await say(runtime, '!event add "Called off" friday 20:00', **MOD)
    await say(runtime, "!event join 2", user="bob")
    await say(runtime, "!event cancel 2", **MOD)
    await say(runtime, '!event add "Quiet" friday 21:00', **MOD)
    await say(runtime, "!event join 3", user="bob")
    await say(runtime, "!event reminders off", role="admin", user="ada")
    await tick(runtime, clock, days=1, hours=8)  # Friday 20:00
    assert await texts(runtime) == []
    await say(runtime, "!event reminders 30m", role="admin", user="ada")  # events rescheduled
    await tick(runtime, clock, minutes=30)
    assert await texts(runtime) == [
        "Reminder: Quiet (#3) starts in 30 minutes, Fri 2 Jan 21:00 UTC. Going: @bob"
    ]


# --- two processes -----------------------------------------------------------------------


Jobs = Process[ReminderJob]


@pytest.fixture
async def processes(
    fresh_postgres_url: str, redis_url: str, key_prefix: str
) -> AsyncIterator[tuple[Jobs, Jobs, ManualClock]]:
    clock = ManualClock()

    def job(db: Database, ports: Ports, audit: AuditLog) -> ReminderJob:
        return ReminderJob(db, ports.bus, clock)

    async with two_processes(
        fresh_postgres_url, redis_url, key_prefix, clock, "calendar.reminders", job
    ) as (first, second):
        yield first, second, clock


async def add_events(process: Jobs, clock: ManualClock, count: int) -> int:
    """``count`` weekly events at Friday 20:00 with one person going, in console:local."""
    directory = Directory(process.db)
    place = await directory.resolve_entity("console:local", "console", channel_id="local")
    calendar = CalendarService(
        process.db, process.audit, LabelService(process.db, process.audit), clock
    )
    bob = await directory.ensure_identity("console", "bob", login="bob")
    for n in range(count):
        event = await calendar.add(
            place.community_id,
            NewEvent(
                title=f"e{n}",
                starts_at=datetime(2026, 1, 2, 20, 0, tzinfo=UTC),
                timezone="UTC",
                rrule="FREQ=WEEKLY",
                entity_id="console:local",
            ),
            creator_user_id=None,
            creator_name="@mia",
            level=None,
        )
        await calendar.join(place.community_id, event.id, bob, "@bob")
    return place.community_id


async def test_two_processes_remind_each_time_exactly_once(
    processes: tuple[Jobs, Jobs, ManualClock],
) -> None:
    first, second, clock = processes
    await add_events(first, clock, 30)
    ids: list[str] = []
    clock.advance(hours=8)  # Friday 20:00 is a day away
    for _ in range(3):  # three weeks
        await both_tick(first, second)  # the lease lets only one of them run the job
        ids += [m.outbound_id for m in await reminders(first.ports.bus)]
        clock.advance(hours=23, minutes=45)  # 15 minutes before
        # and if both believed they led (a lease changing hands), each reminder posts once
        counts = await asyncio.gather(first.service.fire_due(), second.service.fire_due())
        assert sum(counts) == 30
        ids += [m.outbound_id for m in await reminders(second.ports.bus)]
        clock.advance(days=6, minutes=15)  # a day before the next week's
    assert len(ids) == len(set(ids)) == 3 * 2 * 30


async def test_a_reminder_both_processes_saw_due_is_claimed_by_one(
    processes: tuple[Jobs, Jobs, ManualClock], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worst interleaving, forced: the first process has read the due reminders, then the
    second claims and posts them all before the first gets to claim them."""
    first, second, clock = processes
    await add_events(first, clock, 10)
    clock.advance(hours=8)
    seen = claim_after_the_other(monkeypatch, first, second, 10)
    assert await first.service.fire_due() == 0
    assert seen == [10]
    ids = [m.outbound_id for m in await reminders(first.ports.bus)]
    assert len(ids) == len(set(ids)) == 10
