"""A database that cannot be reached, or has no tables yet, said as a setting to fix."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from waddlebot.core.errors import ConfigurationError

SETTING = "WADDLEBOT_DATABASE_URL"
# SQLSTATE classes of a connection that could not be made: connection exception, invalid
# authorization (user, password), invalid catalog name (no such database)
CONNECTION_CLASSES = ("08", "28", "3D")


@contextlib.contextmanager
def database_reached(url: str) -> Iterator[None]:
    """Turn a failure to connect (refused, unknown host or database, wrong password) into a
    :class:`ConfigurationError` naming the URL without its password."""
    try:
        yield
    except (OSError, DBAPIError) as exc:
        reason = exc.orig if isinstance(exc, DBAPIError) else exc
        if isinstance(exc, DBAPIError) and not _connecting(exc):
            raise  # a statement that failed: not a setting, a bug
        shown = make_url(url).render_as_string(hide_password=True)
        raise ConfigurationError(
            f"cannot use the database at {shown} ({str(reason).splitlines()[0]})",
            setting=SETTING,
            fix="Check that it runs, and the URL's host, port, user, password and database.",
        ) from exc


def no_tables() -> ConfigurationError:
    return ConfigurationError(
        "the database has no tables yet",
        setting=SETTING,
        fix="Run `waddlebot db upgrade` once first (PostgreSQL is migrated on purpose, not "
        "when a process starts; see WADDLEBOT_AUTO_MIGRATE).",
    )


def _connecting(exc: DBAPIError) -> bool:
    """The SQLSTATE says the connection itself failed (SQLite's errors carry none)."""
    state = str(getattr(exc.orig, "sqlstate", "") or "")
    return state[:2] in CONNECTION_CLASSES
