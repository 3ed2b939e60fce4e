"""Twitch EventSub payloads (recorded official examples in tests/fixtures/twitch/) as
canonical events."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from waddlebot.core.events import EventType
from waddlebot.core.permissions import PlatformRole
from waddlebot.platforms.twitch.translate import (
    TRANSLATORS,
    MalformedNotification,
    Notification,
    UnsupportedSubscription,
    translate,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "twitch"


def recorded(type_: str, **event_overrides: Any) -> Notification:
    payload = json.loads((FIXTURES / f"{type_}.json").read_text())
    subscription = payload["subscription"]
    return Notification(
        message_id="befa7b53-d79d-478f-86b9-120f112b044e",
        subscription_type=subscription["type"],
        subscription_version=subscription["version"],
        event={**payload["event"], **event_overrides},
    )


def test_every_type_we_subscribe_to_has_a_recorded_example() -> None:
    recorded_types = {path.stem for path in FIXTURES.glob("*.json")}
    assert {type_ for type_, _ in TRANSLATORS} <= recorded_types


def test_a_chat_message() -> None:
    event = translate(recorded("channel.chat.message"))
    assert event is not None
    assert event.type is EventType.CHAT_MESSAGE
    assert (event.platform, event.entity_id, event.channel_id) == (
        "twitch",
        "twitch:1971641",
        "1971641",
    )
    assert event.message_id == "cc106a89-1814-919d-454c-f4f2f970aae7"
    assert event.text == "Hi chat"
    assert event.author is not None
    assert (event.author.user_id, event.author.login, event.author.display_name) == (
        "4145994",
        "viewer32",
        "viewer32",
    )
    # moderator + subscriber badges; sub-gifter means nothing for permissions
    assert event.author.roles == (PlatformRole.MODERATOR, PlatformRole.SUBSCRIBER)
    assert event.reply_to == "" and event.amounts.bits is None


def test_a_reply_and_a_cheer_in_chat() -> None:
    event = translate(
        recorded(
            "channel.chat.message",
            reply={
                "parent_message_id": "parent-1",
                "parent_message_body": "hello",
                "parent_user_id": "1",
                "parent_user_name": "a",
                "parent_user_login": "a",
                "thread_message_id": "thread-1",
                "thread_user_id": "1",
                "thread_user_name": "a",
                "thread_user_login": "a",
            },
            cheer={"bits": 100},
            badges=[{"set_id": "broadcaster", "id": "1", "info": ""}],
        )
    )
    assert event is not None
    assert (event.reply_to, event.thread_id, event.amounts.bits) == ("parent-1", "thread-1", 100)
    assert event.author is not None and event.author.roles == (PlatformRole.OWNER,)


def test_the_bots_own_lines_are_not_events() -> None:
    assert translate(recorded("channel.chat.message"), bot_user_id="4145994") is None
    assert translate(recorded("channel.chat.message"), bot_user_id="999") is not None


@pytest.mark.parametrize(
    ("type_", "kind", "entity", "author", "amounts"),
    [
        ("channel.follow", EventType.FOLLOW, "twitch:1337", "1234", {}),
        ("channel.subscribe", EventType.SUBSCRIBE, "twitch:1337", "1234", {"tier": "1000"}),
        (
            "channel.subscription.gift",
            EventType.GIFT_SUBSCRIBE,
            "twitch:1337",
            "1234",
            {"tier": "1000", "count": 2},
        ),
        (
            "channel.subscription.message",
            EventType.SUBSCRIBE,
            "twitch:1337",
            "1234",
            {"tier": "1000", "months": 15},
        ),
        ("channel.cheer", EventType.CHEER, "twitch:1337", "1234", {"bits": 1000}),
        ("channel.raid", EventType.RAID, "twitch:1337", "1234", {"viewers": 9001}),
        ("stream.online", EventType.STREAM_ONLINE, "twitch:1337", None, {}),
        ("stream.offline", EventType.STREAM_OFFLINE, "twitch:1337", None, {}),
    ],
)
def test_channel_events(
    type_: str, kind: EventType, entity: str, author: str | None, amounts: dict[str, Any]
) -> None:
    event = translate(recorded(type_))
    assert event is not None
    assert (event.type, event.entity_id) == (kind, entity)
    assert (event.author.user_id if event.author else None) == author
    assert event.amounts.model_dump(exclude_none=True) == amounts
    if type_ == "stream.online":  # the stream's id: the collector's poll finds the same one
        assert event.message_id == "stream-online:9001"
    else:  # no id of their own: the notification's, which Twitch keeps on redelivery
        assert event.message_id == "befa7b53-d79d-478f-86b9-120f112b044e"


def test_texts_and_times() -> None:
    cheer = translate(recorded("channel.cheer"))
    resub = translate(recorded("channel.subscription.message"))
    online = translate(recorded("stream.online"))
    assert cheer is not None and cheer.text == "pogchamp"
    assert resub is not None and resub.text == "Love the stream! Kappa"
    assert (
        online is not None and online.occurred_at.isoformat() == "2020-10-11T10:11:12.123000+00:00"
    )


def test_anonymous_gifts_and_cheers_have_no_author() -> None:
    gift = translate(recorded("channel.subscription.gift", is_anonymous=True, user_id=None))
    cheer = translate(recorded("channel.cheer", is_anonymous=True, user_id=None, user_login=None))
    assert gift is not None and gift.author is None
    assert cheer is not None and cheer.author is None and cheer.amounts.bits == 1000


def test_a_whisper_lands_in_the_bots_channel() -> None:
    event = translate(recorded("user.whisper.message"))
    assert event is not None
    assert (event.type, event.entity_id, event.text) == (
        EventType.WHISPER,
        "twitch:424596340",
        "a secret",
    )
    assert event.author is not None and event.author.login == "glowillig"
    assert event.message_id == "5a3b7a6f-93b4-4a5a-9c62-0f6cd6ad3e5c"


def test_unknown_types_and_versions_are_refused() -> None:
    with pytest.raises(UnsupportedSubscription):
        translate(Notification("m", "channel.ban", "1", {}))
    with pytest.raises(UnsupportedSubscription):
        translate(Notification("m", "channel.follow", "1", recorded("channel.follow").event))


@pytest.mark.parametrize(
    ("type_", "overrides"),
    [
        ("channel.chat.message", {"chatter_user_id": None}),
        ("channel.chat.message", {"message_id": ""}),
        ("channel.chat.message", {"badges": "moderator"}),
        ("channel.chat.message", {"message": {"text": "bad\x00"}}),
        ("channel.follow", {"broadcaster_user_id": 1337}),
        ("channel.cheer", {"bits": "lots"}),
        ("stream.online", {"started_at": "yesterday"}),
        ("stream.online", {"started_at": "2020-10-11T10:11:12"}),  # no zone: naive, unordered
        ("stream.online", {"started_at": "0001-01-01T00:00:00+05:00"}),  # before year 1 in UTC
        ("user.whisper.message", {"whisper": None}),
    ],
)
def test_malformed_events_are_refused_clearly(type_: str, overrides: dict[str, Any]) -> None:
    with pytest.raises(MalformedNotification):
        translate(recorded(type_, **overrides))


def test_shared_chat_from_a_partner_channel_is_not_an_event_here() -> None:
    partner = recorded(
        "channel.chat.message", source_broadcaster_user_id="777", source_message_id="x"
    )
    assert translate(partner) is None
    own = recorded("channel.chat.message", source_broadcaster_user_id="1971641")
    assert translate(own) is not None


def test_a_stream_start_is_kept_in_utc() -> None:
    online = translate(recorded("stream.online", started_at="2020-10-11T12:11:12+02:00"))
    assert online is not None
    assert online.occurred_at == datetime(2020, 10, 11, 10, 11, 12, tzinfo=UTC)


def test_a_stream_started_after_its_notification_was_sent_is_refused() -> None:
    """Live state is ordered by these times: a start from the future would outlast every
    stream.offline after it."""
    sent = datetime(2020, 10, 11, 10, 11, 12, tzinfo=UTC)
    for started, refused in [("2020-10-11T10:11:12Z", False), ("9999-12-31T23:59:59Z", True)]:
        notification = replace(recorded("stream.online", started_at=started), timestamp=sent)
        if refused:
            with pytest.raises(MalformedNotification, match="started_at"):
                translate(notification)
        else:
            assert translate(notification) is not None
