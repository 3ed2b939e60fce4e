"""An outage is a 503, never a 500: any endpoint that fails because the database or Redis
cannot be reached answers ``503 Service Unavailable`` with ``Retry-After`` and a problem
(code ``unavailable``) saying what is away. Other failures are left alone: they are bugs,
and stay 500s.

Events refused because the router is too far behind (:class:`Backlogged`) are a 503 with
``Retry-After`` too (code ``backlogged``), from whichever endpoint took them. A setting this
deployment lacks for what was asked (:class:`ConfigurationError` raised while answering, e.g.
no ``WADDLEBOT_SECRET_KEYS`` to seal a secret with) is the operator's to fix, not the caller's
nor a bug: a 503 (code ``not_configured``) naming the setting. Its line never holds a secret's
value (``core/errors.py``)."""

from __future__ import annotations

import socket

import structlog
from fastapi import FastAPI, Request
from redis import exceptions as redis_errors
from sqlalchemy import exc as sa_errors
from starlette.responses import Response

from waddlebot.core.errors import ConfigurationError, ServiceUnavailable
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


# PostgreSQL's refusals of a character it cannot keep (NUL, "\u0000", in any text): what the
# request sent, so a 422 naming it, wherever the text came from (body, query or path)
_UNSTORABLE_TEXT = frozenset({"22021", "22P05"})  # character_not_in_repertoire, untranslatable


def _unstorable_text(exc: Exception) -> bool:
    return (
        isinstance(exc, sa_errors.DBAPIError)
        and getattr(exc.orig, "sqlstate", None) in _UNSTORABLE_TEXT
    )


async def _answer(request: Request, exc: Exception) -> Response:
    if _unstorable_text(exc):
        return problem_response(
            422,
            "the request holds a character that cannot be stored (NUL, \\u0000): remove it",
            code="unstorable_text",
            scope=request.scope,
        )
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


async def _not_configured(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ConfigurationError)
    if isinstance(exc, ServiceUnavailable):  # the setting names a service that is down
        return problem_response(
            503, exc.line(), code="unavailable", scope=request.scope, headers=RETRY
        )
    log.warning("request failed: not configured", method=request.method, path=request.url.path)
    return problem_response(
        503,
        f"this deployment is not set up for it: {exc.line()}",
        code="not_configured",
        scope=request.scope,
        setting=exc.setting or None,
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(ConfigurationError, _not_configured)
    for candidate in _CANDIDATES:
        app.add_exception_handler(candidate, _answer)
    app.add_exception_handler(Backlogged, _answer_backlogged)
