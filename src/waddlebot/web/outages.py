"""An outage is a 503, never a 500: any endpoint that fails because the database or Redis
cannot be reached answers ``503 Service Unavailable`` with ``Retry-After`` and a problem
(code ``unavailable``) saying what is away. Other failures are left alone: they are bugs,
and stay 500s.

Events refused because the router is too far behind (:class:`Backlogged`) are a 503 with
``Retry-After`` too (code ``backlogged``), from whichever endpoint took them."""

from __future__ import annotations

import socket

import structlog
from fastapi import FastAPI, Request
from redis import exceptions as redis_errors
from sqlalchemy import exc as sa_errors
from starlette.responses import Response

from waddlebot.infra.outages import describe, unavailable
from waddlebot.infra.ports import Backlogged
from waddlebot.web.problems import problem_response

log = structlog.get_logger("waddlebot.web")

RETRY_AFTER_SECONDS = 5
WHAT = {
    "database": "the database",
    "redis": "Redis (the event bus and cache)",
    "network": "a service WaddleBot depends on",
}
# the exception classes an outage can surface as (``unavailable`` decides which of their
# instances are one)
_CANDIDATES: tuple[type[Exception], ...] = (
    sa_errors.DBAPIError,
    sa_errors.TimeoutError,
    redis_errors.RedisError,
    OSError,  # ConnectionError, TimeoutError and socket.gaierror are OSErrors
    socket.gaierror,
)


RETRY = {"Retry-After": str(RETRY_AFTER_SECONDS)}


def unavailable_response(request: Request, what: str) -> Response:
    return problem_response(
        503,
        f"{WHAT[what]} is unavailable; retry later",
        scope=request.scope,
        headers=RETRY,
        unavailable=what,
    )


async def _answer(request: Request, exc: Exception) -> Response:
    what = unavailable(exc)
    if what is None:
        raise exc  # not an outage: a bug, answered 500 and logged with its traceback
    log.warning(
        "request failed: infrastructure unreachable",
        method=request.method,
        path=request.url.path,
        unavailable=what,
        error=describe(exc),
    )
    return unavailable_response(request, what)


def backlogged_response(request: Request, exc: Backlogged) -> Response:
    """Events refused because the router is too far behind: nothing was taken, and the
    platforms that deliver webhooks (Twitch, Slack) send them again on a non-2xx."""
    return problem_response(
        503,
        f"the router is behind: {exc.waiting} events waiting; nothing was accepted, retry later",
        code="backlogged",
        scope=request.scope,
        headers=RETRY,
        waiting=exc.waiting,
    )


async def _answer_backlogged(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Backlogged)
    return backlogged_response(request, exc)


def install(app: FastAPI) -> None:
    for candidate in _CANDIDATES:
        app.add_exception_handler(candidate, _answer)
    app.add_exception_handler(Backlogged, _answer_backlogged)
