"""What both EventSub transports (webhooks and the WebSocket) do with what Twitch sends:
notifications become canonical events on the bus, revocations are recorded."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any

import structlog

from waddlebot.core.events import Event
from waddlebot.infra.ports import Bus
from waddlebot.platforms.answering import publish_event
from waddlebot.platforms.twitch.subscriptions import SubscriptionStore
from waddlebot.platforms.twitch.translate import Notification, badges, translate

log = structlog.get_logger("waddlebot.twitch")

PLATFORM = "twitch"
SEEN_TTL = 3600.0  # Twitch redelivers within minutes; an hour of ids is plenty


class Delivery(StrEnum):
    """What became of one EventSub delivery."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"  # the bot's own chat line


def seen_key(message_id: str) -> str:
    return f"twitch:eventsub:{message_id}"


class EventSubIngest:
    def __init__(
        self,
        bus: Bus,
        subscriptions: SubscriptionStore,
        bot_user_id: Callable[[], str],
        *,
        on_own_chat: Callable[[str, set[str]], None] | None = None,
    ) -> None:
        self._on_own_chat = on_own_chat
        self._bus = bus
        self._subscriptions = subscriptions
        self._bot_user_id = bot_user_id

    async def notification(self, notification: Notification) -> Delivery:
        """Put the event on the bus (returns once it is there). A message id handled before
        is not handled again: the check and the publish are one step on the bus, and the id
        is marked only once the event is on it (a failure before is redelivered and retried).
        Raises the translation errors for a payload to refuse."""
        event = translate(notification, bot_user_id=self._bot_user_id())
        if event is None:
            self._note_own_line(notification)
            return Delivery.IGNORED
        once = (seen_key(notification.message_id), SEEN_TTL)
        if not await publish_event(self._bus, event, once=once):
            log.info("eventsub redelivery skipped", message_id=notification.message_id)
            return Delivery.DUPLICATE
        return Delivery.ACCEPTED

    async def publish(self, event: Event) -> None:
        await publish_event(self._bus, event)

    def _note_own_line(self, notification: Notification) -> None:
        """Raises :class:`MalformedNotification` for badges that are no list of badges."""
        event = notification.event
        if self._on_own_chat is None or event.get("chatter_user_id") != self._bot_user_id():
            return
        self._on_own_chat(
            str(event.get("broadcaster_user_id") or ""),
            {str(badge.get("set_id")) for badge in badges(event)},
        )

    async def revocation(self, subscription: Mapping[str, Any]) -> None:
        status = str(subscription.get("status") or "revoked")
        log.warning(
            "twitch revoked a subscription",
            subscription_id=subscription.get("id"),
            type=subscription.get("type"),
            condition=subscription.get("condition"),
            status=status,
        )
        await self._subscriptions.record(subscription, status=status)
