"""Replies on ``replies.twitch`` (an in-process bus) reaching the fake Twitch: threading,
splitting, the per-channel chat limits and the whisper limits under a controlled clock shared
by the sender and the fake, drops, errors, and channels that do not wait for each other."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx2
import pytest
from prometheus_client import REGISTRY
from structlog.testing import capture_logs

from tests.fakes.twitch import FakeTwitch
from tests.fakes.twitch.limits import most_in_any_window
from tests.support.harness import until
from tests.support.twitch import (
    BOT,
    BOT_SCOPES,
    AdvancingSleep,
    FakeClock,
    FakeTokens,
    Flaky,
)
from waddlebot.core.contract import OutboundMessage, Visibility
from waddlebot.core.events import new_id
from waddlebot.infra.codec import encode_outbound
from waddlebot.infra.memory import MemoryBus
from waddlebot.platforms.twitch.helix import HelixClient
from waddlebot.platforms.twitch.outbound import GROUP, REPLIES, TwitchOutbound

CHANNEL = "1337"  # the bot is an ordinary chatter here
SECOND = "2468"  # another ordinary channel
MODERATED = "5555"  # the bot is a moderator here
VIEWER = "1234"


class ManualSleep:
    """A sleep that lasts until the test moves the clock past its end."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    @property
    def sleeping(self) -> int:
        return len(self._sleepers)

    async def __call__(self, seconds: float) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sleepers.append((self.clock() + seconds, done))
        await done

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        for entry in list(self._sleepers):
            if entry[0] <= self.clock():
                self._sleepers.remove(entry)
                entry[1].set_result(None)


@dataclass
class World:
    twitch: FakeTwitch
    bus: MemoryBus
    clock: FakeClock
    outbound: TwitchOutbound
    flaky: Flaky

    async def publish(self, *messages: OutboundMessage) -> None:
        await self.bus.publish(REPLIES, [encode_outbound(m) for m in messages])

    async def settled(self) -> None:
        """Until every published reply has been handled and acknowledged."""
        await until(lambda: self._all_acked())

    def _all_acked(self) -> bool:
        stream = self.bus._streams[REPLIES]
        group = stream.groups[GROUP]
        return not group.pending and group.cursor >= stream.first + len(stream.entries)


@contextlib.asynccontextmanager
async def world(
    sleep: Callable[[FakeClock], Callable[[float], Awaitable[None]]] = AdvancingSleep,
    **options: Any,
) -> AsyncIterator[World]:
    clock = FakeClock()
    sleeper = sleep(clock)
    bus = MemoryBus()
    flaky = Flaky()
    async with (
        FakeTwitch(clock=clock, echo_chat=False) as twitch,
        httpx2.AsyncClient(transport=flaky, timeout=10) as http,
    ):
        client = twitch.register_client()
        twitch.add_user(BOT, "waddlebot", "WaddleBot", moderator_of=[MODERATED])
        for user_id in (CHANNEL, SECOND, MODERATED, VIEWER):
            twitch.add_user(user_id)
        helix = HelixClient(
            http,
            base_url=twitch.helix_url,
            client_id=client.client_id,
            tokens=FakeTokens(twitch, client.client_id, {BOT: BOT_SCOPES}),
            clock=clock,
            sleep=sleeper,
        )
        outbound = TwitchOutbound(
            bus,
            helix,
            consumer="twitch-1",
            bot_user_id=lambda: BOT,
            is_moderator=lambda channel: channel == MODERATED,
            clock=clock,
            sleep=sleeper,
            **options,
        )
        await outbound.start()
        try:
            yield World(twitch, bus, clock, outbound, flaky)
        finally:
            await outbound.stop()


