"""A console session's queue of shown lines and its reply bookkeeping."""

from __future__ import annotations

import asyncio

from structlog.testing import capture_logs

from waddlebot.core.contract import OutboundMessage
from waddlebot.platforms.console.collector import MAX_LINES, ConsoleSession


def reply(number: int, event_id: str = "someone-elses-event") -> OutboundMessage:
    return OutboundMessage(
        outbound_id=f"out-{number}",
        event_id=event_id,
        session_id="s",
        platform="console",
        entity_id="console:local",
        text=f"line {number}",
    )


async def test_a_client_that_stops_reading_keeps_only_the_newest_lines() -> None:
    session = ConsoleSession(user="al")
    with capture_logs() as logs:
        for number in range(2500):
            session.deliver(reply(number))
    assert MAX_LINES == 1000
    assert session.lines.qsize() == MAX_LINES and session.dropped == 1500
    shown = []
    while not session.lines.empty():
        shown.append(session.lines.get_nowait().text)
        session.lines.task_done()
    assert shown == [f"line {number}" for number in range(1500, 2500)]
    await asyncio.wait_for(session.lines.join(), 1)  # dropped lines are not waited for
    warnings = [entry for entry in logs if entry["log_level"] == "warning"]
    assert 1 <= len(warnings) <= 3  # told, but not once per dropped line
    assert warnings[0]["user"] == "al"


async def test_only_replies_the_session_waits_for_are_counted() -> None:
    session = ConsoleSession(user="al")
    for number in range(100):  # the channel is busy with other people's commands
        session.deliver(reply(number, event_id=f"other-{number}"))
    assert session._delivered == {}

    session.expect("mine")
    session.deliver(reply(1000, event_id="mine"))
    session.deliver(reply(1001, event_id="mine"))
    await asyncio.wait_for(session.wait_delivered("mine", 2), 1)
    assert session._delivered == {}  # forgotten once waited for

    session.expect("never answered")
    waiting = asyncio.ensure_future(session.wait_delivered("never answered", 1))
    await asyncio.sleep(0)
    waiting.cancel()  # e.g. the reply timeout
    await asyncio.gather(waiting, return_exceptions=True)
    assert session._delivered == {}
