"""Timers end to end with a controlled clock: every ``!timer`` form through the console, posts
reaching the console and the reply streams as the scheduler ticks, Twitch live gating with
events fed through the router, ``-lines`` gating, and exactly one post per run when two
processes' schedulers and timer services share one PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime

import pytest

from tests.support import scheduled
from tests.support.harness import chat_event, say
from tests.support.scheduled import (
    Process,
    both_tick,
    claim_after_the_other,
    tick,
    two_processes,
)
from waddlebot.core.clock import ManualClock
from waddlebot.core.contract import OutboundMessage
from waddlebot.core.events import Event, EventType, new_id
from waddlebot.core.permissions import PlatformRole
from waddlebot.features.timers.service import TimerService
from waddlebot.infra import keys
from waddlebot.infra.audit import AuditLog
from waddlebot.infra.codec import Envelope
from waddlebot.infra.db import Database
from waddlebot.infra.directory import Directory
from waddlebot.infra.ports import Bus, Ports
from waddlebot.platforms import CONSOLE
from waddlebot.platforms.console.collector import ConsoleSession
from waddlebot.router.pipeline import Incoming
from waddlebot.runtime import Runtime

MOD = {"role": "moderator", "user": "mia"}
TWITCH = "twitch:1337"


@pytest.fixture
async def clock(runtime: Runtime) -> ManualClock:
    """Stops the runtime's scheduler loop (the test ticks by hand) and puts the timers and
    the scheduler on one manual clock."""
    await runtime.scheduler.stop()
    clock = ManualClock()
    runtime.timers.clock = clock
    runtime.scheduler.clock = clock
    return clock


async def posted(bus: Bus, platform: str) -> list[OutboundMessage]:
    """Timer messages put on the platform's reply stream since the last call."""
    return await scheduled.posted(bus, platform, "timer:")


async def texts(runtime: Runtime, platform: str) -> list[str]:
    return [message.text for message in await posted(runtime.ports.bus, platform)]


async def shown(session: ConsoleSession) -> str:
    line = await asyncio.wait_for(session.lines.get(), 5)
    return line.text


# --- commands ----------------------------------------------------------------------------


async def test_every_command_form(runtime: Runtime, clock: ManualClock) -> None:
    assert await say(runtime, "!timer add rules 15 Be kind,   please!", **MOD) == [
        "Added timer rules (every 15 min)."
    ]
    assert await say(runtime, "!timers add ads -lines=10 30 Follow us!", **MOD) == [
        "Added timer ads (every 30 min, after 10 chat lines)."
    ]
    assert await say(runtime, "!timer add -lines=1 Hype 20 hype!", **MOD) == [
        "Added timer hype (every 20 min, after 1 chat line)."
    ]
    assert await say(runtime, "!timer add late 25 -lines=3 later", **MOD) == [
        "Added timer late (every 25 min, after 3 chat lines)."
    ]
    assert await say(runtime, "!timer list") == [
        "Timers: ads (every 30 min, after 10 chat lines), hype (every 20 min, after 1 chat "
        "line), late (every 25 min, after 3 chat lines), rules (every 15 min)"
    ]
    assert await say(runtime, "!timer show RULES") == [
        "Timer rules (every 15 min): Be kind,   please!"
    ]
    assert await say(runtime, "!timer disable rules", **MOD) == ["Disabled timer rules."]
    assert await say(runtime, "!timer disable rules", **MOD) == ["Timer rules is disabled already."]
    assert await say(runtime, "!timers show rules") == [
        "Timer rules (every 15 min, disabled): Be kind,   please!"
    ]
    assert await say(runtime, "!timer enable rules", **MOD) == ["Enabled timer rules."]
    assert await say(runtime, "!timer enable rules", **MOD) == ["Timer rules is enabled already."]
    assert await say(runtime, "!timer remove ads", **MOD) == ["Removed timer ads."]
    assert await say(runtime, "!timer delete hype", **MOD) == ["Removed timer hype."]
    assert await say(runtime, "!timer remove hype", **MOD) == ["There is no timer hype here."]
    assert await say(runtime, "!timer list") == [
        "Timers: late (every 25 min, after 3 chat lines), rules (every 15 min)"
    ]
    await say(runtime, "!timer remove late", **MOD)
    await say(runtime, "!timer remove rules", **MOD)
    assert await say(runtime, "!timers list") == ["No timers yet."]
    await runtime.audit.flush()
    actions = [e.action for e in await runtime.audit.recent(limit=100) if e.action[:6] == "timer."]
    assert sorted(set(actions)) == ["timer.add", "timer.disable", "timer.enable", "timer.remove"]
    assert actions.count("timer.add") == 4 and actions.count("timer.remove") == 4
    assert actions.count("timer.disable") == 1  # "disabled already" changes nothing