def reply(
    text: str,
    channel: str = CHANNEL,
    *,
    reply_to: str = "",
    visibility: Visibility = Visibility.CHANNEL,
    to_user: str = "",
    outbound_id: str | None = None,
) -> OutboundMessage:
    return OutboundMessage(
        outbound_id=outbound_id or new_id(),
        event_id=new_id(),
        session_id=new_id(),
        platform="twitch",
        entity_id=f"twitch:{channel}",
        channel_id=channel,
        text=text,
        visibility=visibility,
        reply_to=reply_to,
        to_user=to_user,
    )


def whisper(text: str, to_user: str = VIEWER) -> OutboundMessage:
    return reply(text, visibility=Visibility.DIRECT, to_user=to_user)


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
async def w() -> AsyncIterator[World]:
    async with world() as made:
        yield made


# --- channel replies ---------------------------------------------------------------------------


async def test_a_reply_to_what_cannot_be_replied_to_goes_out_unthreaded(w: World) -> None:
    await w.publish(reply("thanks for the follow!", reply_to="a-follow-notification-id"))
    await w.settled()
    (record,) = w.twitch.chat_log  # the 400 is not logged as a message
    assert (record.text, record.reply_parent_message_id) == ("thanks for the follow!", None)


async def test_a_reply_is_threaded_under_the_message_it_answers(w: World) -> None:
    sent = metric("waddlebot_replies_delivered_total", platform="twitch", outcome="sent")
    w.twitch.add_chat_message(CHANNEL, "cc106a89-1814-919d-454c-f4f2f970aae7")
    await w.publish(reply("pong!", reply_to="cc106a89-1814-919d-454c-f4f2f970aae7"))
    await w.settled()
    (record,) = w.twitch.chat_log
    assert record.is_sent
    assert (record.channel_id, record.sender_id, record.text) == (CHANNEL, BOT, "pong!")
    assert record.reply_parent_message_id == "cc106a89-1814-919d-454c-f4f2f970aae7"
    assert metric("waddlebot_replies_delivered_total", platform="twitch", outcome="sent") == (
        sent + 1
    )


async def test_a_long_reply_is_split_on_word_boundaries_and_only_the_first_part_threaded(
    w: World,
) -> None:
    words = [f"w{n:04d}" for n in range(200)]  # 5 characters each
    text = " ".join(words) + "!"
    assert len(text) == 1200
    w.twitch.add_chat_message(CHANNEL, "parent-1")
    await w.publish(reply(text, reply_to="parent-1"))
    await w.settled()
    parts = w.twitch.sent_chat(CHANNEL)
    assert len(parts) == 3
    assert all(len(p.text) <= 500 for p in parts)
    assert " ".join(p.text for p in parts) == text  # whole words, in order
    assert [p.reply_parent_message_id for p in parts] == ["parent-1", None, None]


async def test_a_burst_in_an_ordinary_channel_all_arrives_within_twitchs_limit(w: World) -> None:
    start = w.clock()
    await w.publish(*(reply(f"message {n}") for n in range(30)))
    await w.settled()
    sent = w.twitch.sent_chat(CHANNEL)
    assert [r.text for r in sent] == [f"message {n}" for n in range(30)]
    assert w.twitch.most_chat_in_window(CHANNEL, 30) <= 20
    assert w.twitch.chat_violations == []
    assert w.clock() - start >= 30  # the last ten waited for the window


@pytest.mark.parametrize("channel", [MODERATED, BOT], ids=["moderator", "own channel"])
async def test_a_moderator_or_broadcaster_may_say_100_messages_in_30_seconds(
    w: World, channel: str
) -> None:
    start = w.clock()
    await w.publish(*(reply(f"modded {n}", channel) for n in range(100)))
    await w.settled()
    assert len(w.twitch.sent_chat(channel)) == 100
    assert w.twitch.most_chat_in_window(channel, 30) == 100
    assert w.twitch.chat_violations == []
    assert w.clock() - start < 30


