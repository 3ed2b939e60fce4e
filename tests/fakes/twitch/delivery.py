"""Fans an event out to every enabled subscription that receives it, over its own transport, and
sends revocations. Webhook notifications that keep failing revoke the subscription, as Twitch
does with ``notification_failures_exceeded``."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from . import catalog
from .conduits import Conduits
from .eventsub_ws import WsHub
from .model import Shard, Subscription, TwitchState
from .webhook import WebhookResult, WebhookSender, notification, revocation


@dataclass
class Delivery:
    subscription: Subscription
    message_type: str
    message_id: str | None  # None: nothing could be written (WebSocket session gone)
    webhook_attempts: list[WebhookResult] = field(default_factory=list)
    shard: Shard | None = None  # the conduit shard it went to

    @property
    def delivered(self) -> bool:
        method = self.shard.method if self.shard is not None else self.subscription.method
        if method == "webhook":
            return bool(self.webhook_attempts) and self.webhook_attempts[-1].ok
        return self.message_id is not None


class Notifier:
    def __init__(
        self,
        state: TwitchState,
        hub: WsHub,
        webhooks: WebhookSender,
        conduits: Conduits,
        failures_to_revoke: int,
    ) -> None:
        self.state = state
        self.conduits = conduits
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
        self,
        type_: str,
        event: dict[str, Any],
        version: str | None = None,
        *,
        client_id: str | None = None,
    ) -> list[Delivery]:
        """``client_id``: only to that app's subscriptions (events about an app's conduits)."""
        subscriptions = [
            s for s in self.receivers(type_, event, version) if client_id in (None, s.client_id)
        ]
        deliveries = list(await asyncio.gather(*(self._notify(s, event) for s in subscriptions)))
        self.deliveries.extend(deliveries)
        return deliveries

    async def _notify(self, subscription: Subscription, event: dict[str, Any]) -> Delivery:
        public = subscription.public()
        if subscription.method == "conduit":
            return await self._through_conduit(subscription, "notification", public, event)
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

    async def _through_conduit(
        self,
        subscription: Subscription,
        message_type: str,
        public: dict[str, Any],
        event: dict[str, Any] | None,
    ) -> Delivery:
        conduit = self.state.conduits.get(subscription.transport["conduit_id"])
        kind = catalog.lookup(subscription.type, subscription.version)
        channel = (catalog.main_user(kind, subscription.condition) if kind else None) or ""
        shard = self.conduits.route(conduit, channel) if conduit is not None else None
        if shard is None:
            return Delivery(subscription, message_type, None)
        payload: dict[str, Any] = {"subscription": public}
        if event is not None:
            payload["event"] = event
        if shard.method == "websocket":
            session_id = shard.transport["session_id"]
            message_id = await self.hub.deliver(session_id, message_type, payload)
            return Delivery(subscription, message_type, message_id, shard=shard)
        message = notification(public, event) if event is not None else revocation(public)
        attempts = await self.webhooks.deliver(
            shard.transport["callback"], shard.transport["secret"], message
        )
        return Delivery(subscription, message_type, message.message_id, attempts, shard=shard)

    async def revoke(self, subscription: Subscription, status: str) -> Delivery:
        """Set the revoked ``status`` and tell the subscriber (one attempt, as a courtesy)."""
        subscription.status = status
        public = subscription.public()
        if subscription.method == "conduit":
            delivery = await self._through_conduit(subscription, "revocation", public, None)
            self.deliveries.append(delivery)
            return delivery
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
