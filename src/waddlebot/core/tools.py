"""Tools: what a feature lets a model or an outside assistant do in a community ("the next
calendar events", "add a quote"), described by a JSON Schema of its arguments.

Each feature declares its tools (:attr:`waddlebot.features.feature.Feature.tools`); the
runtime gathers them in one :class:`Toolbox`, served to outside assistants by ``waddlebot mcp
serve`` and offered to the AI module's model. A call always runs as a :class:`Caller`: a
community, a person and what that person may do, never more than the person could do through
the API, whatever the model or the assistant asks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator

from waddlebot.core.errors import WaddleError
from waddlebot.core.services import Provider

# Names as MCP and both model APIs accept them (OpenAI: ^[a-zA-Z0-9_-]{1,64}$)
NAME_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")


class ToolRefused(Exception):
    """The call cannot be made as asked: bad arguments, nothing found, or not allowed. The
    message says what to fix; it is shown to the model or the assistant, never a stack."""


@dataclass(frozen=True, slots=True)
class Caller:
    """Who a tool runs for. ``user_id``: the WaddleBot person (None for the bot itself, as
    for the AI module's greetings); ``level``: their role's level in the community (the
    permission levels of :mod:`waddlebot.core.permissions`); ``may_write``: False for a
    read-only API key, and for every call the model makes on a viewer's behalf unless the
    community lets it write."""

    community_id: int
    user_id: int | None
    level: int
    may_write: bool

    @property
    def actor(self) -> str:
        """How the audit log names whoever the tool acts for."""
        return "bot" if self.user_id is None else f"user:{self.user_id}"


ToolRun = Callable[[Provider, Caller, Mapping[str, Any]], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Tool:
    """``run(host, caller, arguments)`` returns something JSON can carry; ``arguments`` have
    been checked against ``parameters`` before it runs. ``writes``: it changes something
    (refused to a caller that may not write). ``level``: the least role level it needs."""

    name: str
    description: str
    parameters: Mapping[str, Any]
    run: ToolRun
    writes: bool = False
    level: int = 0

    def __post_init__(self) -> None:
        if not self.name or not set(self.name) <= NAME_CHARACTERS or len(self.name) > 64:
            raise ValueError(f"tool name {self.name!r}: lower-case letters, digits and _ only")
        Draft202012Validator.check_schema(dict(self.parameters))


class Toolbox:
    """Every tool of the process, by name; ``feature`` of each says whose it is (a community
    that switched a feature's module off does not get its tools: see :meth:`of`)."""

    def __init__(self) -> None:
        self._tools: dict[str, Tool] = {}
        self._features: dict[str, str] = {}
        self._validators: dict[str, Draft202012Validator] = {}

    def add(self, feature: str, tools: Iterable[Tool]) -> None:
        for tool in tools:
            if tool.name in self._tools:
                raise ValueError(f"tool {tool.name!r} is declared twice")
            self._tools[tool.name] = tool
            self._features[tool.name] = feature
            self._validators[tool.name] = Draft202012Validator(dict(tool.parameters))

    def __iter__(self) -> Any:
        return iter(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)

    def feature_of(self, name: str) -> str:
        return self._features[name]

    def features_off(self, enabled: Callable[[str], bool]) -> frozenset[str]:
        """The features with tools here that ``enabled`` (a community's view of its
        modules) says are switched off: give them to :meth:`of` and :meth:`call` as ``off``."""
        return frozenset(f for f in set(self._features.values()) if not enabled(f))

    def of(self, caller: Caller, *, off: Iterable[str] = ()) -> list[Tool]:
        """The tools ``caller`` may use: not those of the features in ``off`` (switched off
        in the community), not those above their level, no writing ones unless they may
        write."""
        switched_off = set(off)
        return [
            tool
            for tool in self._tools.values()
            if self._features[tool.name] not in switched_off
            and tool.level <= caller.level
            and (caller.may_write or not tool.writes)
        ]

    async def call(
        self,
        host: Provider,
        caller: Caller,
        name: str,
        arguments: Mapping[str, Any],
        *,
        off: Iterable[str] = (),
    ) -> Any:
        """Run tool ``name`` for ``caller``; :class:`ToolRefused` says why it did not (a
        service's refusal, :class:`~waddlebot.core.errors.WaddleError`, becomes one)."""
        tool = self._tools.get(name)
        if tool is None or self._features[name] in set(off):
            raise ToolRefused(f"there is no tool named {name!r}")
        if tool.writes and not caller.may_write:
            raise ToolRefused(f"{name} changes things, and this caller may only read")
        if tool.level > caller.level:
            raise ToolRefused(f"{name} needs a higher role in this community")
        error = next(iter(self._validators[name].iter_errors(dict(arguments))), None)
        if error is not None:
            where = "/".join(str(part) for part in error.absolute_path) or "arguments"
            raise ToolRefused(f"{name}: {where}: {error.message}")
        try:
            return await tool.run(host, caller, arguments)
        except WaddleError as exc:
            raise ToolRefused(exc.sentence) from exc