async def test_changes_are_for_moderators_and_errors_are_clear(
    runtime: Runtime, clock: ManualClock
) -> None:
    for words in ("add x 5 hi", "remove x", "delete x", "enable x", "disable x"):
        verb = {"delete": "remove"}.get(words.split()[0], words.split()[0])
        assert await say(runtime, f"!timer {words}") == [
            f"Only moderators and up can {verb} timers."
        ]
    assert await say(runtime, "!timer add x 5 hi", **MOD) == ["Added timer x (every 5 min)."]
    assert await say(runtime, "!timer add X 10 again", **MOD) == [
        "There is already a timer x here."
    ]
    problems = {
        "!timer": "say what to do: list, show, add, remove, delete, enable, disable",
        "!timer frob": "there is no 'frob'",
        "!timer add": "which timer?",
        "!timer add y": "every how many minutes?",
        "!timer add y soon hi": "'soon' is not a number of minutes",
        "!timer add y 5": "what should timer y say?",
        "!timer add y 4 hi": "a timer runs every 5 to 1440 minutes",
        "!timer add y 1441 hi": "a timer runs every 5 to 1440 minutes",
        "!timer add y 5 -lines=1001 hi": "-lines= is 0 to 1000 chat lines",
        "!timer add y 5 -lines=lots hi": "-lines= takes a whole number",
        "!timer add bad! 5 hi": "'bad!' is not a timer name",
        f"!timer add y 5 {'x' * 501}": "a timer message is at most 500 characters",
        "!timer show": "which timer?",
        "!timer remove x y": "just the timer's name",
        "!timer list all": "list takes nothing after it",
    }
    for line, problem in problems.items():
        (answer,) = await say(runtime, line, **MOD)
        assert answer.startswith("Usage: !timer add <name> <minutes>"), line
        assert problem in answer, (line, answer)
    assert await say(runtime, "!timer show nosuch") == ["There is no timer nosuch here."]
    assert await say(runtime, "!timer enable nosuch", **MOD) == ["There is no timer nosuch here."]


async def test_at_most_50_timers_per_community(runtime: Runtime, clock: ManualClock) -> None:
    community = (await runtime.directory.resolve_entity("console:local", "console")).community_id
    for n in range(50):
        await runtime.timers.add(community, "console:local", f"t{n}", 5, "hi")
    (answer,) = await say(runtime, "!timer add one-more 5 hi", **MOD)
    assert "this community already has 50 timers" in answer


# --- posting -----------------------------------------------------------------------------


async def test_a_console_timer_posts_every_interval(runtime: Runtime, clock: ManualClock) -> None:
    console = runtime.collector(CONSOLE)
    assert console is not None
    await say(runtime, "!timer add hello 5 Hello $(channel) on $(platform) at $(time)!", **MOD)
    await say(runtime, "!timer add odd 5 $(user) stays $(nosuch) $(random 7-7)", **MOD)
    watcher = console.open("bob", "everyone", "local")
    elsewhere = console.open("carol", "everyone", "another-channel")
    try:
        await tick(runtime, clock, minutes=4)
        assert await posted(runtime.ports.bus, "console") == []
        await tick(runtime, clock, minutes=1)
        assert sorted([await shown(watcher), await shown(watcher)]) == [
            "$(user) stays $(nosuch) 7",  # only variables that make sense without a caller
            "Hello local on console at 12:05 UTC!",
        ]
        messages = await posted(runtime.ports.bus, "console")
        assert sorted(m.outbound_id.rsplit(":", 1)[1] for m in messages) == ["1", "1"]
        assert {(m.platform, m.entity_id, m.channel_id) for m in messages} == {
            ("console", "console:local", "local")
        }
        await tick(runtime, clock, minutes=4)
        assert await posted(runtime.ports.bus, "console") == []
        await tick(runtime, clock, minutes=1)
        assert {
            m.outbound_id.rsplit(":", 1)[1] for m in await posted(runtime.ports.bus, "console")
        } == {"2"}
        await say(runtime, "!timer disable odd", **MOD)
        await tick(runtime, clock, minutes=60)  # runs missed meanwhile are not made up
        assert await texts(runtime, "console") == ["Hello local on console at 13:10 UTC!"]
        await say(runtime, "!timer enable odd", **MOD)  # first run one interval from now
        await tick(runtime, clock, minutes=4)
        assert await texts(runtime, "console") == []
        await tick(runtime, clock, minutes=1)
        assert sorted(await texts(runtime, "console")) == [
            "$(user) stays $(nosuch) 7",
            "Hello local on console at 13:15 UTC!",
        ]
        await say(runtime, "!timer remove hello", **MOD)
        await tick(runtime, clock, minutes=5)
        assert await texts(runtime, "console") == ["$(user) stays $(nosuch) 7"]
        assert elsewhere.lines.empty()  # a timer posts only in its own place
    finally:
        console.close(watcher)
        console.close(elsewhere)


