"""Refusals of the HTTP API in the audit log: every ``401`` (no valid key or session) and
``403`` (not enough rights) any endpoint raises is counted, and recorded as an ``api.refused``
row naming who tried (the caller, or the key id of a key that did not work), from where, on
which operation and why.

A flood of bad requests must not fill the table: each address gets at most
:data:`AUDITED_PER_MINUTE` rows a minute (through the rate-limiter port, so the cap holds
across processes in a distributed deployment); ``waddlebot_api_refusals_total`` counts them
all. A refusal an endpoint has audited itself (a failed portal login, ``account.login``) is
only counted.
"""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import Request

from waddlebot.infra import metrics
from waddlebot.infra.ports import Limit
from waddlebot.web.auth import AUTHENTICATOR
from waddlebot.web.deps import SESSION_COOKIE, actor_of, presented_key
from waddlebot.web.host import ApiHost, api_host
from waddlebot.web.numbers import MAX_STORED_INT

AUDITED_PER_MINUTE = 10
_PER_ADDRESS = Limit(AUDITED_PER_MINUTE, 60)
REFUSED = frozenset({401, 403})

log = structlog.get_logger(__name__)


def mark_audited(request: Request) -> None:
    """The endpoint recorded this refusal in the audit log itself: only count it."""
    request.state.refusal_audited = True


def _presented(host: ApiHost, request: Request) -> str:
    """What the caller presented, as the audit log may show it: a key's id (public), never a
    secret."""
    key = presented_key(request.headers) or request.cookies.get(SESSION_COOKIE, "")
    if not key:
        return "none"
    authenticator = host.find(AUTHENTICATOR)
    return "key" if authenticator is None else authenticator.describe(key)


def _community(request: Request) -> int | None:
    raw = str(request.scope.get("path_params", {}).get("community_id", ""))
    return int(raw) if raw.isdigit() and 0 < int(raw) <= MAX_STORED_INT else None


def _operation(request: Request) -> str:
    route = request.scope.get("route")
    return f"{request.method} {getattr(route, 'path', request.url.path)}"


async def _record(request: Request, status: int, reason: str) -> None:
    host = api_host(request)
    address = request.client.host if request.client else "unknown"
    if not await host.ports.ratelimiter.hit(_PER_ADDRESS, "api-refusal", address):
        return
    principal = getattr(request.state, "principal", None)
    presented = _presented(host, request)
    detail: dict[str, Any] = {"status": status, "reason": reason[:300]}
    if principal is None:
        actor = f"{presented}@{address}"
    else:
        actor = actor_of(principal, request)
        detail["presented"] = presented
    host.audit.record(
        "api.refused",
        decision="deny",
        actor=actor,
        target=_operation(request),
        community_id=_community(request),
        detail=detail,
    )


async def note_refusal(request: Request, status: int, reason: str) -> None:
    """Count and audit a 401 or 403 about to be answered (``web/errors.py`` calls this for
    every error answer; other statuses are left alone)."""
    if status not in REFUSED:
        return
    metrics.API_REFUSALS.labels(str(status)).inc()
    if getattr(request.state, "refusal_audited", False):
        return
    try:
        await _record(request, status, reason)
    except Exception as error:  # the cache is down: the refusal still goes out
        log.warning("refusal_not_audited", error=type(error).__name__)
