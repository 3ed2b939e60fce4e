"""The toolbox: a call runs only with arguments its schema accepts, only for a caller whose
level and write permission allow it, and never for a feature the community switched off."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from waddlebot.core.permissions import Level
from waddlebot.core.services import Provider
from waddlebot.core.tools import Caller, Tool, Toolbox, ToolRefused


async def _echo(host: Provider, caller: Caller, arguments: Mapping[str, Any]) -> Any:
    return {"community": caller.community_id, **arguments}


READ = Tool(
    "quote_search",
    "find quotes",
    {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
    _echo,
)
WRITE = Tool(
    "quote_add",
    "add a quote",
    {"type": "object", "properties": {"text": {"type": "string", "minLength": 1}}},
    _echo,
    writes=True,
)
MODS = Tool("timer_stop", "stop a timer", {"type": "object"}, _echo, level=Level.MODERATOR)

VIEWER = Caller(community_id=7, user_id=3, level=Level.EVERYONE, may_write=False)
WRITER = Caller(community_id=7, user_id=3, level=Level.MODERATOR, may_write=True)


@pytest.fixture
def box() -> Toolbox:
    toolbox = Toolbox()
    toolbox.add("memories", [READ, WRITE])
    toolbox.add("timers", [MODS])
    return toolbox


async def test_a_call_runs_with_checked_arguments(box: Toolbox) -> None:
    host: Any = None
    assert await box.call(host, VIEWER, "quote_search", {"text": "pie"}) == {
        "community": 7,
        "text": "pie",
    }
    with pytest.raises(ToolRefused, match="quote_search: arguments: 'text' is a required"):
        await box.call(host, VIEWER, "quote_search", {})
    with pytest.raises(ToolRefused, match="quote_add: text: '' should be non-empty"):
        await box.call(host, WRITER, "quote_add", {"text": ""})


async def test_a_caller_gets_only_what_it_may_do(box: Toolbox) -> None:
    host: Any = None
    assert [tool.name for tool in box.of(VIEWER)] == ["quote_search"]
    assert [tool.name for tool in box.of(WRITER)] == ["quote_search", "quote_add", "timer_stop"]
    with pytest.raises(ToolRefused, match="quote_add changes things"):
        await box.call(host, VIEWER, "quote_add", {"text": "x"})
    with pytest.raises(ToolRefused, match="timer_stop needs a higher role"):
        await box.call(host, VIEWER.__class__(7, 3, Level.VIP, True), "timer_stop", {})


async def test_a_switched_off_feature_has_no_tools(box: Toolbox) -> None:
    host: Any = None
    assert box.features_off(lambda feature: feature != "memories") == {"memories"}
    assert box.features_off(lambda feature: feature != "music") == frozenset()
    assert [tool.name for tool in box.of(WRITER, off=["memories"])] == ["timer_stop"]
    with pytest.raises(ToolRefused, match="there is no tool named 'quote_add'"):
        await box.call(host, WRITER, "quote_add", {"text": "x"}, off=["memories"])
    with pytest.raises(ToolRefused, match="there is no tool named 'nope'"):
        await box.call(host, WRITER, "nope", {})


def test_tools_are_named_and_described_as_the_model_apis_accept() -> None:
    with pytest.raises(ValueError, match="lower-case letters"):
        Tool("Quote-Add", "x", {"type": "object"}, _echo)
    with pytest.raises(Exception, match="is not valid under any of the given schemas"):
        Tool("bad_schema", "x", {"type": "objekt"}, _echo)
    toolbox = Toolbox()
    toolbox.add("memories", [READ])
    with pytest.raises(ValueError, match="declared twice"):
        toolbox.add("other", [READ])
