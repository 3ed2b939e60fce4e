"""A module served on its own over HTTP, reached by the router with signed requests:
the same commands and failures as in-process, embedded and distributed."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr

from tests.support import modules as testkit
from tests.support.harness import bot_with_remote, say, serving_app
from waddlebot.core.errors import ConfigurationError
from waddlebot.router.remote import parse_remote_spec
from waddlebot.runtime import Runtime
from waddlebot.sdk.server import create_module_app
from waddlebot.settings import Settings

SECRET = "module-secret-for-tests"


@pytest.fixture
async def remote_runtime(settings: Settings) -> AsyncIterator[Runtime]:
    async with bot_with_remote(settings, testkit.module, SECRET) as runtime:
        yield runtime


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
        "ai",
        "shoutouts",
        "music",
        "marketplace",
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
    # a command group's subcommand names its own usage line over HTTP too
    assert await say(remote_runtime, "!tally add @bob x", role="moderator") == [
        "Usage: !tally add <who> <points> [note] (points must be a whole number)"
    ]
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
        with pytest.raises(ConfigurationError) as refused:
            await Runtime.start(configured)
    assert isinstance(refused.value, ConfigurationError)  # shown as one line, exit status 2
    message = str(refused.value)
    assert "signature does not match" in message
    assert "WADDLEBOT_MODULE_SECRET must have the same value for the bot and the module" in message
    assert "not-the-secret" not in message and SECRET not in message


async def test_a_bot_without_the_module_secret_is_told_which_setting_to_set(
    settings: Settings,
) -> None:
    """As the README goes, the secret is set where the module is served and forgotten on
    the bot's side: one line naming the setting, not a traceback from deep inside."""
    app = create_module_app(testkit.module, SECRET.encode())
    async with serving_app(app) as url:
        configured = settings.model_copy(
            update={"modules": [], "remote_modules": [f"testkit={url}"]}
        )
        assert not configured.module_secret.get_secret_value()
        with pytest.raises(ConfigurationError) as refused:
            await Runtime.start(configured)
    assert str(refused.value) == (
        "WADDLEBOT_REMOTE_MODULES: names modules served over HTTP, but the bot has no "
        "WADDLEBOT_MODULE_SECRET. Set WADDLEBOT_MODULE_SECRET for the bot too, to the same "
        "value as the module's."
    )


def test_a_remote_module_spec_that_is_no_url_names_the_setting() -> None:
    with pytest.raises(ConfigurationError, match="WADDLEBOT_REMOTE_MODULES item 'kudos=8090'"):
        parse_remote_spec("kudos=8090")
