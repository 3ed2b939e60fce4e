"""Log lines are JSON off a terminal and carry the session and community of the event."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx2
import pytest
import structlog

from tests.support.harness import say
from waddlebot.infra.logging import configure_logging
from waddlebot.runtime import Runtime


@pytest.fixture
def restore_logging() -> Iterator[None]:
    yield
    structlog.reset_defaults()


async def test_module_failure_is_logged_with_session_and_community(
    runtime: Runtime, restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("INFO", json=True)  # writes to the stderr capsys put in place
    await say(runtime, "!boom")
    lines = [
        json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")
    ]
    (failure,) = [line for line in lines if line["event"] == "module failed"]
    assert failure["level"] == "error"
    assert failure["module"] == "testkit" and failure["command"] == "boom"
    assert len(failure["session_id"]) == 32 and isinstance(failure["community_id"], int)
    assert "RuntimeError: kaboom" in failure["exception"]


def test_secrets_are_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", json=True)
    try:
        structlog.get_logger("t").info("connecting", api_key="wbk_x_secret", token="abc", user="al")
    finally:
        structlog.reset_defaults()
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert (
        line["api_key"] == "[redacted]" and line["token"] == "[redacted]" and line["user"] == "al"
    )


async def test_request_urls_of_http_clients_are_not_logged(
    capsys: pytest.CaptureFixture[str], restore_logging: None
) -> None:
    """A Slack command's response_url is a credential; httpx2 would log it at INFO."""
    configure_logging("INFO", json=True)
    transport = httpx2.MockTransport(lambda request: httpx2.Response(200))
    async with httpx2.AsyncClient(transport=transport) as client:
        await client.post("https://hooks.slack.com/commands/T1/2/secret-part")
    assert "secret-part" not in capsys.readouterr().err
