"""A router in the process that encoded an event (``waddlebot up``) takes it back as it was
made instead of parsing it again: what it takes back must be what parsing would give."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.support.harness import chat_event
from waddlebot.core.events import Amounts, Event
from waddlebot.core.permissions import PlatformRole
from waddlebot.infra import codec
from waddlebot.infra.codec import decode_envelope, decoding_here, encode_envelope

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.fixture(autouse=True)
def own_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    """A memory of this test's own (a shared server's router may run in this process)."""
    monkeypatch.setattr(codec, "_ENCODED_HERE", codec._EncodedHere(size=3))


def _event(text: str = "!so @friend") -> Event:
    return chat_event(
        text,
        roles=(PlatformRole.MODERATOR, PlatformRole.SUBSCRIBER),
        amounts=Amounts(bits=100),
        occurred_at=datetime(2026, 12, 7, 6, 30, 1, 123456, tzinfo=UTC),
        raw={"badges": [{"set_id": "moderator"}], "nested": {"n": 1.5, "none": None}},
        reply_to="parent-1",
        to_bot=True,
    )


def test_what_a_router_here_takes_back_is_what_parsing_gives() -> None:
    event = _event()
    with decoding_here():
        data = encode_envelope(event, notify=True, traceparent=TRACEPARENT)
        taken = decode_envelope(bytes(bytearray(data)))  # equal bytes, as Redis gives them
    parsed = decode_envelope(data)
    assert taken.event is event  # taken back, not parsed
    assert parsed.event is not event
    assert taken == parsed
    assert (taken.notify, taken.traceparent, taken.replayed) == (True, TRACEPARENT, False)


def test_an_entry_is_taken_back_once_then_parsed_like_any_redelivery() -> None:
    event = _event()
    with decoding_here():
        data = encode_envelope(event)
        first, again = decode_envelope(data), decode_envelope(data)
    assert first.event is event
    assert again.event is not event
    assert again == first


def test_without_a_router_here_nothing_is_kept() -> None:
    event = _event()
    data = encode_envelope(event)
    with decoding_here():
        assert decode_envelope(data).event is not event


def test_only_the_newest_entries_are_kept() -> None:
    events = [_event(f"line {n}") for n in range(4)]
    with decoding_here():
        entries = [encode_envelope(event) for event in events]
        decoded = [decode_envelope(data).event for data in entries]
    assert decoded[0] is not events[0]  # the oldest, forgotten: parsed
    assert decoded[0] == events[0]
    assert all(got is made for got, made in zip(decoded[1:], events[1:], strict=True))


def test_the_last_router_stopping_forgets_everything() -> None:
    event = _event()
    with decoding_here():
        with decoding_here():
            kept = encode_envelope(event)
        assert decode_envelope(bytes(kept)).event is event  # one router still runs
        data = encode_envelope(event)
    with decoding_here():
        assert decode_envelope(data).event is not event


def test_a_bytearray_is_parsed_not_looked_up() -> None:
    event = _event()
    with decoding_here():
        data = encode_envelope(event)
        assert decode_envelope(bytearray(data)).event is not event  # type: ignore[arg-type]
        assert decode_envelope(data).event is event
