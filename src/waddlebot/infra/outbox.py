"""Messages the scheduler's jobs post on their own (timers, reminders, event reminders): made
like the router's replies, and put on each platform's reply stream (``replies.<platform>``),
where that platform's collector sends them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import cast

from waddlebot.core.contract import OutboundMessage, Visibility
from waddlebot.core.events import Platform
from waddlebot.infra import keys, metrics
from waddlebot.infra.codec import encode_outbound
from waddlebot.infra.ports import Bus


def message(
    outbound_id: str,
    platform: str,
    text: str,
    *,
    entity_id: str = "",
    channel_id: str = "",
    visibility: Visibility = Visibility.CHANNEL,
    to_user: str = "",
) -> OutboundMessage:
    """A message no chat event asked for. ``outbound_id`` names what it is (``timer:7:12``):
    a collector sends one id only once, so a message posted twice by mistake goes out once."""
    return OutboundMessage(
        outbound_id=outbound_id,
        event_id=outbound_id,
        session_id="",
        platform=cast(Platform, platform),
        entity_id=entity_id,
        channel_id=channel_id,
        text=text,
        visibility=visibility,
        to_user=to_user,
    )


async def post(bus: Bus, messages: Iterable[OutboundMessage]) -> int:
    """Put the messages on their platforms' reply streams (one write per platform); returns
    how many were put."""
    by_platform: dict[str, list[bytes]] = defaultdict(list)
    for outbound in messages:
        by_platform[outbound.platform].append(encode_outbound(outbound))
    for platform, payloads in by_platform.items():
        await bus.publish(keys.replies_stream(platform), payloads)
        metrics.REPLIES.labels(platform).inc(len(payloads))
    return sum(len(payloads) for payloads in by_platform.values())
