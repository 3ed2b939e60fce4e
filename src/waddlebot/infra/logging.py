"""Structured logs with structlog: JSON when not on a terminal, readable on one.

Anything bound with :func:`structlog.contextvars.bound_contextvars` (the router binds
``session_id`` and ``community_id`` for each event, the HTTP app ``request_id`` for each
request) appears on every line logged inside it. Every line names its logger (``logger``:
``waddlebot.web``, ``uvicorn.error``, ...). Libraries that log through the standard library
(uvicorn, alembic) go through the same renderer, so one process writes one format.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, MutableMapping
from typing import Any, TextIO

import structlog

_SECRET_FIELDS = frozenset({"api_key", "secret", "token", "password", "authorization"})


def _redact(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        if key.lower() in _SECRET_FIELDS:
            event_dict[key] = "[redacted]"
    return event_dict


class _NamedPrintLogger(structlog.PrintLogger):
    """structlog's print logger, with the name it was asked for under (``get_logger(name)``),
    which ``add_logger_name`` reads; the plain one drops it."""

    def __init__(self, file: TextIO, name: str) -> None:
        super().__init__(file)
        self.name = name


def _named_loggers(file: TextIO) -> Callable[..., _NamedPrintLogger]:
    def factory(*args: Any) -> _NamedPrintLogger:
        return _NamedPrintLogger(file, str(args[0]) if args else "waddlebot")

    return factory


def _traceback_formatter(colors: bool) -> structlog.typing.ExceptionRenderer:
    """Tracebacks for people, never with the frames' local variables: those hold API keys,
    settings and message contents."""
    if structlog.dev.rich is None:
        return structlog.dev.plain_traceback
    return structlog.dev.RichTracebackFormatter(
        show_locals=False, color_system="truecolor" if colors else None
    )


def configure_logging(level: str = "INFO", json: bool | None = None) -> None:
    as_json = (not sys.stderr.isatty()) if json is None else json
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.INFO
    renderer: structlog.types.Processor
    # JSON: tracebacks become an "exception" string. Readable: the console renderer draws
    # them itself (also those logged through the standard library), without locals.
    exceptions: list[structlog.types.Processor]
    if as_json:
        renderer = structlog.processors.JSONRenderer()
        exceptions = [structlog.processors.format_exc_info]
    else:
        colors = sys.stderr.isatty()
        renderer = structlog.dev.ConsoleRenderer(
            colors=colors, exception_formatter=_traceback_formatter(colors)
        )
        exceptions = []
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact,
    ]
    structlog.configure(
        processors=[structlog.stdlib.add_logger_name, *shared, *exceptions, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=_named_loggers(sys.stderr),
        cache_logger_on_first_use=False,  # so reconfiguring (tests, CLI) always applies
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                *exceptions,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # alembic narrates every migration step at INFO; keep its lines for real problems
    logging.getLogger("alembic").setLevel(max(numeric, logging.WARNING))
    # httpx2 logs every request's URL at INFO, and some URLs are secrets (a Slack command's
    # response_url lets whoever has it post into the channel)
    for name in ("httpx2", "httpcore2"):
        logging.getLogger(name).setLevel(max(numeric, logging.WARNING))
