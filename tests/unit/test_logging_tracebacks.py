"""Tracebacks in the logs: readable ones never show local variables (they hold keys and
settings), JSON ones carry the traceback as an ``exception`` string, whichever logger
(structlog or the standard library, as uvicorn and asyncio use) reported the error."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from waddlebot.infra.logging import configure_logging

# built at run time, so only a dump of local variables (not a source excerpt) could show it
SECRET = "_".join(["wbk", "A" * 12, "s3cr3t" * 7])


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    yield
    structlog.reset_defaults()
    logging.getLogger().handlers[:] = []


def connect_with(api_key: str) -> None:
    settings = {"api_key": api_key, "database": api_key[::-1]}  # noqa: F841 - a local
    raise ConnectionError("the database refused the connection")


def log_failure(through: str) -> None:
    try:
        connect_with(SECRET)
    except ConnectionError:
        if through == "structlog":
            structlog.get_logger("waddlebot.test").exception("request failed")
        else:
            logging.getLogger("uvicorn.error").exception("Exception in ASGI application")


@pytest.mark.parametrize("through", ["structlog", "stdlib"])
def test_json_lines_carry_the_traceback_without_locals(
    through: str, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("INFO", json=True)  # after capsys replaced stderr
    log_failure(through)
    err = capsys.readouterr().err
    assert "s3cr3ts3cr3t" not in err
    [line] = [json.loads(text) for text in err.splitlines() if text.startswith("{")]
    assert line["level"] == "error"
    assert "exc_info" not in line
    assert line["exception"].startswith("Traceback (most recent call last):")
    assert "in connect_with" in line["exception"]
    assert "ConnectionError: the database refused the connection" in line["exception"]


@pytest.mark.parametrize("through", ["structlog", "stdlib"])
def test_readable_tracebacks_never_show_local_variables(
    through: str, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("INFO", json=False)
    log_failure(through)
    err = capsys.readouterr().err
    assert "ConnectionError" in err and "the database refused the connection" in err
    assert "connect_with" in err  # the frames are there...
    assert "s3cr3ts3cr3t" not in err and SECRET[::-1][:20] not in err  # ...their locals not
