"""Structured logs with structlog: JSON when not on a terminal, readable on one.

Anything bound with :func:`structlog.contextvars.bound_contextvars` (the router binds
``session_id`` and ``community_id`` for each event) appears on every line logged inside it.
"""

from __future__ import annotations

import logging
import sys

import structlog

_SECRET_FIELDS = frozenset({"api_key", "secret", "token", "password", "authorization"})


def _redact(_: object, __: str, event_dict: dict[str, object]) -> dict[str, object]:
    for key in list(event_dict):
        if key.lower() in _SECRET_FIELDS:
            event_dict[key] = "[redacted]"
    return event_dict


def configure_logging(level: str = "INFO", json: bool | None = None) -> None:
    as_json = (not sys.stderr.isatty()) if json is None else json
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.INFO
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if as_json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _redact,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    # libraries that use the standard library's logging go to stderr at the same level
    logging.basicConfig(level=numeric, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")
