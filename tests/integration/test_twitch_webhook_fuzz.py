"""The EventSub webhook under validly signed random deliveries: notifications of every
subscription type WaddleBot takes (built from Twitch's examples, then bent), challenges and
revocations, random headers and timestamps. Whatever comes, the answer is 2xx or 4xx; a
well-formed, fresh notification reaches the bus exactly once."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fakes.twitch import FakeTwitch, payloads
from tests.fakes.twitch.wire import rfc3339_ns, signature
from tests.support.webhook_fuzz import (
    FUZZ,
    Served,
    Stamp,
    bend,
    chance,
    dumps,
    exchange,
    header_text,
    ids,
    json_values,
    mostly,
    serve,
    single_bends,
    stamps,
    with_fields,
)
from waddlebot.infra.secretbox import SecretBox
from waddlebot.platforms import TWITCH
from waddlebot.platforms.twitch.auth import Grant, Validation
from waddlebot.platforms.twitch.tokens import SCOPES
from waddlebot.platforms.twitch.translate import TRANSLATORS
from waddlebot.platforms.twitch.webhook import PATH
from waddlebot.settings import Settings

SECRET = "s3cret-for-eventsub-fuzzing"
BOT = "9001"
TYPES = sorted({name for name, _ in TRANSLATORS})
# the types with most fields to read, more often
_WEIGHTED_TYPES = [*TYPES, "channel.chat.message", "channel.chat.message", "user.whisper.message"]
_SAYABLE = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"))


@dataclass
class Twitch:
    served: Served


@pytest.fixture
async def twitch(settings: Settings) -> AsyncIterator[Twitch]:
    async with FakeTwitch() as fake:
        client = fake.register_client(redirect_uris=["http://127.0.0.1/callback"])
        chosen = with_fields(
            settings,
            twitch_client_id=client.client_id,
            twitch_client_secret=client.secret,
            twitch_transport="webhook",
            twitch_public_url="http://waddlebot.test",
            twitch_eventsub_secret=SECRET,
            secret_keys=SecretBox.generate_key(),
            twitch_helix_url=fake.helix_url,
            twitch_auth_url=fake.auth_url,
        )
        async with serve(chosen, ["twitch"]) as served:
            collector = served.runtime.collector(TWITCH)
            assert collector is not None
            # a bot account, so the bot's own lines echoed back are exercised too
            grant = Grant("access", "refresh", 14_400, SCOPES["bot"])
            who = Validation(client.client_id, BOT, "waddlebot", SCOPES["bot"], 14_400)
            await collector.tokens.save(grant, who, purpose="bot")
            await collector.load()
            assert collector.bot_user_id == BOT
            yield Twitch(served)


# ----- what Twitch could send ------------------------------------------------------------------

_ABSURD_TIMES = st.one_of(
    st.sampled_from(
        [
            "9999-12-31T23:59:59.999999999Z",
            "9999-12-31T23:59:59Z",
            "9999-12-31T23:59:59-14:00",
            "0001-01-01T00:00:00Z",
            "0001-01-01T00:00:00+14:00",
            "2024-01-01T00:00:00",
            "2024-13-45T99:99:99Z",
            "2024-01-01T00:00:00.Z",
            "2024-01-01T00:00:00.123456789123456789Z",
            "now",
            "",
        ]
    ),
    header_text(),
)


@dataclass(frozen=True)
class Delivery:
    kind: str
    type: str
    message_id: str  # "": a new id when sent (a first delivery)
    stamp: Stamp
    body: bytes
    valid: bool  # well formed: it must be taken (when fresh)
    expected_id: str = ""  # the event's message id, for a valid notification
    challenge: str = ""
    bot_line: bool = False


def _time_text(stamp: Stamp) -> str:
    if stamp.offset is None:
        return stamp.absurd
    return rfc3339_ns(time.time_ns() + stamp.offset * 1_000_000_000)


@st.composite
def deliveries(draw: st.DrawFn) -> Delivery:
    kind = draw(
        mostly(
            st.sampled_from(["notification"] * 4 + ["webhook_callback_verification", "revocation"]),
            header_text(),
            one_in=10,
        )
    )
    type_ = draw(st.sampled_from(_WEIGHTED_TYPES))
    example = payloads.example(type_)
    subscription: Any = example["subscription"]
    event: Any = example["event"]
    subscription["id"] = str(draw(st.uuids()))
    valid = kind in ("notification", "webhook_callback_verification", "revocation")
    _fill_valid_fields(draw, type_, event)
    bot_line = type_ == "channel.chat.message" and event.get("chatter_user_id") == BOT
    # a junk id may repeat in another example (then it is a redelivery): only fresh ids judged
    message_id = draw(mostly(st.just(""), header_text(), one_in=8))
    expected_id = _expected_id(type_, event)

    # bend what a valid delivery has: mostly one thing of the event, the part with most to read
    subscription_bends = [0, 0, 0, 0, 1] if kind == "notification" else [0, 1, 1, 2]
    for _ in range(draw(st.sampled_from(subscription_bends))):
        valid = False
        subscription = bend(draw, subscription)
    for _ in range(draw(st.sampled_from([0, 1, 1, 1, 2]))):
        valid = False
        event = bend(draw, event)
    if type_ == "stream.online" and chance(draw, 3):
        valid = False
        event = {**event, "started_at": draw(_ABSURD_TIMES)} if isinstance(event, dict) else event

    body: Any = {"subscription": subscription}
    if kind != "revocation":
        body["event"] = event
    challenge = draw(_SAYABLE)
    if kind == "webhook_callback_verification":
        body["challenge"] = challenge
        if chance(draw, 6):
            valid = False
            body["challenge"] = draw(json_values())
    raw = dumps(body)
    if chance(draw, 12):
        valid = False
        raw = draw(st.one_of(json_values().map(dumps), st.binary(max_size=64)))

    return Delivery(
        kind=kind,
        type=type_,
        message_id=message_id,
        stamp=draw(stamps(_ABSURD_TIMES)),
        body=raw,
        valid=valid and not message_id,
        expected_id=expected_id,
        challenge=challenge,
        bot_line=bot_line,
    )


def _fill_valid_fields(draw: st.DrawFn, type_: str, event: dict[str, Any]) -> None:
    """Fresh ids and words in the places Twitch varies them."""
    for key in list(event):
        if key.endswith("user_id") and isinstance(event[key], str):
            event[key] = (
                draw(st.sampled_from([BOT]) | ids()) if key == "chatter_user_id" else (draw(ids()))
            )
    if type_ == "channel.chat.message":
        event["message_id"] = str(draw(st.uuids()))
        event["message"]["text"] = draw(_SAYABLE.filter(lambda t: len(t) <= 500))
    if type_ == "user.whisper.message":
        event["whisper_id"] = str(draw(st.uuids()))
        event["whisper"]["text"] = draw(_SAYABLE.filter(lambda t: len(t) <= 500))
    if type_ == "stream.online":
        event["id"] = draw(ids())


def _expected_id(type_: str, event: dict[str, Any]) -> str:
    """The event's message id; "" where it is the delivery's own."""
    if type_ == "channel.chat.message":
        return str(event["message_id"])
    if type_ == "user.whisper.message":
        return str(event["whisper_id"])
    if type_ == "stream.online":
        return f"stream-online:{event['id']}"
    return ""


async def _send(twitch: Twitch, delivery: Delivery) -> Any:
    timestamp = _time_text(delivery.stamp)
    headers = {
        "Twitch-Eventsub-Message-Id": delivery.message_id,
        "Twitch-Eventsub-Message-Retry": "0",
        "Twitch-Eventsub-Message-Type": delivery.kind,
        "Twitch-Eventsub-Message-Signature": signature(
            SECRET, delivery.message_id, timestamp, delivery.body
        ),
        "Twitch-Eventsub-Message-Timestamp": timestamp,
        "Twitch-Eventsub-Subscription-Type": delivery.type,
        "Twitch-Eventsub-Subscription-Version": "1",
        "Content-Type": "application/json",
    }
    return await twitch.served.http.post(PATH, content=delivery.body, headers=headers)


@FUZZ
@given(delivery=deliveries())
async def test_every_signed_delivery_is_answered_without_a_server_error(
    twitch: Twitch, delivery: Delivery
) -> None:
    delivery = replace(delivery, message_id=delivery.message_id or str(uuid.uuid4()))
    response, published = await exchange(twitch.served, _send(twitch, delivery))
    if not delivery.stamp.fresh:
        assert response.status_code in (400, 403), "a stale or future delivery was taken"
        return
    if not delivery.valid:
        return
    if delivery.kind == "webhook_callback_verification":
        assert (response.status_code, response.text) == (200, delivery.challenge)
        assert published == []
    elif delivery.kind == "revocation":
        assert (response.status_code, published) == (204, [])
    else:
        assert response.status_code == 204, response.text
        if delivery.bot_line:
            assert published == []  # the bot's own line, echoed back
            return
        expected = delivery.expected_id or delivery.message_id
        assert [(e.platform, e.message_id) for e in published] == [("twitch", expected)]
        again = await _send(twitch, delivery)  # Twitch's redelivery: answered, not taken again
        assert again.status_code == 204
        assert await twitch.served.tap.taken() == []


def _swept() -> list[tuple[str, str, str, dict[str, Any]]]:
    """(kind, type, what was bent, body) for every single field bent of every example's
    event (a chat line also as the bot's own), and of a subscription in a challenge and a
    revocation."""
    found = []
    for type_ in TYPES:
        example = payloads.example(type_)
        subscription, event = example["subscription"], example["event"]
        events = [event]
        if type_ == "channel.chat.message":
            events.append({**event, "chatter_user_id": BOT})
        for base in events:
            for path, bent in single_bends(base):
                body = {"subscription": subscription, "event": bent}
                found.append(("notification", type_, f"event.{path}", body))
    subscription = payloads.example("channel.follow")["subscription"]
    for kind in ("webhook_callback_verification", "revocation"):
        for path, bent in single_bends(subscription):
            body = {"subscription": bent, "challenge": "c"}
            found.append((kind, "channel.follow", f"subscription.{path}", body))
    return found


@pytest.mark.parametrize("mode", ["distributed"], indirect=True)  # PostgreSQL: the strictest
async def test_every_single_field_bent_is_answered_without_a_server_error(twitch: Twitch) -> None:
    for kind, type_, what, body in _swept():
        delivery = Delivery(kind, type_, str(uuid.uuid4()), Stamp(0), dumps(body), valid=False)
        await exchange(twitch.served, _send(twitch, delivery), f"{kind} {type_} {what}")


# ----- what the fuzzers found, one example each ----------------------------------------------

MALFORMED = Path(__file__).resolve().parents[1] / "fixtures" / "twitch" / "malformed"


def _recorded(name: str) -> Delivery:
    """A delivery recorded in tests/fixtures/twitch/malformed (its kind starts the name)."""
    body = (MALFORMED / f"{name}.json").read_bytes()
    kind = name.partition(".")[0]
    return Delivery(kind, "", str(uuid.uuid4()), Stamp(0), body, valid=False)


async def test_malformed_deliveries_are_refused_naming_their_field(twitch: Twitch) -> None:
    for name, reason in [
        ("revocation.condition_not_an_object", "subscription.condition: Input should be a valid"),
        (
            "revocation.condition_id_with_nul",
            "subscription.condition.broadcaster_user_id: must not contain NUL characters",
        ),
        (
            "webhook_callback_verification.id_too_long",
            "subscription.id: String should have at most",
        ),
        ("notification.own_line_badges_not_a_list", "badges is not a list"),  # the bot's line
    ]:
        response = await _send(twitch, _recorded(name))
        assert (response.status_code, name) == (400, name)
        assert reason in response.json()["detail"]
    assert await twitch.served.tap.taken() == []


def _follow_dated(timestamp: str) -> Delivery:
    body = dumps(payloads.example("channel.follow"))
    return Delivery(
        "notification", "channel.follow", str(uuid.uuid4()), Stamp(None, timestamp), body, True
    )


async def test_deliveries_dated_at_the_edges_of_time_are_refused(twitch: Twitch) -> None:
    for timestamp in [
        "9999-12-31T23:59:59.999999999Z",  # ten minutes later is no date
        "0001-01-01T00:00:00+05:00",  # before year 1 in UTC
        "9999-12-31T23:59:59-05:00",  # after year 9999 in UTC
    ]:
        response = await _send(twitch, _follow_dated(timestamp))
        assert (response.status_code, timestamp) == (400, timestamp)
    assert await twitch.served.tap.taken() == []


async def test_deliveries_dated_ahead_of_our_clock_are_refused_past_five_minutes(
    twitch: Twitch,
) -> None:
    def ahead(by: timedelta) -> Delivery:
        return _follow_dated(rfc3339_ns(time.time_ns() + int(by.total_seconds()) * 1_000_000_000))

    for by in (timedelta(hours=1), timedelta(minutes=6)):
        response = await _send(twitch, ahead(by))
        assert (response.status_code, response.json()["detail"]) == (
            400,
            "message is dated in the future",
        )
    assert await twitch.served.tap.taken() == []
    assert (await _send(twitch, ahead(timedelta(minutes=4)))).status_code == 204
    assert len(await twitch.served.tap.taken()) == 1
