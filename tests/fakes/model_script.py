"""Deterministic answers for the fake model servers (:mod:`tests.fakes.ollama`,
:mod:`tests.fakes.openai_api`): a rule per last user message, else an echo that says what was
asked and how many messages came with it, so a test can tell what the model was given.

Tool calls are scripted per last user message too: ``tool_rules["alice: weather?"] =
("weather-forecast", {"city": "Oslo"})`` (or a list of such calls, one per round) makes the
model ask for that tool while the chat offers tools; once the tool results are in (the last
message is a ``tool`` one) it answers from them with ``result_rules[question]``, a template
over ``{result}`` (the last result's text). A chat offering no tools gets no tool call.

Failures are scripted too: ``fail(status, times=n)`` answers the next ``n`` chats (every one
when ``times`` is None) with that status, in the server's own error shape."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ToolStep = tuple[str, dict[str, Any]]  # a tool's name and the arguments the model gives it
DEFAULT_RESULT_TEMPLATE = "The tool said: {result}"


def echo(messages: list[Mapping[str, Any]]) -> str:
    last = next((m["content"] for m in reversed(messages) if m.get("role") == "user"), "")
    return f"You asked {last!r}; I saw {len(messages)} messages."


@dataclass
class Failure:
    status: int
    times: int | None  # None: until cleared
    retry_after: str | None = None  # the Retry-After header, where the server sends one
    message: str = ""


@dataclass
class ModelScript:
    rules: dict[str, str] = field(default_factory=dict)  # last user message -> answer
    failures: list[Failure] = field(default_factory=list)
    chats: list[dict[str, Any]] = field(default_factory=list)  # every chat body received
    delay: float = 0.0  # seconds each chat takes before it is answered: a slow model
    # last user message -> the tool call of each round (a single one: the first round only)
    tool_rules: dict[str, ToolStep | list[ToolStep]] = field(default_factory=dict)
    result_rules: dict[str, str] = field(default_factory=dict)  # -> template over {result}

    def answer(self, messages: list[Mapping[str, Any]]) -> str:
        last = next((m["content"] for m in reversed(messages) if m.get("role") == "user"), "")
        if messages and messages[-1].get("role") == "tool":
            template = self.result_rules.get(last, DEFAULT_RESULT_TEMPLATE)
            return template.format(result=messages[-1].get("content", ""))
        return self.rules.get(last, echo(messages))

    def tool_call(self, messages: list[Mapping[str, Any]], offered: bool) -> ToolStep | None:
        """The tool the model asks for now, if any: the rule's step for this round (the
        number of tool rounds since the question), only while tools are offered."""
        if not offered:
            return None
        asked = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
        rule = self.tool_rules.get(str(messages[asked]["content"])) if asked >= 0 else None
        if rule is None:
            return None
        steps = rule if isinstance(rule, list) else [rule]
        rounds = sum(
            1 for m in messages[asked + 1 :] if m.get("role") == "assistant" and m.get("tool_calls")
        )
        return steps[rounds] if rounds < len(steps) else None

    def fail(
        self,
        status: int,
        *,
        times: int | None = 1,
        retry_after: str | None = None,
        message: str = "",
    ) -> None:
        self.failures.append(Failure(status, times, retry_after, message))

    def next_failure(self) -> Failure | None:
        """The failure this chat gets, if one is scripted (used up as it is given)."""
        if not self.failures:
            return None
        failure = self.failures[0]
        if failure.times is not None:
            failure.times -= 1
            if failure.times <= 0:
                self.failures.pop(0)
        return failure

    def clear(self) -> None:
        self.failures.clear()

    @property
    def last_messages(self) -> list[dict[str, Any]]:
        assert self.chats, "no chat was asked"
        return list(self.chats[-1]["messages"])
