"""Deterministic answers for the fake model servers (:mod:`tests.fakes.ollama`,
:mod:`tests.fakes.openai_api`): a rule per last user message, else an echo that says what was
asked and how many messages came with it, so a test can tell what the model was given.

Failures are scripted too: ``fail(status, times=n)`` answers the next ``n`` chats (every one
when ``times`` is None) with that status, in the server's own error shape."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


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

    def answer(self, messages: list[Mapping[str, Any]]) -> str:
        last = next((m["content"] for m in reversed(messages) if m.get("role") == "user"), "")
        return self.rules.get(last, echo(messages))

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
