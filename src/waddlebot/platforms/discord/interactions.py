"""``POST /collectors/discord/interactions``: slash commands over HTTP, the alternative to the
gateway. Discord signs each request (Ed25519 over the timestamp and the raw body) and sends
badly signed ones on purpose to check they are refused with 401, as is a timestamp more than
5 minutes from our clock either way (a captured request replayed later); a body that is not
an interaction Discord would send is refused with 400 naming the field; a PING is answered
with a PONG; a command is answered in the response when the router's answer comes in time,
else with a deferral, its answer following as the interaction's follow-up
(:mod:`~waddlebot.platforms.discord.answers`)."""

from __future__ import annotations

import time

import orjson
import structlog
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from waddlebot.infra import tracing
from waddlebot.infra.bodies import read_capped
from waddlebot.platforms import DISCORD
from waddlebot.platforms.discord.translate import MalformedDispatch
from waddlebot.platforms.platform import running_collector
from waddlebot.web.problems import problem_response

log = structlog.get_logger("waddlebot.discord.interactions")

PATH = "/collectors/discord/interactions"
MAX_BODY = 256 * 1024
MAX_AGE_SECONDS = 300  # an interaction token is only good for minutes anyway
MAX_AHEAD_SECONDS = 300  # how far ahead of ours Discord's clock may be
MAX_DIGITS = 12  # Unix seconds until the year 33658: longer is no time Discord sends
PING, APPLICATION_COMMAND = 1, 2
PONG = 1

router = APIRouter(tags=["discord"])


def _recent(timestamp: str) -> bool:
    """Whether ``X-Signature-Timestamp`` (Unix seconds) is within 5 minutes of our clock,
    either way. Only plain digits count: ``int`` would take ``+1``, ``1_0`` or digits of
    other scripts, and a number too large for a float."""
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= MAX_DIGITS):
        return False
    age = time.time() - int(timestamp)
    return -MAX_AHEAD_SECONDS <= age <= MAX_AGE_SECONDS


def _refuse(status: int, reason: str) -> Response:
    log.warning("discord interaction refused", status=status, reason=reason)
    return problem_response(status, reason)


@router.post(PATH, summary="Discord interactions (slash commands over HTTP)")
async def interactions(request: Request) -> Response:
    collector = running_collector(request, DISCORD)
    if collector is None or collector.verifier is None:
        return _refuse(404, "the Discord collector does not take interactions here")
    body = await read_capped(request, MAX_BODY)
    if body is None:
        return _refuse(413, "body too large")
    signature = request.headers.get("x-signature-ed25519", "")
    timestamp = request.headers.get("x-signature-timestamp", "")
    if not collector.verifier.verify(signature, timestamp, body):
        return _refuse(401, "invalid request signature")
    if not _recent(timestamp):  # a captured request replayed later runs as its member
        return _refuse(401, "stale request timestamp")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return _refuse(400, "malformed interaction: not JSON")
    kind = data.get("type") if isinstance(data, dict) else None
    if isinstance(kind, bool) or not isinstance(kind, int):
        return _refuse(400, "malformed interaction: type is not an interaction type")
    if kind == PING:
        return JSONResponse({"type": PONG})
    if kind != APPLICATION_COMMAND:
        return _refuse(400, f"interaction type {kind!r} is not one WaddleBot takes")
    try:
        with tracing.received(
            f"POST {PATH}", request.headers, platform="discord", event_type="slash_command"
        ):
            response = await collector.answer_interaction(data)
    except MalformedDispatch as exc:
        return _refuse(400, str(exc))
    if response is None:
        return _refuse(400, "not a command")
    return JSONResponse(response)