async def test_a_busy_channel_does_not_hold_up_another() -> None:
    async with world(sleep=ManualSleep) as w:
        sleep = w.outbound._sleep
        assert isinstance(sleep, ManualSleep)
        await w.publish(*(reply(f"busy {n}") for n in range(25)))
        await w.publish(reply("hello over here", SECOND))
        await until(
            lambda: (
                len(w.twitch.sent_chat(CHANNEL)) == 20
                and len(w.twitch.sent_chat(SECOND)) == 1
                and sleep.sleeping == 1
            )
        )
        assert len(w.twitch.sent_chat(CHANNEL)) == 20  # the first channel waits for its window
        sleep.advance(30)
        await w.settled()
        assert len(w.twitch.sent_chat(CHANNEL)) == 25
        assert w.twitch.most_chat_in_window(CHANNEL, 30) <= 20
        assert w.twitch.chat_violations == []


async def test_a_long_queue_is_left_on_the_bus_rather_than_read_into_memory() -> None:
    async with world(sleep=ManualSleep, max_held=5) as w:
        sleep = w.outbound._sleep
        assert isinstance(sleep, ManualSleep)
        await w.publish(*(reply(f"queued {n}") for n in range(30)))
        await until(lambda: len(w.twitch.sent_chat(CHANNEL)) == 20 and sleep.sleeping == 1)
        assert await w.bus.pending_count(REPLIES, GROUP) == 5  # read, not yet sent
        sleep.advance(30)
        await w.settled()
        assert len(w.twitch.sent_chat(CHANNEL)) == 30


async def test_a_dropped_message_is_logged_counted_and_not_sent_again(w: World) -> None:
    before = metric("waddlebot_twitch_chat_dropped_total", reason="msg_subsonly")
    w.twitch.drop_next_chat("msg_subsonly")
    with capture_logs() as logs:
        await w.publish(reply("subs only, sorry"))
        await w.publish(reply("next one"))
        await w.settled()
    assert [(r.text, r.is_sent) for r in w.twitch.chat_log] == [
        ("subs only, sorry", False),
        ("next one", True),
    ]
    (warning,) = [e for e in logs if e["event"] == "twitch dropped a chat message"]
    assert warning["log_level"] == "warning"
    assert warning["drop_code"] == "msg_subsonly"
    assert warning["drop_message"] == "This room is in subscribers-only mode."
    assert warning["channel"] == CHANNEL
    assert metric("waddlebot_twitch_chat_dropped_total", reason="msg_subsonly") == before + 1


async def test_the_same_outbound_id_is_sent_once(w: World) -> None:
    message = reply("only once", outbound_id="event-1:0")
    await w.publish(message, message)
    await w.publish(reply("barrier"))
    await w.settled()
    assert [r.text for r in w.twitch.chat_log] == ["only once", "barrier"]


async def test_a_transient_failure_is_retried_and_sent_once(w: World) -> None:
    w.flaky.fail["/helix/chat/messages"] = 2
    with capture_logs() as logs:
        await w.publish(reply("eventually"))
        await w.settled()
    assert [r.text for r in w.twitch.chat_log] == ["eventually"]
    retries = [e for e in logs if e["event"] == "twitch send failed; retrying"]
    assert [e["attempt"] for e in retries] == [1, 2]


async def test_a_failure_that_persists_goes_back_to_the_bus_then_is_given_up() -> None:
    async with world(reclaim_idle_ms=20) as w:
        w.flaky.fail["/helix/chat/messages"] = 1_000
        failed = metric("waddlebot_replies_delivered_total", platform="twitch", outcome="failed")
        with capture_logs() as logs:
            await w.publish(reply("never"))
            await w.settled()
        left = [e for e in logs if e["event"] == "twitch reply not sent yet; left for redelivery"]
        assert [e["deliveries"] for e in left] == [1, 2, 3]
        (gave_up,) = [e for e in logs if e["event"] == "twitch reply failed too often; giving up"]
        assert gave_up["log_level"] == "error"
        assert metric("waddlebot_replies_delivered_total", platform="twitch", outcome="failed") == (
            failed + 1
        )
        assert w.twitch.chat_log == []


