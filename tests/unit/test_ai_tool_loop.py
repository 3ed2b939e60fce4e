"""The AI module's tool loop with the bot's own tools, in a Toolbox filled here: the model is
offered only what the asker may use (no writing tool unless the community lets it write, none
above the asker's level), the tools run as the asker, a refusal or a failure becomes a result
the model explains, and the limit ends the calls."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from waddlebot.core.permissions import Level
from waddlebot.core.services import Key
from waddlebot.core.tools import Caller, Tool, Toolbox
from waddlebot.features.ai.builtin_tools import BuiltinTools
from waddlebot.features.ai.providers import Completion, Message, ToolCall, ToolDefinition
from waddlebot.features.ai.tool_loop import ToolLimits, ToolLoop

NO_ARGUMENTS = {"type": "object", "properties": {}, "additionalProperties": False}
QUOTE = {
    "type": "object",
    "properties": {"text": {"type": "string", "minLength": 1}},
    "required": ["text"],
    "additionalProperties": False,
}


class Host:
    """No marketplace: every feature is on."""

    def need(self, key: Key[Any]) -> Any:
        raise LookupError(key.name)

    def find(self, key: Key[Any]) -> Any:
        return None


def toolbox(ran: list[tuple[str, Caller, Mapping[str, Any]]]) -> Toolbox:
    def tool(name: str, result: Any, **kind: Any) -> Tool:
        async def run(host: Any, caller: Caller, arguments: Mapping[str, Any]) -> Any:
            ran.append((name, caller, arguments))
            if isinstance(result, Exception):
                raise result
            return result

        schema = QUOTE if name == "quote_add" else NO_ARGUMENTS
        return Tool(name, f"the {name} tool", schema, run, **kind)

    box = Toolbox()
    box.add(
        "calendar",
        [tool("calendar_upcoming", [{"title": "Movie night", "starts": "Friday 20:00"}])],
    )
    box.add("memories", [tool("quote_add", "added #7", writes=True)])
    box.add("labels", [tool("labels_purge", "purged", level=int(Level.ADMIN))])
    box.add("inventory", [tool("inventory_broken", RuntimeError("db down"))])
    return box


class ScriptedModel:
    """Asks for ``calls`` one round each (while offered tools), then answers with the last
    tool result; records what it was offered each time."""

    name = "scripted"

    def __init__(self, *calls: tuple[str, dict[str, Any]]) -> None:
        self._calls = list(calls)
        self.offered: list[list[str]] = []

    async def answer(
        self,
        model: str,
        messages: Sequence[Message],
        *,
        within: float,
        tools: Sequence[ToolDefinition] = (),
    ) -> Completion:
        self.offered.append([tool.name for tool in tools])
        if tools and self._calls:
            name, arguments = self._calls.pop(0)
            return Completion(
                "", 5, 1, tool_calls=(ToolCall(f"c{len(self.offered)}", name, arguments),)
            )
        return Completion(f"answer: {messages[-1]['content']}", 5, 2)

    def prepare(self) -> None:
        pass

    async def close(self) -> None:
        pass


VIEWER = Caller(community_id=1, user_id=7, level=int(Level.EVERYONE), may_write=False)
LIMITS = ToolLimits(max_calls=3, call_seconds=5.0, result_chars=200)


async def offered_to(caller: Caller) -> list[str]:
    tools = await BuiltinTools(Host(), toolbox([])).offer(caller, {}, within=1.0)
    return [tool.definition.name for tool in tools]


async def ask(model: ScriptedModel, caller: Caller, ran: list[Any] | None = None) -> Completion:
    tools = await BuiltinTools(Host(), toolbox([] if ran is None else ran)).offer(
        caller, {}, within=1.0
    )
    loop = ToolLoop(tools, LIMITS)
    messages: list[Message] = [{"role": "user", "content": "alice: hi"}]
    return await loop.answer(model, "m", messages, deadline=1e12, request_timeout=5.0)


async def test_a_viewer_is_offered_the_reading_tools_of_their_level() -> None:
    assert await offered_to(VIEWER) == ["calendar_upcoming", "inventory_broken"]


async def test_writing_tools_are_offered_only_where_the_model_may_write() -> None:
    writer = Caller(1, 7, int(Level.EVERYONE), may_write=True)
    assert await offered_to(writer) == ["calendar_upcoming", "quote_add", "inventory_broken"]
    admin = Caller(1, 7, int(Level.ADMIN), may_write=False)
    assert await offered_to(admin) == ["calendar_upcoming", "labels_purge", "inventory_broken"]


async def test_the_model_answers_from_a_builtin_tool_run_as_the_asker() -> None:
    ran: list[Any] = []
    model = ScriptedModel(("calendar_upcoming", {}))
    completion = await ask(model, VIEWER, ran)
    assert completion.text == 'answer: [{"title": "Movie night", "starts": "Friday 20:00"}]'
    assert completion.tokens == 5 + 1 + 5 + 2  # both rounds counted
    assert ran == [("calendar_upcoming", VIEWER, {})]


async def test_a_write_tool_the_model_names_is_refused_and_not_run() -> None:
    ran: list[Any] = []
    completion = await ask(ScriptedModel(("quote_add", {"text": "pwned"})), VIEWER, ran)
    assert completion.text == "answer: error: there is no tool named 'quote_add' you may use"
    assert ran == []


async def test_refusals_and_failures_are_results_the_model_explains() -> None:
    writer = Caller(1, 7, int(Level.EVERYONE), may_write=True)
    completion = await ask(ScriptedModel(("quote_add", {})), writer)
    assert (
        completion.text
        == "answer: error: quote_add: quote_add: arguments: 'text' is a required property"
    )
    completion = await ask(ScriptedModel(("inventory_broken", {})), VIEWER)
    assert completion.text == "answer: error: inventory_broken failed"


async def test_the_limit_ends_the_calls_and_the_model_answers_without_tools() -> None:
    model = ScriptedModel(*[("calendar_upcoming", {})] * 5)
    completion = await ask(model, VIEWER)
    assert completion.text.startswith("answer: [{")
    assert [len(names) for names in model.offered] == [2, 2, 2, 0]
