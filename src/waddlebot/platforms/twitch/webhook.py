"""``POST /collectors/twitch/eventsub``: EventSub over webhooks.

Checked in this order, as Twitch documents: the HMAC-SHA256 signature over message id +
timestamp + raw body (403 when it does not match, compared in constant time), the date of the
message (400 past 10 minutes, so a captured delivery cannot be replayed later, and 400 more
than 5 minutes ahead of our clock: :mod:`~waddlebot.platforms.twitch.times`), the body's
``subscription`` (400 naming the field that does not fit; of a notification only its type and
version are read, all it needs), then the message type: the
callback challenge is answered with the bare challenge text, a revocation is recorded, and a
notification is acknowledged (204) only once its event is on the bus.
"""

from __future__ import annotations

import hmac
from typing import Any

import orjson
import structlog
from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse

from waddlebot.core.clock import Clock, SystemClock
from waddlebot.infra import tracing
from waddlebot.infra.bodies import read_capped
from waddlebot.platforms import TWITCH
from waddlebot.platforms.platform import running_collector
from waddlebot.platforms.twitch.ingest import EventSubIngest
from waddlebot.platforms.twitch.subscriptions import (
    MalformedSubscription,
    SubscriptionStore,
    described,
    type_and_version,
)
from waddlebot.platforms.twitch.times import freshness_problem, parse_timestamp
from waddlebot.platforms.twitch.translate import (
    MalformedNotification,
    Notification,
    UnsupportedSubscription,
)
from waddlebot.web.problems import problem_response

log = structlog.get_logger("waddlebot.twitch.webhook")

PATH = "/collectors/twitch/eventsub"
MAX_BODY = 1024 * 1024
_ID, _TIMESTAMP, _SIGNATURE, _TYPE = (
    f"twitch-eventsub-message-{name}".encode() for name in ("id", "timestamp", "signature", "type")
)


def signature(secret: str, message_id: str, timestamp: str, body: bytes) -> str:
    return _signature(secret.encode(), message_id, timestamp, body).decode()


def _signature(key: bytes, message_id: str, timestamp: str, body: bytes) -> bytes:
    digest = hmac.digest(key, message_id.encode() + timestamp.encode() + body, "sha256")
    return b"sha256=" + digest.hex().encode()


def _carried(headers: dict[bytes, bytes]) -> dict[str, str]:
    """The trace context a delivery carries, for :func:`tracing.received`."""
    parent = headers.get(b"traceparent")
    return {} if parent is None else {"traceparent": parent.decode("latin-1")}


def _refuse(status: int, reason: str, **context: Any) -> Response:
    log.warning("eventsub delivery refused", status=status, reason=reason, **context)
    return problem_response(status, reason)


router = APIRouter(tags=["twitch"])


class EventSubReceiver:
    """What the webhook needs from the Twitch collector."""

    def __init__(
        self,
        ingest: EventSubIngest,
        subscriptions: SubscriptionStore,
        secret: str,
        clock: Clock | None = None,
    ) -> None:
        self.ingest = ingest
        self.subscriptions = subscriptions
        self.secret = secret
        self.key = secret.encode()  # what the signature is keyed with
        self.clock = clock or SystemClock()


def _receiver(request: Request) -> EventSubReceiver | None:
    twitch = running_collector(request, TWITCH)
    return twitch.receiver if twitch is not None else None


@router.post(PATH, summary="Twitch EventSub webhook deliveries", status_code=204)
async def eventsub(request: Request) -> Response:
    receiver = _receiver(request)
    if receiver is None or not receiver.secret:
        return _refuse(404, "the Twitch collector does not take webhooks here")
    return await receive(receiver, request)


async def receive(receiver: EventSubReceiver, request: Request) -> Response:
    body = await read_capped(request, MAX_BODY)
    if body is None:
        return _refuse(413, "body too large")
    headers = dict(request.scope["headers"])  # one pass, not one scan per header
    message_id = headers.get(_ID, b"").decode("latin-1")
    timestamp = headers.get(_TIMESTAMP, b"").decode("latin-1")
    given = headers.get(_SIGNATURE, b"").decode("latin-1")
    kind = headers.get(_TYPE, b"").decode("latin-1")
    if not (message_id and timestamp and given and kind):
        return _refuse(400, "missing Twitch-Eventsub-Message-* headers")
    expected = _signature(receiver.key, message_id, timestamp, body)
    if not hmac.compare_digest(expected, given.encode()):
        return _refuse(403, "signature mismatch", message_id=message_id)
    try:
        sent = parse_timestamp(timestamp)
    except ValueError:
        return _refuse(400, "bad timestamp", message_id=message_id)
    stale = freshness_problem(sent, receiver.clock.now())
    if stale is not None:
        return _refuse(400, stale, message_id=message_id)
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return _refuse(400, "malformed body: not JSON", message_id=message_id)
    if not isinstance(payload, dict):
        return _refuse(400, "malformed body: not a JSON object", message_id=message_id)
    try:
        if kind == "notification":  # the subscription's type and version are all it needs
            subscription_type, version = type_and_version(payload.get("subscription"))
        else:
            subscription = described(payload.get("subscription"))
    except MalformedSubscription as exc:
        return _refuse(400, f"malformed body: {exc}", message_id=message_id)
    if kind == "webhook_callback_verification":
        challenge = payload.get("challenge")
        if not isinstance(challenge, str):
            return _refuse(400, "no challenge", message_id=message_id)
        await receiver.subscriptions.record(subscription, status="enabled")
        log.info("eventsub subscription verified", type=subscription.get("type"))
        return PlainTextResponse(challenge)
    if kind == "revocation":
        await receiver.ingest.revocation(subscription)
        return Response(status_code=204)
    if kind != "notification":
        return _refuse(400, f"unknown message type {kind!r}", message_id=message_id)
    event = payload.get("event")
    if not isinstance(event, dict):
        return _refuse(400, "malformed body: event is not an object", message_id=message_id)
    notification = Notification(
        message_id=message_id,
        subscription_type=subscription_type,
        subscription_version=version,
        event=event,
        timestamp=sent,
    )
    try:
        with tracing.received(
            f"POST {PATH}",
            _carried(headers),
            platform="twitch",
            event_type=notification.subscription_type,
        ):
            await receiver.ingest.notification(notification)
    except (UnsupportedSubscription, MalformedNotification) as exc:
        return _refuse(400, str(exc), message_id=message_id)
    return Response(status_code=204)
