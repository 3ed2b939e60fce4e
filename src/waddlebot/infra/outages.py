"""Telling an outage from a bug: an exception that says the database or Redis cannot be
reached now (and a retry later may work) rather than that something is wrong with the request
or the code.

The HTTP API answers an outage 503 with ``Retry-After`` (``web/outages.py``), and a router
worker keeps a batch that failed for one in hand and tries it again, rather than counting the
failure against its events (``router/worker.py``). Everything else stays what it is:
a bug, a 500.
"""

from __future__ import annotations

import errno
import re
import socket

from redis import exceptions as redis_errors
from sqlalchemy import exc as sa_errors

# errors of a connection to another machine (refused, reset, unreachable, timed out)
_NETWORK_ERRNOS = frozenset(
    {
        errno.ECONNREFUSED,
        errno.ECONNRESET,
        errno.ECONNABORTED,
        errno.EPIPE,
        errno.EHOSTUNREACH,
        errno.EHOSTDOWN,
        errno.ENETUNREACH,
        errno.ENETDOWN,
        errno.ETIMEDOUT,
    }
)
# Redis unreachable, still loading its data (BusyLoadingError is a ConnectionError), out of
# memory, or a replica that may not be written to (a failover under way)
_REDIS_AWAY = (
    redis_errors.ConnectionError,
    redis_errors.TimeoutError,
    redis_errors.ReadOnlyError,
    redis_errors.OutOfMemoryError,
    redis_errors.MasterDownError,
)
_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s]*@", re.IGNORECASE)


def unavailable(exc: BaseException) -> str | None:
    """What an exception says is out of reach: ``"database"``, ``"redis"`` or ``"network"``
    (a connection failed, to what the exception does not say); None when it is no outage.
    Follows explicit chaining (``raise ... from``)."""
    seen: BaseException | None = exc
    for _ in range(10):  # a cause chain is short; never loop on a cycle
        if seen is None:
            return None
        found = _classify(seen)
        if found is not None:
            return found
        seen = seen.__cause__
    return None


def _classify(exc: BaseException) -> str | None:
    if isinstance(exc, _REDIS_AWAY):
        return "redis"
    if isinstance(exc, sa_errors.DBAPIError):
        # the connection broke under a statement, or none could be made (no statement yet:
        # refused, "database is not currently accepting connections", too many clients)
        return "database" if exc.connection_invalidated or exc.statement is None else None
    if isinstance(exc, sa_errors.TimeoutError):
        return "database"  # no pooled connection came free in time
    if isinstance(exc, ConnectionError | TimeoutError | socket.gaierror):
        return "network"
    if isinstance(exc, OSError) and exc.errno in _NETWORK_ERRNOS:
        return "network"
    return None


def describe(exc: BaseException) -> str:
    """The exception's class and message, short and without credentials: for logs and for
    answers that say why something is unavailable. A database error is described by what the
    driver said (SQLAlchemy's own text adds the statement and a link)."""
    shown: BaseException = exc
    if isinstance(exc, sa_errors.DBAPIError) and exc.orig is not None:
        shown = exc.orig
    message = " ".join(str(shown).split())
    message = _CREDENTIALS.sub(r"\g<scheme>***@", message)
    if len(message) > 200:
        message = message[:197] + "..."
    name = type(exc).__name__
    return f"{name}: {message}" if message else name
