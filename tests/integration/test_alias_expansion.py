"""The router runs the command an alias expands to (the seam the alias module builds on): the
target's permission level applies, chains are limited and cycles reported, and only built-in
modules may ask for it."""

from __future__ import annotations

import pytest

from tests.support.harness import say
from waddlebot.router.modules import LocalModuleClient
from waddlebot.runtime import Runtime
from waddlebot.sdk import Context, Module


def aliases() -> Module:
    """A stand-in for the alias module: each command expands to a fixed text."""
    module = Module("aliaskit")
    table = {
        "shortping": "!ping",
        "shortecho": "!echo from alias",
        "shortmod": "!modonly",
        "loopa": "!loopb",
        "loopb": "!loopa",
        "nowhere": "!nosuchthing",
        "deep1": "!deep2",
        "deep2": "!deep3",
        "deep3": "!deep4",
        "deep4": "!deep5",
        "deep5": "!deep6",
        "deep6": "!ping",
    }
    for name, text in table.items():

        async def expand(ctx: Context, text: str = text) -> None:
            ctx.action("command.run", text=text)

        module.command(name)(expand)
    return module


@pytest.fixture
def with_aliases(runtime: Runtime) -> Runtime:
    runtime.registry.add(LocalModuleClient(aliases()), builtin=True)
    return runtime


async def test_an_alias_runs_its_command(with_aliases: Runtime) -> None:
    assert await say(with_aliases, "!shortping") == ["pong"]
    assert await say(with_aliases, "!shortecho") == ["from alias"]


async def test_an_alias_is_never_a_way_around_a_permission(with_aliases: Runtime) -> None:
    assert await say(with_aliases, "!shortmod") == [
        "@alice, !modonly is for moderator level and up."
    ]
    assert await say(with_aliases, "!shortmod", user="mia", role="moderator") == [
        "hello moderator mia"
    ]


async def test_cycles_and_depth_are_reported(with_aliases: Runtime) -> None:
    assert await say(with_aliases, "!loopa") == [
        "That alias goes round in circles (loopa -> loopb -> loopa)."
    ]
    assert await say(with_aliases, "!deep1") == ["That alias goes more than 5 commands deep."]
    assert await say(with_aliases, "!nowhere") == []  # an unknown name goes to custom commands


async def test_only_built_in_modules_may_run_commands(runtime: Runtime) -> None:
    assert await say(runtime, "!sneaky") == ["trying"]