def stream_event(kind: EventType, at: datetime) -> Event:
    """``at``: when the stream started (online; Twitch's ``started_at``) or ended."""
    return Event(
        platform="twitch", entity_id=TWITCH, message_id=new_id(), type=kind, occurred_at=at
    )


async def feed(runtime: Runtime, *events: Event) -> list[str]:
    outcomes = await runtime.router.process([Incoming(Envelope(e)) for e in events])
    return [reply.text for outcome in outcomes for reply in outcome.replies]


async def test_a_community_that_switched_timers_off_hears_none(
    runtime: Runtime, clock: ManualClock
) -> None:
    await say(runtime, "!timer add hello 5 Hello here!", **MOD)
    await say(runtime, "!timer add hello 5 Hello elsewhere!", channel="elsewhere", **MOD)
    owner = {"user": "olive", "role": "owner"}
    assert await say(runtime, "!module disable timers", **owner) == ["timers is off here now."]
    await tick(runtime, clock, minutes=5)
    assert await texts(runtime, "console") == ["Hello elsewhere!"]  # another community's own
    assert await say(runtime, "!module enable timers", **owner) == ["timers is on here now."]
    await tick(runtime, clock, minutes=5)
    assert sorted(await texts(runtime, "console")) == ["Hello elsewhere!", "Hello here!"]


async def test_twitch_timers_post_only_while_live(runtime: Runtime, clock: ManualClock) -> None:
    add = chat_event(
        "!timer add ads 10 Follow! Live $(uptime).",
        user_id="9",
        login="mod",
        roles=(PlatformRole.MODERATOR,),
    )
    added = await feed(runtime, add)
    assert added == ["Added timer ads (every 10 min). It posts while the stream is live."]
    await tick(runtime, clock, minutes=10)
    assert await texts(runtime, "twitch") == []  # no stream_online yet: offline
    await tick(runtime, clock, minutes=2)
    started = clock.now()
    assert await feed(runtime, stream_event(EventType.STREAM_ONLINE, started)) == []
    await tick(runtime, clock, minutes=9)  # the first post comes one interval into the stream
    assert await texts(runtime, "twitch") == []
    await tick(runtime, clock, minutes=1)
    (message,) = await posted(runtime.ports.bus, "twitch")
    assert (message.text, message.platform, message.entity_id) == (
        "Follow! Live 10m 0s.",
        "twitch",
        TWITCH,
    )
    assert message.outbound_id.startswith("timer:") and message.outbound_id.endswith(":1")
    # the same stream again (a redelivery, or the collector's poll): nothing restarts
    await feed(runtime, stream_event(EventType.STREAM_ONLINE, started))
    await tick(runtime, clock, minutes=10)
    assert await texts(runtime, "twitch") == ["Follow! Live 20m 0s."]
    await feed(runtime, stream_event(EventType.STREAM_OFFLINE, clock.now()))
    for _ in range(3):
        await tick(runtime, clock, minutes=10)
    assert await texts(runtime, "twitch") == []
    await feed(runtime, stream_event(EventType.STREAM_ONLINE, clock.now()))
    await tick(runtime, clock, minutes=10)
    assert await texts(runtime, "twitch") == ["Follow! Live 10m 0s."]


