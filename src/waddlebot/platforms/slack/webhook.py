"""Slack's requests to WaddleBot over HTTP: ``POST /collectors/slack/events`` (the Events
API) and ``POST /collectors/slack/commands`` (slash commands).

Each request is checked first as slack-sdk's ``SignatureVerifier`` checks it: the timestamp
(plain Unix seconds) within five minutes of our clock, either way, and HMAC-SHA256 of
``v0:<timestamp>:<raw body>`` with the signing secret, compared in constant time (401
otherwise). Done here, on the raw headers, because it runs on every delivery: the
verifier's string formatting and ``hmac.new`` cost more than the rest of the check.
Then the body: ``url_verification`` is answered with its challenge; an ``event_callback`` is
acknowledged (200) once its event is on the bus; a slash command is answered within Slack's 3
seconds. Malformed bodies get 400, naming the field that does not fit.
"""

from __future__ import annotations

import hmac
import time
from typing import Any
from urllib.parse import parse_qsl

import orjson
import structlog
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from waddlebot.infra import tracing
from waddlebot.infra.bodies import read_capped
from waddlebot.platforms import SLACK
from waddlebot.platforms.platform import running_collector
from waddlebot.platforms.slack.translate import MalformedPayload
from waddlebot.web.problems import problem_response

log = structlog.get_logger("waddlebot.slack.webhook")

EVENTS_PATH = "/collectors/slack/events"
COMMANDS_PATH = "/collectors/slack/commands"
MAX_BODY = 1024 * 1024
MAX_DIGITS = 12  # Unix seconds until the year 33658
MAX_SKEW = 60 * 5  # how far from our clock a request may be dated, either way
_TIMESTAMP, _SIGNATURE = b"x-slack-request-timestamp", b"x-slack-signature"

router = APIRouter(tags=["slack"])


def _refuse(status: int, reason: str) -> Response:
    log.warning("slack request refused", status=status, reason=reason)
    return problem_response(status, reason)


async def _signed_body(request: Request) -> tuple[Any, bytes | Response]:
    """The collector and the request's raw body once its signature holds, else the refusal."""
    collector = running_collector(request, SLACK)
    if collector is None or not collector.signing_secret:
        return None, _refuse(404, "the Slack collector does not take requests here")
    body = await read_capped(request, MAX_BODY)
    if body is None:
        return None, _refuse(413, "body too large")
    try:
        body.decode()  # what slack-sdk signs over; Slack sends nothing else
    except UnicodeDecodeError:
        return None, _refuse(400, "the body is not UTF-8")
    headers = dict(request.scope["headers"])  # one pass, not one scan per header
    timestamp = headers.get(_TIMESTAMP, b"").decode("latin-1")
    if not _unix_seconds(timestamp):
        return None, _refuse(401, "X-Slack-Request-Timestamp is not Unix seconds")
    given = headers.get(_SIGNATURE, b"")
    if not _signed(collector.signing_secret, timestamp, body, given):
        return None, _refuse(401, "invalid or stale request signature")
    return collector, body


def _signed(secret: str, timestamp: str, body: bytes, given: bytes) -> bool:
    """Whether ``given`` is Slack's signature of ``body``, sent within :data:`MAX_SKEW`."""
    if abs(time.time() - int(timestamp)) > MAX_SKEW:
        return False
    signed = b"v0:" + timestamp.encode() + b":" + body
    expected = b"v0=" + hmac.digest(secret.encode(), signed, "sha256").hex().encode()
    return hmac.compare_digest(expected, given)


def _unix_seconds(timestamp: str) -> bool:
    """Plain digits, as Slack sends: slack-sdk's ``int()`` would also take ``+1``, ``1_0``
    or digits of other scripts, and overflow comparing a number too large for a float."""
    return timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= MAX_DIGITS


@router.post(EVENTS_PATH, summary="Slack Events API deliveries")
async def events(request: Request) -> Response:
    collector, body = await _signed_body(request)
    if isinstance(body, Response):
        return body
    try:
        envelope = orjson.loads(body)
        kind = envelope["type"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return _refuse(400, "malformed event body")
    if kind == "url_verification":
        challenge = envelope.get("challenge")
        if not isinstance(challenge, str):
            return _refuse(400, "url_verification without a challenge")
        return JSONResponse({"challenge": challenge})
    if kind != "event_callback":
        log.info("slack delivery ignored", type=kind)  # app_rate_limited and the like
        return Response(status_code=200)
    try:
        inner = envelope.get("event")  # signed by Slack: its type is one of Slack's names
        event_type = str(inner.get("type", ""))[:64] if isinstance(inner, dict) else ""
        with tracing.received(
            f"POST {EVENTS_PATH}", request.headers, platform="slack", event_type=event_type
        ):
            await collector.accept_event(envelope)
    except MalformedPayload as exc:
        return _refuse(400, str(exc))
    return Response(status_code=200)


@router.post(COMMANDS_PATH, summary="Slack slash commands")
async def commands(request: Request) -> Response:
    collector, body = await _signed_body(request)
    if isinstance(body, Response):
        return body
    try:
        fields = dict(parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=True))
    except (UnicodeDecodeError, ValueError):
        return _refuse(400, "malformed slash command form")
    try:
        with tracing.received(
            f"POST {COMMANDS_PATH}", request.headers, platform="slack", event_type="slash_command"
        ):
            answer = await collector.answer_command(fields)
    except MalformedPayload as exc:
        return _refuse(400, str(exc))
    if answer is None:  # the answer follows through response_url
        return Response(status_code=200)
    return JSONResponse(answer)
