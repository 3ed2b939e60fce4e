"""The reply stream reader the Discord and Slack collectors share: lanes that do not hold
each other up, redelivery of what failed, and nothing sent twice or lost."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from tests.support.harness import until
from waddlebot.core.contract import OutboundMessage
from waddlebot.core.events import new_id
from waddlebot.infra import keys, metrics
from waddlebot.infra.codec import encode_outbound
from waddlebot.infra.memory import MemoryBus
from waddlebot.platforms.reply_stream import MAX_DELIVERIES, ReplyStream

STREAM = keys.replies_stream("slack")


@dataclass
class Sender:
    """Sends by recording; a channel can be held, and texts can fail a number of times."""

    sent: list[tuple[str, str]] = field(default_factory=list)
    held: dict[str, asyncio.Event] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)

    async def send(self, message: OutboundMessage) -> None:
        gate = self.held.get(message.channel_id)
        if gate is not None:
            await gate.wait()
        if self.failures.get(message.text, 0) > 0:
            self.failures[message.text] -= 1
            raise ConnectionError("the platform is unreachable")
        self.sent.append((message.channel_id, message.text))


@dataclass
class Rig:
    bus: MemoryBus
    sender: Sender
    stream: ReplyStream

    async def put(self, channel: str, *texts: str) -> None:
        await self.bus.publish(
            STREAM,
            [
                encode_outbound(
                    OutboundMessage(
                        outbound_id=new_id(),
                        event_id="e",
                        session_id="s",
                        platform="slack",
                        entity_id=f"slack:T1:{channel}",
                        channel_id=channel,
                        text=text,
                    )
                )
                for text in texts
            ],
        )

    async def all_acknowledged(self) -> None:
        async with asyncio.timeout(5):
            while await self.bus.pending_count(STREAM, "slack"):
                await asyncio.sleep(0.01)

    def texts(self, channel: str) -> list[str]:
        return [text for where, text in self.sender.sent if where == channel]


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    bus, sender = MemoryBus(), Sender()
    stream = ReplyStream(
        bus,
        "slack",
        sender.send,
        consumer="test",
        lane=lambda m: m.channel_id,
        batch=2,
        reclaim_idle_ms=100,
    )
    await stream.start()
    yield Rig(bus, sender, stream)
    await stream.stop()


async def test_a_held_up_channel_holds_up_no_other_and_keeps_its_order(rig: Rig) -> None:
    rig.sender.held["A"] = gate = asyncio.Event()
    await rig.put("A", "a1", "a2", "a3")
    await rig.put("B", "b1")  # read after A's, in a later batch
    await rig.put("B", "b2")
    await until(lambda: rig.texts("B") == ["b1", "b2"])
    assert rig.texts("A") == []
    gate.set()
    await until(lambda: rig.texts("A") == ["a1", "a2", "a3"])


async def test_a_failed_send_is_delivered_again_and_sent_once(rig: Rig) -> None:
    rig.sender.failures["flaky"] = 2
    await rig.put("A", "flaky", "next")
    await until(lambda: "flaky" in rig.texts("A"), timeout=10)
    assert sorted(rig.texts("A")) == ["flaky", "next"]
    await rig.all_acknowledged()


async def test_a_reply_that_always_fails_is_given_up(rig: Rig) -> None:
    given_up = metrics.DELIVERED.labels("slack", "given_up")
    before = given_up._value.get()
    rig.sender.failures["doomed"] = MAX_DELIVERIES + 10
    await rig.put("A", "doomed")
    await until(lambda: given_up._value.get() > before, timeout=15)
    await until(lambda: rig.sender.failures["doomed"] == 10)  # tried once per delivery
    assert rig.texts("A") == []


async def test_a_malformed_entry_is_dropped_and_the_rest_delivered(rig: Rig) -> None:
    await rig.bus.publish(STREAM, [b"not json"])
    await rig.put("A", "fine")
    await until(lambda: rig.texts("A") == ["fine"])
    await rig.all_acknowledged()


async def test_a_failed_send_comes_back_while_replies_keep_arriving(rig: Rig) -> None:
    rig.sender.failures["flaky"] = 1
    await rig.put("A", "flaky")
    for n in range(100):  # a busy stream: never a read that finds nothing
        await rig.put("B", f"b{n}")
        await asyncio.sleep(0.02)
        if "flaky" in rig.texts("A"):
            break
    assert rig.texts("A") == ["flaky"]
