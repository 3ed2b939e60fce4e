"""Which failures are outages (answered 503, batches kept) and which are bugs."""

from __future__ import annotations

import errno
import socket

import pytest
from redis import exceptions as redis_errors
from sqlalchemy import exc as sa_errors

from waddlebot.infra.outages import describe, unavailable


def _dbapi(statement: str | None, *, invalidated: bool = False) -> sa_errors.DBAPIError:
    return sa_errors.DBAPIError(
        statement, {}, Exception("server closed the connection"), connection_invalidated=invalidated
    )


@pytest.mark.parametrize(
    ("exc", "what"),
    [
        (_dbapi(None), "database"),  # no connection could be made
        (_dbapi("SELECT 1", invalidated=True), "database"),  # it broke under a statement
        (sa_errors.TimeoutError("QueuePool limit reached"), "database"),
        (redis_errors.ConnectionError("Error 111 connecting"), "redis"),
        (redis_errors.BusyLoadingError("Redis is loading the dataset in memory"), "redis"),
        (redis_errors.TimeoutError("Timeout reading from socket"), "redis"),
        (redis_errors.ReadOnlyError("You can't write against a read only replica."), "redis"),
        (ConnectionRefusedError(errno.ECONNREFUSED, "Connect call failed"), "network"),
        (ConnectionResetError(errno.ECONNRESET, "reset by peer"), "network"),
        (TimeoutError(), "network"),
        (OSError(errno.EHOSTUNREACH, "No route to host"), "network"),
        (socket.gaierror(-2, "Name or service not known"), "network"),
    ],
)
def test_outages(exc: BaseException, what: str) -> None:
    assert unavailable(exc) == what


@pytest.mark.parametrize(
    "exc",
    [
        _dbapi("SELECT nope"),  # a statement the database refused: a bug
        sa_errors.IntegrityError("INSERT", {}, Exception("duplicate key")),
        redis_errors.ResponseError("WRONGTYPE Operation against a key"),
        FileNotFoundError(errno.ENOENT, "No such file"),
        ValueError("bad"),
        RuntimeError("every event of the batch failed"),
    ],
)
def test_bugs_are_no_outages(exc: BaseException) -> None:
    assert unavailable(exc) is None


def test_an_outage_raised_from_another_error_is_found_through_the_chain() -> None:
    try:
        try:
            raise redis_errors.ConnectionError("Error 111")
        except redis_errors.ConnectionError as inner:
            raise RuntimeError("could not publish") from inner
    except RuntimeError as outer:
        assert unavailable(outer) == "redis"


def test_describe_is_short_says_the_class_and_never_a_password() -> None:
    exc = sa_errors.DBAPIError(
        None,
        {},
        Exception('could not connect to postgresql://bot:s3cret@db:5432/wb: database "wb"\n  gone'),
    )
    text = describe(exc)
    assert (
        text == 'DBAPIError: could not connect to postgresql://***@db:5432/wb: database "wb" gone'
    )
    assert "s3cret" not in describe(redis_errors.ConnectionError("redis://:pw@cache:6379 refused"))
    assert len(describe(ValueError("x" * 1000))) <= 220
    assert describe(TimeoutError()) == "TimeoutError"
