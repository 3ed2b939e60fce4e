"""The calendar end to end through the console (embedded on SQLite, distributed on PostgreSQL
and Redis): every ``!event`` form, approvals and who may give them, attendees and capacity,
recurring events, time zones, isolation between communities, and approvals racing each other
on real databases."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.support.harness import say
from waddlebot.core.clock import ManualClock
from waddlebot.features.calendar.events import (
    AlreadyDecided,
    CalendarService,
    EventFull,
    NewEvent,
    UnknownEvent,
)
from waddlebot.features.labels.service import LabelService
from waddlebot.infra.audit import AuditLog
from waddlebot.infra.db import Database
from waddlebot.infra.db.models import Community
from waddlebot.runtime import Runtime

MOD = {"role": "moderator", "user": "mia"}
ADMIN = {"role": "admin", "user": "ada"}
USAGE = 'Usage: !event add "<title>" <when> [duration] [weekly|monthly] [-max=N] [description] |'


@pytest.fixture
def clock(runtime: Runtime) -> ManualClock:
    clock = ManualClock()  # Thursday 2026-01-01 12:00 UTC
    runtime.calendar.clock = clock
    runtime.calendar_feeds.clock = clock
    return clock


async def test_every_command_form(runtime: Runtime, clock: ManualClock) -> None:
    assert await say(
        runtime, '!event add "Movie night" friday 20:00 2h weekly Bring snacks!', **MOD
    ) == ["Added event #1: Movie night, Fri 2 Jan 20:00 UTC, 2h, weekly. Join with !event join 1"]
    assert await say(runtime, "!event add Pub quiz tomorrow 8pm", user="bob") == [
        "Event #2 (Pub quiz, Fri 2 Jan 20:00 UTC, 1h) waits for a moderator's approval."
    ]
    assert await say(runtime, "!events list") == [
        "Upcoming: #1 Movie night, Fri 2 Jan 20:00 UTC (weekly)"
    ]
    assert await say(runtime, "!event list pending", user="bob") == [
        "Only moderators and up can list the events waiting for approval."
    ]
    assert await say(runtime, "!event list pending", **MOD) == [
        "Waiting for approval: #2 Pub quiz, Fri 2 Jan 20:00 UTC, by @bob"
    ]
    assert await say(runtime, "!event approve 2", user="bob") == [
        "Only moderators and up can approve events."
    ]
    assert await say(runtime, "!event approve #2 sounds fun", **MOD) == [
        "Approved event #2: Pub quiz, Fri 2 Jan 20:00 UTC, 1h (added by @bob): sounds fun."
    ]
    assert await say(runtime, "!event approve 2", user="max", role="moderator") == [
        "Event #2 was approved already by @mia."
    ]
    assert await say(runtime, "!event list pending", **MOD) == ["No events wait for approval."]
    assert await say(runtime, "!event join 1", user="bob") == [
        "@bob, you're going to Movie night (#1, Fri 2 Jan 20:00 UTC). 1 going."
    ]
    assert await say(runtime, "!event join 1", user="bob") == [
        "@bob, you're on the list for Movie night already."
    ]
    assert await say(runtime, "!event join 1", user="carol") == [
        "@carol, you're going to Movie night (#1, Fri 2 Jan 20:00 UTC). 2 going."
    ]
    assert await say(runtime, "!event show 1") == [
        "#1 Movie night, Fri 2 Jan 20:00 UTC, 2h, weekly. Added by @mia. 2 going: @bob, @carol. "
        "Bring snacks!"
    ]
    assert await say(runtime, "!event next") == [
        "Next: #1 Movie night, Fri 2 Jan 20:00 UTC, 2h, weekly (in 1 day 8 hours). 2 going. "
        "Join with !event join 1"
    ]
    assert await say(runtime, "!event leave 1", user="carol") == [
        "@carol, you're off the list for Movie night."
    ]
    assert await say(runtime, "!event leave 1", user="carol") == [
        "@carol, you weren't on the list for Movie night."
    ]
    assert await say(runtime, "!event cancel 2", user="carol") == [
        "Only the person who added it or a moderator can cancel it."
    ]
    assert await say(runtime, "!event cancel 2", user="bob") == ["Cancelled event #2: Pub quiz."]
    assert await say(runtime, "!event cancel 2", user="bob") == ["Event #2 is cancelled already."]
    assert await say(runtime, "!event show 2") == [
        "#2 Pub quiz, Fri 2 Jan 20:00 UTC, 1h, cancelled. Added by @bob. 0 going."
    ]
    assert await say(runtime, "!event add Karaoke 2026-01-10 21:30 90m", user="bob") == [
        "Event #3 (Karaoke, Sat 10 Jan 21:30 UTC, 1h 30m) waits for a moderator's approval."
    ]
    assert await say(runtime, "!event join 3", user="carol") == ["Event #3 is not approved yet."]
    assert await say(runtime, "!event reject 3 clashes with the quiz", **MOD) == [
        "Rejected event #3: Karaoke (added by @bob): clashes with the quiz."
    ]
    assert await say(runtime, "!event show 3") == [
        "#3 Karaoke, Sat 10 Jan 21:30 UTC, 1h 30m, rejected (clashes with the quiz). "
        "Added by @bob. 0 going."
    ]
    # the weekly event moves on once an occurrence is over
    clock.advance(days=1, hours=10)  # Friday 22:00: the first movie night just ended
    assert await say(runtime, "!event list") == [
        "Upcoming: #1 Movie night, Fri 9 Jan 20:00 UTC (weekly)"
    ]
    assert await say(runtime, "!event cancel 1", **MOD) == [
        "Cancelled event #1: Movie night. @bob was going."
    ]
    assert await say(runtime, "!event list") == ["No upcoming events."]
    assert await say(runtime, "!event next") == ["No upcoming events."]
    await runtime.audit.flush()
    actions = {e.action for e in await runtime.audit.recent(limit=200)}
    assert {
        "event.add",
        "event.approve",
        "event.reject",
        "event.cancel",
        "event.join",
        "event.leave",
    } <= actions


async def test_capacity_repeats_and_options(runtime: Runtime, clock: ManualClock) -> None:
    assert await say(
        runtime, '!event add "Board games" 3pm saturday -max=2 every 2 weeks', **MOD
    ) == [
        "Added event #1: Board games, Sat 3 Jan 15:00 UTC, 1h, every 2 weeks. "
        "Join with !event join 1"
    ]
    assert await say(runtime, "!event join 1", user="bob") == [
        "@bob, you're going to Board games (#1, Sat 3 Jan 15:00 UTC). 1 of 2 going."
    ]
    await say(runtime, "!event join 1", user="carol")
    assert await say(runtime, "!event join 1", user="dave") == [
        "Board games is full (2 of 2 going)."
    ]
    assert await say(runtime, '!event add "Dev stream" 2026-01-31 18:00 monthly', **MOD) == [
        "Added event #2: Dev stream, Sat 31 Jan 18:00 UTC, 1h, monthly. Join with !event join 2"
    ]
    assert await say(runtime, '!event add "Jam" mon 9 am 1d every other week', **MOD) == [
        "Added event #3: Jam, Mon 5 Jan 09:00 UTC, 1d, every 2 weeks. Join with !event join 3"
    ]
    clock.advance(days=31)  # 1 Feb: a monthly event on the 31st skips February
    assert await say(runtime, "!event list") == [
        "Upcoming: #3 Jam, Mon 2 Feb 09:00 UTC (every 2 weeks), "
        "#1 Board games, Sat 14 Feb 15:00 UTC (every 2 weeks), "
        "#2 Dev stream, Tue 31 Mar 18:00 UTC (monthly)"
    ]


async def test_autoapprove_label(runtime: Runtime, clock: ManualClock) -> None:
    await say(runtime, "hi", user="bob")
    assert await say(runtime, "!label create event-autoapprove", **ADMIN) == [
        "Created label event-autoapprove."
    ]
    assert await say(runtime, "!label add @bob event-autoapprove", **MOD) == [
        "@bob now has event-autoapprove."
    ]
    assert await say(runtime, '!event add "Speedrun night" friday 19:30', user="bob") == [
        "Added event #1: Speedrun night, Fri 2 Jan 19:30 UTC, 1h. Join with !event join 1"
    ]
    assert await say(runtime, '!event add "Other" friday 19:30', user="carol") == [
        "Event #2 (Other, Fri 2 Jan 19:30 UTC, 1h) waits for a moderator's approval."
    ]


async def test_times_are_read_in_the_community_time_zone(
    runtime: Runtime, clock: ManualClock
) -> None:
    await say(runtime, "!community timezone America/New_York", **ADMIN)
    # 12:00 UTC is 07:00 in New York; "today 8am" is an hour from now
    assert await say(runtime, '!event add "Coffee" today 8am weekly', **MOD) == [
        "Added event #1: Coffee, Thu 1 Jan 08:00 EST, 1h, weekly. Join with !event join 1"
    ]
    event = await runtime.calendar.get(1, 1)
    assert event is not None and event.starts_at == datetime(2026, 1, 1, 13, 0, tzinfo=UTC)
    clock.advance(days=70)  # past the switch to summer time: still 08:00 there
    assert await say(runtime, "!event list") == [
        "Upcoming: #1 Coffee, Thu 12 Mar 08:00 EDT (weekly)"
    ]
    (gap,) = await say(runtime, '!event add "Ghost" 2026-03-08 02:30', **MOD)
    assert "02:30 does not exist on 2026-03-08 in America/New_York" in gap


async def test_reminder_offsets(runtime: Runtime, clock: ManualClock) -> None:
    assert await say(runtime, "!event reminders") == [
        "The people going to an event are reminded 1 day and 15 minutes before it starts."
    ]
    assert await say(runtime, "!event reminders 2h", **MOD) == [
        "Only admins and up can set the reminders."
    ]
    assert await say(runtime, "!event reminders 3d 2h 10m", **ADMIN) == [
        "The people going to an event are reminded 3 days, 2 hours and 10 minutes before it starts."
    ]
    assert await say(runtime, "!event reminders off", **ADMIN) == [
        "No reminders are sent before events."
    ]
    (wrong,) = await say(runtime, "!event reminders soon", **ADMIN)
    assert wrong.startswith(USAGE) and "'soon' is not a time before the start" in wrong
    (far,) = await say(runtime, "!event reminders 8d", **ADMIN)
    assert "a reminder comes 1 minute to 7 days before the start" in far
    await runtime.audit.flush()
    assert "event.reminders" in {e.action for e in await runtime.audit.recent(limit=50)}


async def test_mistakes_get_a_usage_line(runtime: Runtime, clock: ManualClock) -> None:
    problems = {
        "!event": "say what to do: add, list, next",
        "!event add": "what is the event called, and when?",
        "!event add Movie night": "when is it?",
        '!event add "Movie night" friday': "at what time on friday?",
        '!event add "Movie night" 8pm': "on which day? e.g. 8pm tomorrow",
        '!event add "Movie night" 2026-02-30 20:00': "2026-02-30 is not a date",
        '!event add "Movie night" friday 25:00': "25:00 is not a time of day",
        '!event add "Movie night" friday 13pm': "13pm is not a time of day",
        '!event add "Movie night" 2025-06-01 20:00': "2025-06-01 20:00 has passed already",
        '!event add "Movie night" today 9am': "today 09:00 has passed already",
        '!event add "Movie night" 2030-01-01 20:00': "that is more than 3 years ahead",
        '!event add "Movie night" friday 8pm 9d': "an event lasts from 1 minute to 7 days",
        '!event add "Movie night" friday 8pm 2h 3h': "give the duration once",
        '!event add "Movie night" friday 8pm every day': "every week, every month",
        '!event add "Movie night" friday 8pm every 13 weeks': "every 1 to 12 weeks or months",
        '!event add "Movie night" friday 8pm -max=none': "-max= takes how many people",
        f'!event add "{"x" * 101}" friday 8pm': "a title is at most 100 characters",
        "!event join": "which event?",
        "!event join soon": "'soon' is not an event number",
        "!event join 1 2": "just the event's number",
        "!event list all": "list takes pending, or nothing",
        "!event next week": "next takes nothing after it",
        "!event feed now": "feed takes rotate, off, or nothing",
    }
    for line, problem in problems.items():
        (answer,) = await say(runtime, line, **ADMIN)
        assert answer.startswith(USAGE), line
        assert problem in answer, (line, answer)
    (long,) = await say(runtime, f'!event add "x" friday 8pm {"d" * 501}', **MOD)
    assert long.startswith(USAGE) and "a description is at most 500 characters" in long
    assert await say(runtime, "!event join 99") == ["There is no event #99 here."]
    assert await say(runtime, "!event approve 99", **MOD) == ["There is no event #99 here."]


async def test_the_feed_link_goes_to_admins_by_private_message(
    runtime: Runtime, clock: ManualClock
) -> None:
    assert await say(runtime, "!event feed", **MOD) == [
        "Only admins and up can manage the calendar feed."
    ]
    private, public = await say(runtime, "!event feed", **ADMIN)
    assert private.startswith(
        "(private) The calendar feed of this community: "
        "http://127.0.0.1:8000/api/v1/calendar/1/feed.ics?token="
    )
    assert public == "@ada, I sent you the calendar feed's link by private message."
    token = private.split("token=")[1].split(" ")[0]
    assert len(token) >= 43
    assert await say(runtime, "!event feed", **ADMIN) == [
        "The calendar feed has a link since Thu 1 Jan 12:00 UTC; it is shown once. "
        "!event feed rotate makes a new one (the old link stops working)."
    ]
    assert await runtime.calendar_feeds.render(1, token) is not None
    rotated, said = await say(runtime, "!event feed rotate", **ADMIN)
    assert said.endswith("The old link no longer works.")
    assert await runtime.calendar_feeds.render(1, token) is None
    assert await runtime.calendar_feeds.render(1, rotated.split("token=")[1].split(" ")[0])
    assert await say(runtime, "!event feed off", **ADMIN) == [
        "The calendar feed is off; its link no longer works."
    ]
    assert await say(runtime, "!event feed off", **ADMIN) == [
        "There is no calendar feed to turn off."
    ]


async def test_communities_do_not_share_events(runtime: Runtime, clock: ManualClock) -> None:
    await say(runtime, '!event add "Movie night" friday 20:00', **MOD)
    elsewhere = {"channel": "another-channel"}
    assert await say(runtime, "!event list", **elsewhere) == ["No upcoming events."]
    assert await say(runtime, "!event join 1", user="bob", **elsewhere) == [
        "There is no event #1 here."
    ]
    assert await say(runtime, "!event cancel 1", **MOD, **elsewhere) == [
        "There is no event #1 here."
    ]
    assert await say(runtime, "!event show 1", **elsewhere) == ["There is no event #1 here."]
    assert await say(runtime, "!event list") == ["Upcoming: #1 Movie night, Fri 2 Jan 20:00 UTC"]


# --- the service on both databases, racing ------------------------------------------------


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = Database(db_url, pool_size=25, max_overflow=5)
    yield database
    await database.close()


@pytest.fixture
async def service(db: Database) -> AsyncIterator[CalendarService]:
    audit = AuditLog(db)
    audit.start()
    yield CalendarService(db, audit, LabelService(db, audit), ManualClock())
    await audit.stop()


async def new_community(db: Database) -> int:
    async with db.session() as session:
        community = Community(name="Waddle TV")
        session.add(community)
        await session.flush()
        return community.id


def soon(title: str = "Quiz", capacity: int | None = None) -> NewEvent:
    return NewEvent(
        title=title,
        starts_at=datetime(2026, 1, 2, 20, 0, tzinfo=UTC),
        timezone="UTC",
        capacity=capacity,
    )


async def test_two_moderators_deciding_at_once_one_wins(
    db: Database, service: CalendarService
) -> None:
    community = await new_community(db)
    for _ in range(3):
        event = await service.add(
            community, soon(), creator_user_id=None, creator_name="@bob", level=100
        )
        assert event.status == "pending"
        outcomes = await asyncio.gather(
            *(
                service.decide(community, event.id, n % 2 == 0, decider=f"@mod{n}")
                for n in range(8)
            ),
            return_exceptions=True,
        )
        winners = [o for o in outcomes if not isinstance(o, BaseException)]
        assert len(winners) == 1, outcomes
        losers = [o for o in outcomes if isinstance(o, BaseException)]
        assert all(isinstance(o, AlreadyDecided) for o in losers), losers
        decided = winners[0]
        assert all(
            isinstance(o, AlreadyDecided)
            and o.event.status == decided.status
            and o.event.decided_by_name == decided.decided_by_name
            for o in losers
        )


async def test_joins_racing_for_the_last_places_respect_the_capacity(
    db: Database, service: CalendarService
) -> None:
    from waddlebot.infra.directory import Directory

    community = await new_community(db)
    event = await service.add(
        community, soon(capacity=3), creator_user_id=None, creator_name="@mia", level=None
    )
    directory = Directory(db)
    people = [await directory.ensure_identity("console", f"p{n}", login=f"p{n}") for n in range(8)]
    outcomes = await asyncio.gather(
        *(service.join(community, event.id, person, f"@p{person}") for person in people),
        return_exceptions=True,
    )
    assert sum(not isinstance(o, BaseException) for o in outcomes) == 3
    assert all(isinstance(o, EventFull) for o in outcomes if isinstance(o, BaseException))
    assert len(await service.attendees(community, event.id)) == 3


async def test_events_belong_to_their_community(db: Database, service: CalendarService) -> None:
    a, b = await new_community(db), await new_community(db)
    event = await service.add(a, soon(), creator_user_id=None, creator_name="@x", level=100)
    assert await service.get(b, event.id) is None
    with pytest.raises(UnknownEvent):
        await service.decide(b, event.id, True)
    with pytest.raises(UnknownEvent):
        await service.cancel(b, event.id, user_id=None, level=None)
    assert await service.pending(b) == [] and len(await service.pending(a)) == 1
    assert await service.upcoming(b, datetime(2026, 1, 1, tzinfo=UTC) - timedelta(days=1)) == []
