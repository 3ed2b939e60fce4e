"""Console sessions through the whole bot: other people's conversation leaves no trace in a
session that only listens."""

from __future__ import annotations

from tests.support.harness import drain, say
from waddlebot.runtime import Runtime


async def test_a_listening_session_keeps_no_count_of_other_peoples_replies(
    runtime: Runtime,
) -> None:
    assert runtime.console is not None
    listener = runtime.console.open("lurker")
    try:
        for number in range(30):
            said = await say(runtime, f"!echo hi {number}", user=f"talker{number % 5}")
            assert said == [f"hi {number}"]
        assert drain(listener) == [f"hi {number}" for number in range(30)]
        assert listener._delivered == {}
        assert await say(runtime, "!echo and me", user="lurker") == ["and me"]
        assert listener._delivered == {}
    finally:
        runtime.console.close(listener)