async def test_a_refused_message_is_logged_counted_and_acknowledged(w: World) -> None:
    refused = metric("waddlebot_replies_delivered_total", platform="twitch", outcome="refused")
    w.flaky.status = 403
    w.flaky.fail["/helix/chat/messages"] = 1
    with capture_logs() as logs:
        await w.publish(reply("not allowed"))
        await w.publish(reply("fine"))
        await w.settled()
    assert [r.text for r in w.twitch.chat_log] == ["fine"]  # the refused one was not retried
    (error,) = [e for e in logs if e["event"] == "twitch refused a reply"]
    assert (error["log_level"], error["status"]) == ("error", 403)
    assert metric("waddlebot_replies_delivered_total", platform="twitch", outcome="refused") == (
        refused + 1
    )


async def test_a_malformed_entry_is_acknowledged(w: World) -> None:
    malformed = metric("waddlebot_replies_delivered_total", platform="twitch", outcome="malformed")
    await w.bus.publish(REPLIES, [b"{not json"])
    await w.settled()
    assert metric("waddlebot_replies_delivered_total", platform="twitch", outcome="malformed") == (
        malformed + 1
    )


# --- whispers ----------------------------------------------------------------------------------


@pytest.mark.parametrize("visibility", [Visibility.DIRECT, Visibility.EPHEMERAL])
async def test_a_private_reply_is_whispered_to_the_user(w: World, visibility: Visibility) -> None:
    await w.publish(reply("Your code is 123456", visibility=visibility, to_user=VIEWER))
    await w.settled()
    (record,) = w.twitch.whispers
    assert (record.from_user_id, record.to_user_id, record.text) == (
        BOT,
        VIEWER,
        "Your code is 123456",
    )
    assert w.twitch.chat_log == []


async def test_whispers_keep_to_three_a_second(w: World) -> None:
    with capture_logs() as logs:
        await w.publish(*(whisper(f"code {n}", str(700 + n)) for n in range(10)))
        await w.settled()
    times = [r.at for r in w.twitch.whispers]
    assert len(times) == 10
    assert most_in_any_window(times, 1.0) <= 3
    assert not any(e["event"] == "twitch send failed; retrying" for e in logs)  # no 429 met


async def test_past_40_recipients_a_day_a_whisper_is_undeliverable_and_says_so(w: World) -> None:
    before = metric("waddlebot_twitch_whispers_undeliverable_total", reason="daily_recipient_cap")
    with capture_logs() as logs:
        await w.publish(*(whisper(f"hi {n}", str(800 + n)) for n in range(41)))
        await w.publish(whisper("an old friend", "800"))  # someone already whispered today
        await w.settled()
    assert len({r.to_user_id for r in w.twitch.whispers}) == 40
    assert "840" not in {r.to_user_id for r in w.twitch.whispers}
    assert w.twitch.whispers[-1].text == "an old friend"
    (error,) = [e for e in logs if "40 different people" in e["event"]]
    assert error["log_level"] == "error"
    assert error["to_user"] == "840"
    assert (
        metric("waddlebot_twitch_whispers_undeliverable_total", reason="daily_recipient_cap")
        == before + 1
    )


async def test_a_whisper_twitch_refuses_is_logged_counted_and_not_retried(w: World) -> None:
    before = metric("waddlebot_twitch_whispers_undeliverable_total", reason="refused")
    with capture_logs() as logs:
        await w.publish(whisper("hello me", BOT))  # Twitch: a user cannot whisper themself
        await w.publish(whisper("hello you"))
        await w.settled()
    assert [r.text for r in w.twitch.whispers] == ["hello you"]
    (error,) = [e for e in logs if e["event"] == "twitch refused a reply"]
    assert error["status"] == 400
    assert metric("waddlebot_twitch_whispers_undeliverable_total", reason="refused") == before + 1
