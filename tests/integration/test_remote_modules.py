"""A module served on its own over HTTP, reached by the router with signed requests:
the same commands and failures as in-process, embedded and distributed."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr

from tests.support import modules as testkit
from tests.support.harness import say, serving_app
from waddlebot.core.errors import ConfigurationError
from waddlebot.modules.server import create_module_app
from waddlebot.runtime import Runtime
from waddlebot.settings import Settings

SECRET = "module-secret-for-tests"


@pytest.fixture
async def remote_runtime(settings: Settings) -> AsyncIterator[Runtime]:
    app = create_module_app(testkit.module, SECRET.encode())
    async with serving_app(app) as url:
        configured = settings.model_copy(
            update={
                "modules": [],
                "remote_modules": [f"testkit={url}"],
                "module_secret": SecretStr(SECRET),
            }
        )
        runtime = await Runtime.start(configured)
        try:
            yield runtime
        finally:
            await runtime.stop()


async def test_commands_reach_the_remote_module_and_back(remote_runtime: Runtime) -> None:
    assert [c.name for c in remote_runtime.registry.clients()] == [
        "core",
        "identity",
        "labels",
        "community",
        "timers",
        "inventory",
        "calendar",
        "overlay",
        "memories",
        "commands",
        "alias",
        "testkit",  # the operator's modules come after the built-in ones
    ]
    assert await say(remote_runtime, '!echo "over http" ok') == ["over http ok"]
    assert await say(remote_runtime, "!secret") == ["(private) psst"]
    (listing,) = await say(remote_runtime, "!help")
    assert "!echo" in listing


async def test_remote_failures_are_contained(remote_runtime: Runtime) -> None:
    assert await say(remote_runtime, "!boom") == ["Sorry, !boom failed. The error has been logged."]
    assert await say(remote_runtime, "!slow 3") == [
        "Sorry, !slow took too long to answer. The error has been logged."
    ]
    assert await say(remote_runtime, "!greet") == ["Usage: !greet <name> (tell me who to greet)"]
    assert await say(remote_runtime, "!ping") == ["pong"]


async def test_router_with_the_wrong_secret_is_refused(settings: Settings) -> None:
    app = create_module_app(testkit.module, SECRET.encode())
    async with serving_app(app) as url:
        configured = settings.model_copy(
            update={
                "modules": [],
                "remote_modules": [url],
                "module_secret": SecretStr("not-the-secret"),
            }
        )
        with pytest.raises(ConfigurationError, match=r"^WADDLEBOT_MODULE_SECRET: .*signature"):
            await Runtime.start(configured)
