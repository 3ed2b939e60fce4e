"""Fans an event out to every enabled subscription that receives it, over its own transport, and
sends revocations. Webhook notifications that keep failing revoke the subscription, as Twitch
does with ``notification_failures_exceeded``."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from . import catalog
from .eventsub_ws import WsHub
from .model import Subscription, TwitchState
from .webhook import WebhookResult, WebhookSender, notification, revocation


@dataclass
class Delivery:
    subscription: Subscription
    message_type: str
    message_id: str | None  # None: nothing could be written (WebSocket session gone)
    webhook_attempts: list[WebhookResult] = field(default_factory=list)

    @property
    def delivered(self) -> bool:
        if self.subscription.method == "webhook":
            return bool(self.webhook_attempts) and self.webhook_attempts[-1].ok
        return self.message_id is not None


class Notifier:
    def __init__(
        self, state: TwitchState, hub: WsHub, webhooks: WebhookSender, failures_to_revoke: int
    ) -> None:
        self.state = state
        self.hub = hub
        self.webhooks = webhooks
        self.failures_to_revoke = failures_to_revoke
        self.deliveries: list[Delivery] = []

    def receivers(
        self, type_: str, event: dict[str, Any], version: str | None
    ) -> list[Subscription]:
        found = []
        for subscription in self.state.subscriptions.values():
            kind = catalog.lookup(subscription.type, subscription.version)
            if (
                kind is not None
                and subscription.status == "enabled"
                and subscription.type == type_
                and version in (None, subscription.version)
                and catalog.receives(kind, subscription.condition, event)
            ):
                found.append(subscription)
        return found

    async def emit(
        self, type_: str, event: dict[str, Any], version: str | None = None
    ) -> list[Delivery]:
        subscriptions = self.receivers(type_, event, version)
        deliveries = list(await asyncio.gather(*(self._notify(s, event) for s in subscriptions)))
        self.deliveries.extend(deliveries)
        return deliveries

    async def _notify(self, subscription: Subscription, event: dict[str, Any]) -> Delivery:
        public = subscription.public()
        if subscription.method == "websocket":
            payload = {"subscription": public, "event": event}
            message_id = await self.hub.deliver(
                subscription.transport["session_id"], "notification", payload
            )
            return Delivery(subscription, "notification", message_id)
        message = notification(public, event)
        attempts = await self.webhooks.deliver(
            subscription.transport["callback"], subscription.transport["secret"], message
        )
        delivery = Delivery(subscription, "notification", message.message_id, attempts)
        if delivery.delivered:
            subscription.consecutive_failures = 0
        else:
            subscription.consecutive_failures += 1
            if subscription.consecutive_failures >= self.failures_to_revoke:
                await self.revoke(subscription, "notification_failures_exceeded")
        return delivery

    async def revoke(self, subscription: Subscription, status: str) -> Delivery:
        """Set the revoked ``status`` and tell the subscriber (one attempt, as a courtesy)."""
        subscription.status = status
        public = subscription.public()
        if subscription.method == "websocket":
            message_id = await self.hub.deliver(
                subscription.transport["session_id"], "revocation", {"subscription": public}
            )
            delivery = Delivery(subscription, "revocation", message_id)
        else:
            message = revocation(public)
            result = await self.webhooks.send(
                subscription.transport["callback"], subscription.transport["secret"], message
            )
            delivery = Delivery(subscription, "revocation", message.message_id, [result])
        self.deliveries.append(delivery)
        return delivery
