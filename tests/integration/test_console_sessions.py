"""Console sessions through the whole bot: other people's conversation leaves no trace in a
session that only listens."""

from __future__ import annotations

import asyncio

from tests.support.harness import chat_event, drain, say
from waddlebot.infra import keys
from waddlebot.infra.codec import decode_envelope, encode_envelope
from waddlebot.platforms import CONSOLE
from waddlebot.runtime import Runtime
from waddlebot.settings import Settings


async def test_a_listening_session_keeps_no_count_of_other_peoples_replies(
    runtime: Runtime,
) -> None:
    console = runtime.collector(CONSOLE)
    assert console is not None
    listener = console.open("lurker")
    try:
        for number in range(30):
            said = await say(runtime, f"!echo hi {number}", user=f"talker{number % 5}")
            assert said == [f"hi {number}"]
        assert drain(listener) == [f"hi {number}" for number in range(30)]
        assert listener._delivered == {}
        assert await say(runtime, "!echo and me", user="lurker") == ["and me"]
        assert listener._delivered == {}
    finally:
        console.close(listener)


async def test_a_line_said_while_the_router_is_behind_is_not_sent_and_the_person_is_told(
    settings: Settings,
) -> None:
    runtime = await Runtime.start(settings.model_copy(update={"bus_maxlen": 2}))
    try:
        bus = runtime.ports.bus
        # a consumer group that reads only when the test says: the slowest reader of events
        await bus.ensure_group(keys.EVENTS_STREAM, "laggard")
        earlier = [chat_event("hello", platform="console", entity="console:local")] * 3
        await bus.publish(keys.EVENTS_STREAM, [encode_envelope(e) for e in earlier])
        busy = (
            "(private) (the bot is busy: 3 messages are waiting before yours; nothing was sent, "
            "say it again in a moment)"
        )
        assert await say(runtime, "!echo lost?") == [busy]
        (*_, last) = await bus.entries(keys.EVENTS_STREAM, count=10)
        assert decode_envelope(last.data).event.text == "hello"  # nothing went on the bus

        caught_up = await bus.read(keys.EVENTS_STREAM, "laggard", "test", 10, 0)
        await bus.ack(keys.EVENTS_STREAM, "laggard", [m.id for m in caught_up])
        async with asyncio.timeout(10):
            while (said := await say(runtime, "!echo again")) == [busy]:
                await asyncio.sleep(0.05)
        assert said == ["again"]
    finally:
        await runtime.stop()
