"""Helix ``/eventsub/subscriptions``: create (with the webhook challenge), list and delete;
over a webhook, a WebSocket session or a conduit (``conduits.py``)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import catalog
from .eventsub_ws import WsHub
from .helix_gate import HelixGate
from .model import Subscription, Token, TwitchState
from .pagination import BadPage, page
from .webhook import WebhookSender, challenge
from .wire import helix_error, new_uuid, rfc3339_ns

WEBHOOK_MAX_TOTAL_COST = 10_000
WEBSOCKET_MAX_TOTAL_COST = 10
WEBSOCKET_MAX_SUBSCRIPTIONS = 300
WEBSOCKET_MAX_CONNECTIONS = 3  # per client id + user
LIVE = ("enabled", "webhook_callback_verification_pending")

Spawn = Callable[[Coroutine[Any, Any, None]], None]


class Subscriptions:
    def __init__(
        self, state: TwitchState, hub: WsHub, webhooks: WebhookSender, spawn: Spawn
    ) -> None:
        self.state = state
        self.hub = hub
        self.webhooks = webhooks
        self.spawn = spawn
        # (new, already live) pairs: one event type and condition live on two WebSocket
        # sessions at once, so its events are delivered twice (a client's bug, not refused)
        self.twins: list[tuple[Subscription, Subscription]] = []

    def routes(self, gate: HelixGate) -> list[Route]:
        return [
            gate.route("/eventsub/subscriptions", self.create, ["POST"]),
            gate.route("/eventsub/subscriptions", self.list_subscriptions, ["GET"]),
            gate.route("/eventsub/subscriptions", self.delete, ["DELETE"]),
        ]

    # --- whose subscriptions a token sees ----------------------------------------------------

    def visible_to(self, token: Token) -> list[Subscription]:
        if token.is_app:
            return [
                s
                for s in self.state.subscriptions.values()
                if s.client_id == token.client_id and s.method in ("webhook", "conduit")
            ]
        return [
            s
            for s in self.state.subscriptions.values()
            if s.client_id == token.client_id
            and s.user_id == token.user_id
            and s.method == "websocket"
        ]

    def _totals(self, token: Token) -> dict[str, int]:
        mine = self.visible_to(token)
        return {
            "total": len(mine),
            "total_cost": sum(s.cost for s in mine if s.status in LIVE),
            "max_total_cost": WEBHOOK_MAX_TOTAL_COST if token.is_app else WEBSOCKET_MAX_TOTAL_COST,
        }

    # --- create --------------------------------------------------------------------------------

    def _authorized(self, kind: catalog.EventType, condition: dict[str, str], token: Token) -> bool:
        if kind.authorizer is None:
            return True
        who = condition[kind.authorizer]
        if token.is_app:
            held = self.state.granted(token.client_id, who)
        elif token.user_id == who:
            held = set(token.scopes)
        else:
            return False
        if not any(needed <= held for needed in kind.scopes):
            return False
        broadcaster = condition.get("broadcaster_user_id", "")
        if kind.name == "channel.follow" and not self.state.user(who).can_moderate(broadcaster):
            return False
        if kind.name == "channel.chat.message" and token.is_app:
            # A bot reading chat with an app token: the bot granted user:bot, and the channel
            # granted channel:bot unless the bot moderates it.
            channel_ok = "channel:bot" in self.state.granted(token.client_id, broadcaster)
            return "user:bot" in held and (
                channel_ok or self.state.user(who).can_moderate(broadcaster)
            )
        return True

    def _cost(self, kind: catalog.EventType, condition: dict[str, str], token: Token) -> int:
        if kind.authorizer is not None or kind.name == "conduit.shard.disabled":
            return 0
        user = catalog.main_user(kind, condition) or ""
        if token.is_app:
            return 0 if self.state.granted(token.client_id, user) else 1
        return 0 if token.user_id == user else 1

    def _transport(self, raw: Any, token: Token) -> dict[str, str] | Response:
        if not isinstance(raw, dict):
            return helix_error(400, "transport is required")
        method = raw.get("method")
        if method == "webhook":
            if not token.is_app:
                return helix_error(400, "The webhook transport requires an app access token")
            callback, secret = raw.get("callback"), raw.get("secret")
            if not isinstance(callback, str) or not callback.startswith(("http://", "https://")):
                return helix_error(400, "transport.callback must be an HTTPS URL")
            if not isinstance(secret, str) or not 10 <= len(secret) <= 100 or not secret.isascii():
                return helix_error(400, "transport.secret must be 10 to 100 ASCII characters")
            return {"method": "webhook", "callback": callback, "secret": secret}
        if method == "websocket":
            if token.is_app or token.user_id is None:
                return helix_error(400, "The websocket transport requires a user access token")
            session = self.hub.sessions.get(str(raw.get("session_id", "")))
            if session is None or session.ended:
                return helix_error(400, "The websocket session does not exist or has disconnected")
            owner = (token.client_id, token.user_id)
            if session.owner not in (None, owner):
                return helix_error(400, "The websocket session belongs to another user")
            return {"method": "websocket", "session_id": session.id}
        if method == "conduit":
            if not token.is_app:
                return helix_error(400, "The conduit transport requires an app access token")
            conduit = self.state.conduits.get(str(raw.get("conduit_id", "")))
            if conduit is None or conduit.client_id != token.client_id:
                return helix_error(400, "The conduit does not exist")
            return {"method": "conduit", "conduit_id": conduit.id}
        return helix_error(400, "transport.method must be webhook, websocket or conduit")

    def _websocket_room(self, token: Token, session_id: str) -> Response | None:
        mine = [s for s in self.visible_to(token) if s.status == "enabled"]
        if (
            sum(1 for s in mine if s.transport["session_id"] == session_id)
            >= WEBSOCKET_MAX_SUBSCRIPTIONS
        ):
            return helix_error(429, "The websocket session has too many subscriptions")
        others = {s.transport["session_id"] for s in mine} - {session_id}
        if len(others) >= WEBSOCKET_MAX_CONNECTIONS:
            return helix_error(429, "Too many websocket connections for this user")
        return None

    async def create(self, request: Request, token: Token) -> Response:
        try:
            body = await request.json()
        except ValueError:
            return helix_error(400, "The request body is not valid JSON")
        if not isinstance(body, dict):
            return helix_error(400, "The request body must be a JSON object")
        kind = catalog.lookup(str(body.get("type")), str(body.get("version")))
        if kind is None:
            return helix_error(400, "unsupported subscription type and version")
        raw_condition = body.get("condition")
        problem = catalog.condition_problem(kind, raw_condition)
        if problem or not isinstance(raw_condition, dict):
            return helix_error(400, problem or "condition must be an object")
        condition = {k: str(raw_condition.get(k) or "") for k in kind.condition}
        transport = self._transport(body.get("transport"), token)
        if isinstance(transport, Response):
            return transport
        if not self._authorized(kind, condition, token):
            return helix_error(403, "subscription missing proper authorization")
        if kind.name == "conduit.shard.disabled" and (
            not token.is_app or condition["client_id"] != token.client_id
        ):
            return helix_error(403, "condition.client_id must be the app access token's client")
        for existing in self.visible_to(token):
            if (
                existing.status in LIVE
                and (existing.type, existing.version) == (kind.name, kind.version)
                and existing.condition == condition
                and {k: v for k, v in existing.transport.items() if k != "secret"}
                == {k: v for k, v in transport.items() if k != "secret"}
            ):
                return helix_error(409, "subscription already exists")
        if transport["method"] == "websocket" and (
            crowded := self._websocket_room(token, transport["session_id"])
        ):
            return crowded
        cost = self._cost(kind, condition, token)
        totals = self._totals(token)
        if totals["total_cost"] + cost > totals["max_total_cost"]:
            return helix_error(429, "The subscription would exceed max_total_cost")
        subscription = Subscription(
            id=new_uuid(),
            type=kind.name,
            version=kind.version,
            condition=condition,
            transport=transport,
            created_at=rfc3339_ns(self.state.now_ns()),
            cost=cost,
            status="webhook_callback_verification_pending",
            client_id=token.client_id,
            user_id=token.user_id,
        )
        if transport["method"] == "websocket":
            self._note_twins(subscription)
            session = self.hub.sessions[transport["session_id"]]
            session.owner = (token.client_id, token.user_id or "")
            subscription.status = "enabled"
            subscription.connected_at = session.connection.connected_at
            self.hub.subscribed(session.id)
        elif transport["method"] == "conduit":
            subscription.status = "enabled"
        else:
            self.spawn(self._verify(subscription))
        self.state.subscriptions[subscription.id] = subscription
        return JSONResponse(
            {"data": [subscription.public(helix=True)], **self._totals(token)}, status_code=202
        )

    def _note_twins(self, new: Subscription) -> None:
        for live in self.state.subscriptions.values():
            if (
                live.method == "websocket"
                and live.status == "enabled"
                and (live.client_id, live.type, live.version)
                == (new.client_id, new.type, new.version)
                and live.condition == new.condition
            ):
                self.twins.append((new, live))

    async def _verify(self, subscription: Subscription) -> None:
        message, text = challenge(subscription.public())
        result = await self.webhooks.send(
            subscription.transport["callback"], subscription.transport["secret"], message
        )
        if subscription.status != "webhook_callback_verification_pending":
            return  # deleted or revoked meanwhile
        verified = result.status == 200 and result.body == text
        subscription.status = "enabled" if verified else "webhook_callback_verification_failed"

    # --- list and delete -----------------------------------------------------------------------

    async def list_subscriptions(self, request: Request, token: Token) -> Response:
        params = request.query_params
        filters = [k for k in ("status", "type", "user_id", "subscription_id") if k in params]
        if len(filters) > 1:
            return helix_error(400, "You may specify only one filter")
        items = self.visible_to(token)
        if filters:
            key, wanted = filters[0], params[filters[0]]
            items = [
                s
                for s in items
                if (key == "status" and s.status == wanted)
                or (key == "type" and s.type == wanted)
                or (key == "user_id" and wanted in s.condition.values())
                or (key == "subscription_id" and s.id == wanted)
            ]
        try:
            chunk, pagination = page(items, params, default_size=100)
        except BadPage as exc:
            return helix_error(400, str(exc))
        return JSONResponse(
            {
                "data": [s.public(helix=True) for s in chunk],
                **self._totals(token),
                "pagination": pagination,
            }
        )

    async def delete(self, request: Request, token: Token) -> Response:
        wanted = request.query_params.get("id")
        if not wanted:
            return helix_error(400, 'Missing required parameter "id"')
        if not any(s.id == wanted for s in self.visible_to(token)):
            return helix_error(404, "subscription not found")
        self.state.subscriptions.pop(wanted).status = "deleted"
        return Response(status_code=204)

    def needing_authorization(self, client_id: str, user_id: str) -> list[Subscription]:
        """Live subscriptions of ``client_id`` that rest on ``user_id``'s authorization."""
        found = []
        for subscription in self.state.subscriptions.values():
            kind = catalog.lookup(subscription.type, subscription.version)
            if (
                kind is not None
                and kind.authorizer is not None
                and subscription.client_id == client_id
                and subscription.status in LIVE
                and subscription.condition.get(kind.authorizer) == user_id
            ):
                found.append(subscription)
        return found

    # --- WebSocket sessions ending ---------------------------------------------------------

    def session_ended(self, session_id: str, status: str) -> None:
        for subscription in self.state.subscriptions.values():
            if (
                subscription.method == "websocket"
                and subscription.transport["session_id"] == session_id
                and subscription.status == "enabled"
            ):
                subscription.status = status
