"""Slack's requests to WaddleBot over HTTP: ``POST /collectors/slack/events`` (the Events
API) and ``POST /collectors/slack/commands`` (slash commands).

Each request is checked first with slack-sdk's ``SignatureVerifier``: HMAC-SHA256 of
``v0:<timestamp>:<raw body>`` with the signing secret, compared in constant time, the
timestamp within five minutes (401 otherwise). Then the body: ``url_verification`` is
answered with its challenge; an ``event_callback`` is acknowledged (200) once its event is on
the bus; a slash command is answered within Slack's 3 seconds. Malformed bodies get 400.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import orjson
import structlog
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from slack_sdk.signature import SignatureVerifier

from waddlebot.collectors.slack.translate import MalformedPayload
from waddlebot.infra.bodies import read_capped

log = structlog.get_logger("waddlebot.slack.webhook")

EVENTS_PATH = "/collectors/slack/events"
COMMANDS_PATH = "/collectors/slack/commands"
MAX_BODY = 1024 * 1024

router = APIRouter(tags=["slack"])


def _refuse(status: int, reason: str) -> JSONResponse:
    log.warning("slack request refused", status=status, reason=reason)
    return JSONResponse({"error": reason}, status_code=status)


async def _signed_body(request: Request) -> tuple[Any, bytes | JSONResponse]:
    """The collector and the request's raw body once its signature holds, else the refusal."""
    collector = getattr(request.app.state.runtime, "slack", None)
    if collector is None or not collector.signing_secret:
        return None, _refuse(404, "the Slack collector does not take requests here")
    body = await read_capped(request, MAX_BODY)
    if body is None:
        return None, _refuse(413, "body too large")
    verifier = SignatureVerifier(collector.signing_secret)
    timestamp = request.headers.get("x-slack-request-timestamp")
    signature = request.headers.get("x-slack-signature")
    try:
        valid = verifier.is_valid(body, timestamp, signature)
    except (ValueError, TypeError):  # a timestamp that is no number, a signature not ASCII
        valid = False
    if not valid:
        return None, _refuse(401, "invalid or stale request signature")
    return collector, body


@router.post(EVENTS_PATH, summary="Slack Events API deliveries")
async def events(request: Request) -> Response:
    collector, body = await _signed_body(request)
    if isinstance(body, JSONResponse):
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
        await collector.accept_event(envelope)
    except MalformedPayload as exc:
        return _refuse(400, str(exc))
    return Response(status_code=200)


@router.post(COMMANDS_PATH, summary="Slack slash commands")
async def commands(request: Request) -> Response:
    collector, body = await _signed_body(request)
    if isinstance(body, JSONResponse):
        return body
    try:
        fields = dict(parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=True))
    except (UnicodeDecodeError, ValueError):
        return _refuse(400, "malformed slash command form")
    try:
        answer = await collector.answer_command(fields)
    except MalformedPayload as exc:
        return _refuse(400, str(exc))
    if answer is None:  # the answer follows through response_url
        return Response(status_code=200)
    return JSONResponse(answer)