async def test_lines_gating_counts_chat_since_the_last_post(
    runtime: Runtime, clock: ManualClock
) -> None:
    await say(runtime, "!timer add chatty 5 -lines=3 Keep talking!", **MOD)
    await tick(runtime, clock, minutes=5)
    assert await texts(runtime, "console") == []  # no chat since it was added
    await say(runtime, "hello")
    await say(runtime, "!ping")  # commands are chat lines too
    await tick(runtime, clock, minutes=5)
    assert await texts(runtime, "console") == []
    await say(runtime, "anyone here?", user="bob")
    await tick(runtime, clock, minutes=5)
    assert await texts(runtime, "console") == ["Keep talking!"]
    await tick(runtime, clock, minutes=5)
    assert await texts(runtime, "console") == []  # counted afresh from the last post
    await runtime.ports.cache.delete(keys.lines_key("console:local"))  # the cache was reset
    for line in ("one", "two"):
        await say(runtime, line)
    await tick(runtime, clock, minutes=5)
    assert await texts(runtime, "console") == []  # 2 since the reset (not 2 - old count)
    await say(runtime, "three")
    await tick(runtime, clock, minutes=5)
    assert await texts(runtime, "console") == ["Keep talking!"]


# --- two processes -----------------------------------------------------------------------


Timers = Process[TimerService]


@pytest.fixture
async def processes(
    fresh_postgres_url: str, redis_url: str, key_prefix: str
) -> AsyncIterator[tuple[Timers, Timers, ManualClock]]:
    clock = ManualClock()

    def timers(db: Database, ports: Ports, audit: AuditLog) -> TimerService:
        return TimerService(db, audit, ports.cache, ports.bus, clock)

    async with two_processes(
        fresh_postgres_url, redis_url, key_prefix, clock, "timers", timers
    ) as (first, second):
        yield first, second, clock


async def test_two_processes_post_each_run_exactly_once(
    processes: tuple[Timers, Timers, ManualClock],
) -> None:
    first, second, clock = processes
    place = await Directory(first.db).resolve_entity("console:local", "console", channel_id="local")
    for n in range(40):
        await first.service.add(place.community_id, "console:local", f"t{n}", 5 + n % 2 * 5, "hi")
    ids: list[str] = []
    for _ in range(4):
        clock.advance(minutes=5)  # the 5-minute timers are due
        await both_tick(first, second)  # the lease lets only one of them run the job
        ids += [m.outbound_id for m in await posted(first.ports.bus, "console")]
        clock.advance(minutes=5)  # all 40 are due
        # and if both believed they led (a lease changing hands), each run posts once
        counts = await asyncio.gather(first.service.fire_due(), second.service.fire_due())
        assert sum(counts) == 40
        ids += [m.outbound_id for m in await posted(second.ports.bus, "console")]
    assert len(ids) == len(set(ids)) == 4 * (20 + 40)
    runs = {t.name: t.runs for t in await second.service.list(place.community_id)}
    assert runs["t0"] == 8 and runs["t1"] == 4


async def test_a_run_both_processes_saw_due_is_claimed_by_one(
    processes: tuple[Timers, Timers, ManualClock], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worst interleaving, forced: the first process has read the due timers, then the
    second claims and posts them all before the first gets to claim them."""
    first, second, clock = processes
    place = await Directory(first.db).resolve_entity("console:local", "console", channel_id="local")
    for n in range(10):
        await first.service.add(place.community_id, "console:local", f"t{n}", 5, "hi")
    clock.advance(minutes=5)
    seen = claim_after_the_other(monkeypatch, first, second, 10)
    assert await first.service.fire_due() == 0
    assert seen == [10]  # it did see all ten due, and claimed none of them
    ids = [m.outbound_id for m in await posted(first.ports.bus, "console")]
    assert len(ids) == len(set(ids)) == 10


async def test_stream_news_handled_out_of_order_keeps_the_latest(
    runtime: Runtime, clock: ManualClock
) -> None:
    await feed(runtime, chat_event("hi"))  # the place exists
    started = clock.now()
    clock.advance(minutes=30)
    ended = clock.now()
    timers = runtime.timers
    assert await timers.set_live(TWITCH, False, at=ended)
    assert not await timers.set_live(TWITCH, True, at=started)  # older: the stream is over
    clock.advance(minutes=5)
    assert await timers.set_live(TWITCH, True, at=clock.now())  # a new stream
    assert not await timers.set_live(TWITCH, True, at=clock.now())  # the same one again
    clock.advance(minutes=60)
    assert await timers.set_live(TWITCH, True, at=clock.now())  # another, offline was missed
