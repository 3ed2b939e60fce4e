"""A database that cannot be reached, has no tables yet, or is behind the code, said as a
setting to fix (or a service to start)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from waddlebot.core.errors import ConfigurationError, ServiceUnavailable
from waddlebot.infra.outages import unavailable

SETTING = "WADDLEBOT_DATABASE_URL"
# SQLSTATE classes of a connection that could not be made: connection exception, invalid
# authorization (user, password), invalid catalog name (no such database)
CONNECTION_CLASSES = ("08", "28", "3D")
# SQLSTATEs of a server that is there but cannot take the connection now: a connection
# exception, too many connections, starting up or shutting down
DOWN_STATES = ("08", "53300", "57P01", "57P02", "57P03")
CHECK = "Check that it runs, and the URL's host, port, user, password and database."


@contextlib.contextmanager
def database_reached(url: str) -> Iterator[None]:
    """Turn a failure to connect into one line naming the URL without its password: a
    :class:`ServiceUnavailable` when nothing answered (refused, unknown host, timed out, the
    server starting), else a :class:`ConfigurationError` (wrong password, no such database,
    a file that cannot be made)."""
    try:
        yield
    except (OSError, DBAPIError) as exc:
        reason = exc.orig if isinstance(exc, DBAPIError) else exc
        if isinstance(exc, DBAPIError) and not _connecting(exc):
            raise  # a statement that failed: not a setting, a bug
        shown = make_url(url).render_as_string(hide_password=True)
        problem = f"cannot use the database at {shown} ({str(reason).splitlines()[0]})"
        kind = ServiceUnavailable if _down(exc) else ConfigurationError
        raise kind(problem, setting=SETTING, fix=CHECK) from exc


def no_tables() -> ConfigurationError:
    return ConfigurationError(
        "the database has no tables yet",
        setting=SETTING,
        fix="Run `waddlebot db upgrade` once first (PostgreSQL is migrated on purpose, not "
        "when a process starts; see WADDLEBOT_AUTO_MIGRATE).",
    )


def schema_problem(revision: str | None) -> ConfigurationError | None:
    """What is wrong with a database at ``revision`` for this WaddleBot: no tables, or
    migrated by an older (or a newer) WaddleBot; None when it is at the newest migration."""
    from waddlebot.infra.db.migrate import head_revision, known_revision

    head = head_revision()
    if revision is None:
        return no_tables()
    if revision == head:
        return None
    if known_revision(revision):
        return ConfigurationError(
            f"the database is at migration {revision}, and this WaddleBot needs {head}",
            setting=SETTING,
            fix="Run `waddlebot db upgrade` (PostgreSQL is migrated on purpose, not when a "
            "process starts; see WADDLEBOT_AUTO_MIGRATE).",
        )
    return ConfigurationError(
        f"the database is at migration {revision}, which this WaddleBot does not know "
        f"(its newest is {head}): a newer WaddleBot migrated it",
        setting=SETTING,
        fix="Run the newer WaddleBot, or downgrade the database with it first.",
    )


def _connecting(exc: DBAPIError) -> bool:
    """The SQLSTATE says the connection itself failed (SQLite's errors carry none)."""
    return _state(exc)[:2] in CONNECTION_CLASSES or _down(exc)


def _down(exc: BaseException) -> bool:
    """Nothing answered, or the server cannot take a connection now: worth a retry later."""
    if isinstance(exc, DBAPIError):
        state = _state(exc)
        if state:
            return state.startswith(DOWN_STATES)
        return isinstance(exc.orig, BaseException) and unavailable(exc.orig) is not None
    return unavailable(exc) is not None


def _state(exc: DBAPIError) -> str:
    return str(getattr(exc.orig, "sqlstate", "") or "")
