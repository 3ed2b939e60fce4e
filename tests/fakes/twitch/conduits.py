"""Helix ``/eventsub/conduits`` and ``/eventsub/conduits/shards`` (app token only), and which
shard a conduit subscription's notification goes to.

Routing. Twitch hashes the channel to a shard; when that shard is disabled it tries another
one. This fake sends to the hashed shard when it is enabled, else to any enabled shard (at
random), else nowhere: the notification is lost, as it would be on Twitch.

A shard's WebSocket session that ends disables the shard with the session's status
(``websocket_disconnected``, ...), and ``conduit.shard.disabled`` subscribers are told.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Callable, Coroutine
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .eventsub_ws import WsHub
from .helix_gate import HelixGate
from .model import Conduit, Shard, Token, TwitchState
from .pagination import BadPage, page
from .webhook import WebhookMessage, WebhookSender
from .wire import compact_json, helix_error, new_token, new_uuid, rfc3339_ns

MAX_CONDUITS = 5
MAX_SHARDS = 20_000

Spawn = Callable[[Coroutine[Any, Any, None]], None]
OnDisabled = Callable[[Conduit, Shard], None]


def _shard_count(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 1 <= value <= MAX_SHARDS else None


class Conduits:
    def __init__(
        self,
        state: TwitchState,
        hub: WsHub,
        webhooks: WebhookSender,
        spawn: Spawn,
        on_disabled: OnDisabled,
    ) -> None:
        self.state = state
        self.hub = hub
        self.webhooks = webhooks
        self.spawn = spawn
        self.on_disabled = on_disabled

    def routes(self, gate: HelixGate) -> list[Route]:
        return [
            gate.route("/eventsub/conduits", self.list_conduits, ["GET"]),
            gate.route("/eventsub/conduits", self.create, ["POST"]),
            gate.route("/eventsub/conduits", self.update, ["PATCH"]),
            gate.route("/eventsub/conduits", self.delete, ["DELETE"]),
            gate.route("/eventsub/conduits/shards", self.list_shards, ["GET"]),
            gate.route("/eventsub/conduits/shards", self.update_shards, ["PATCH"]),
        ]

    # --- conduits ----------------------------------------------------------------------------

    def of(self, token: Token) -> list[Conduit]:
        return [c for c in self.state.conduits.values() if c.client_id == token.client_id]

    def _owned(self, token: Token, conduit_id: str) -> Conduit | None:
        conduit = self.state.conduits.get(conduit_id)
        return conduit if conduit is not None and conduit.client_id == token.client_id else None

    @staticmethod
    def _app_only(token: Token) -> Response | None:
        if token.is_app:
            return None
        return helix_error(401, "Authorization header required with an app access token")

    @staticmethod
    async def _json(request: Request) -> dict[str, Any] | Response:
        try:
            body = await request.json()
        except ValueError:
            return helix_error(400, "The request body is not valid JSON")
        if not isinstance(body, dict):
            return helix_error(400, "The request body must be a JSON object")
        return body

    async def list_conduits(self, request: Request, token: Token) -> Response:
        if refused := self._app_only(token):
            return refused
        return JSONResponse({"data": [c.public() for c in self.of(token)]})

    async def create(self, request: Request, token: Token) -> Response:
        if refused := self._app_only(token):
            return refused
        body = await self._json(request)
        if isinstance(body, Response):
            return body
        count = _shard_count(body.get("shard_count"))
        if count is None:
            return helix_error(400, f"shard_count must be a number from 1 to {MAX_SHARDS}")
        if len(self.of(token)) >= MAX_CONDUITS:
            return helix_error(429, "The client has the maximum number of conduits")
        conduit = Conduit(new_uuid(), token.client_id)
        conduit.resize(count)
        self.state.conduits[conduit.id] = conduit
        return JSONResponse({"data": [conduit.public()]})

    async def update(self, request: Request, token: Token) -> Response:
        if refused := self._app_only(token):
            return refused
        body = await self._json(request)
        if isinstance(body, Response):
            return body
        count = _shard_count(body.get("shard_count"))
        if not isinstance(body.get("id"), str) or count is None:
            return helix_error(400, f"id and a shard_count from 1 to {MAX_SHARDS} are required")
        conduit = self._owned(token, body["id"])
        if conduit is None:
            return helix_error(404, "Conduit not found")
        conduit.resize(count)
        return JSONResponse({"data": [conduit.public()]})

    async def delete(self, request: Request, token: Token) -> Response:
        if refused := self._app_only(token):
            return refused
        conduit_id = request.query_params.get("id")
        if not conduit_id:
            return helix_error(400, 'Missing required parameter "id"')
        if self._owned(token, conduit_id) is None:
            return helix_error(404, "Conduit not found")
        del self.state.conduits[conduit_id]
        for sub_id, subscription in list(self.state.subscriptions.items()):
            if subscription.transport.get("conduit_id") == conduit_id:
                self.state.subscriptions.pop(sub_id).status = "conduit_deleted"
        return Response(status_code=204)

    # --- shards ------------------------------------------------------------------------------

    async def list_shards(self, request: Request, token: Token) -> Response:
        if refused := self._app_only(token):
            return refused
        params = request.query_params
        conduit_id = params.get("conduit_id")
        if not conduit_id:
            return helix_error(400, 'Missing required parameter "conduit_id"')
        conduit = self._owned(token, conduit_id)
        if conduit is None:
            return helix_error(404, "Conduit not found")
        shards = [s for s in conduit.shards if params.get("status") in (None, s.status)]
        try:
            chunk, pagination = page(shards, params, default_size=100, max_size=100)
        except BadPage as exc:
            return helix_error(400, str(exc))
        return JSONResponse({"data": [s.public() for s in chunk], "pagination": pagination})

    async def update_shards(self, request: Request, token: Token) -> Response:
        """202 with each updated shard in ``data`` and each refused one in ``errors``."""
        if refused := self._app_only(token):
            return refused
        body = await self._json(request)
        if isinstance(body, Response):
            return body
        updates = body.get("shards")
        if not isinstance(body.get("conduit_id"), str) or not isinstance(updates, list):
            return helix_error(400, "conduit_id and shards are required")
        conduit = self._owned(token, body["conduit_id"])
        if conduit is None:
            return helix_error(404, "Conduit not found")
        data: list[dict[str, Any]] = []
        errors: list[dict[str, str]] = []
        for update in updates:
            raw_id = str(update.get("id")) if isinstance(update, dict) else ""
            problem = self._assign(conduit, update, token)
            if problem is None:
                data.append(conduit.shards[int(raw_id)].public())
            else:
                errors.append({"id": raw_id, "message": problem, "code": "invalid_parameter"})
        return JSONResponse({"data": data, "errors": errors}, status_code=202)

    def _assign(self, conduit: Conduit, update: Any, token: Token) -> str | None:
        """Point one shard at a transport; why not, or None once done."""
        if not isinstance(update, dict):
            return "Each shard must be an object"
        raw_id = update.get("id")
        if not isinstance(raw_id, str | int) or not str(raw_id).isdigit():
            return "The shard id must be a number as a string"
        if int(raw_id) >= len(conduit.shards):
            return "The shard id is outside the conduit's range"
        shard = conduit.shards[int(raw_id)]
        transport = update.get("transport")
        if not isinstance(transport, dict):
            return "The shard has no transport"
        method = transport.get("method")
        if method == "websocket":
            session = self.hub.sessions.get(str(transport.get("session_id", "")))
            if session is None or session.ended:
                return "The websocket session was not found or has disconnected"
            if session.owner not in (None, (token.client_id, "")):
                return "The websocket session is used by another transport"
            session.owner = (token.client_id, "")
            shard.transport = {
                "method": "websocket",
                "session_id": session.id,
                "connected_at": session.connection.connected_at,
            }
            shard.status = "enabled"
            self.hub.subscribed(session.id)  # a session with a shard is not unused
            return None
        if method == "webhook":
            callback, secret = transport.get("callback"), transport.get("secret")
            if not isinstance(callback, str) or not callback.startswith(("http://", "https://")):
                return "transport.callback must be an HTTPS URL"
            if not isinstance(secret, str) or not 10 <= len(secret) <= 100 or not secret.isascii():
                return "transport.secret must be 10 to 100 ASCII characters"
            shard.transport = {"method": "webhook", "callback": callback, "secret": secret}
            shard.status = "webhook_callback_verification_pending"
            self.spawn(self._verify(conduit, shard))
            return None
        return "transport.method must be webhook or websocket"

    async def _verify(self, conduit: Conduit, shard: Shard) -> None:
        text = new_token()
        body = {"challenge": text, "conduit_shard": {"conduit_id": conduit.id, "shard": shard.id}}
        message = WebhookMessage("webhook_callback_verification", "", "", compact_json(body))
        sent = dict(shard.transport)
        result = await self.webhooks.send(sent["callback"], sent["secret"], message)
        if shard.transport != sent or shard.status != "webhook_callback_verification_pending":
            return  # reassigned meanwhile
        verified = result.status == 200 and result.body == text
        shard.status = "enabled" if verified else "webhook_callback_verification_failed"

    # --- routing and disabling ---------------------------------------------------------------

    def route(self, conduit: Conduit, key: str) -> Shard | None:
        """The shard a notification about ``key`` (a channel) goes to, None if none can."""
        if not conduit.shards:
            return None
        hashed = conduit.shards[zlib.crc32(key.encode()) % len(conduit.shards)]
        if hashed.status == "enabled":
            return hashed
        enabled = [s for s in conduit.shards if s.status == "enabled"]
        return random.choice(enabled) if enabled else None

    def disable(self, conduit: Conduit, shard: Shard, status: str) -> None:
        if shard.status != "enabled":
            return
        shard.status = status
        if shard.method == "websocket":
            shard.transport["disconnected_at"] = rfc3339_ns(self.state.now_ns())
        self.on_disabled(conduit, shard)

    def session_ended(self, session_id: str, status: str) -> None:
        for conduit in list(self.state.conduits.values()):
            for shard in conduit.shards:
                if shard.method == "websocket" and shard.transport["session_id"] == session_id:
                    self.disable(conduit, shard, status)
