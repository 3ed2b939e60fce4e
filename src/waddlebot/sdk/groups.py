"""Command groups: ``!kudos give <who> <points> [reason]``, ``!kudos top``... one command whose
subcommands each have a description, a level, a usage line and typed arguments::

    kudos = module.group("kudos", description="Thank people")

    @kudos.command("give", level=Level.MODERATOR, description="Gives points")
    async def give(ctx: Context, who: Person, points: int, reason: Rest = Rest("")) -> str:
        return f"{who.mention} gets {points}"

The handler's parameters after ``ctx`` are its arguments, read from what was typed by their
annotation (``str``: one word, ``int``, ``float``, ``timedelta``, :class:`Person`,
:class:`Rest`), required unless they have a default; ``Annotated[int, "how many"]`` gives one a
description. Bad or missing input is answered with the subcommand's own usage line; a caller
below the subcommand's level is told who may use it.
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, NewType

from waddlebot import platforms
from waddlebot.core.language import WhenError, read_duration, within
from waddlebot.core.manifest import ArgSpec, ArgType, CommandSpec, SubcommandSpec
from waddlebot.core.parser import split_args, text_after
from waddlebot.core.permissions import Level
from waddlebot.sdk import (
    Context,
    HandlerResult,
    Module,
    UsageError,
    pick_subcommand,
    subcommand_args,
)

Rest = NewType("Rest", str)
"""The rest of the line, verbatim (quotes inside it kept; one quoted run alone is unquoted)."""


@dataclass(frozen=True, slots=True)
class Person:
    """Someone named in a command: ``@bob``, ``bob``, or the platform's mention markup
    (``<@123>`` on Discord, ``<@U123|bob>`` on Slack), which carries their platform id."""

    text: str  # as typed
    name: str  # without the @; for markup, its label ("" when it has none)
    platform_id: str | None = None  # from mention markup

    @property
    def mention(self) -> str:
        """How to write them in a reply: the markup as given (the platform shows it as a
        mention), else ``@name``."""
        return self.text if self.platform_id is not None else f"@{self.name}"


Subhandler = Callable[..., Awaitable[HandlerResult]]

_TYPES: dict[object, ArgType] = {
    str: "text",
    int: "int",
    float: "number",
    timedelta: "duration",
    Person: "person",
    Rest: "rest",
}
_UnionType = type(int | None)
_INT = re.compile(r"[+-]?\d{1,18}")
_NUMBER = re.compile(r"[+-]?(?:\d{1,18}(?:\.\d*)?|\.\d+)")
_LOGIN = re.compile(r"[A-Za-z_][\w.-]{0,63}")
_MARKUP_LABEL = re.compile(r"\|(?P<label>[^>]*)>$")
_WHO = {
    Level.OWNER: "the owner",
    Level.ADMIN: "admins and the owner",
    Level.MODERATOR: "moderators and up",
    Level.VIP: "VIPs and up",
    Level.SUBSCRIBER: "subscribers and up",
    Level.FOLLOWER: "followers and up",
}


@dataclass(frozen=True, slots=True)
class Subcommand:
    spec: SubcommandSpec
    handler: Subhandler


class Group:
    """A command with subcommands (``module.group(name, **spec)``). The command's own level
    is the one the router checks; each subcommand's is checked here."""

    def __init__(self, module: Module, name: str, **spec: Any) -> None:
        self._module = module
        self._spec = spec
        self._subcommands: dict[str, Subcommand] = {}
        self._level = int(spec.get("level", Level.EVERYONE))
        self.name = name
        module.command(name, **self._command_spec(()).model_dump(exclude={"name"}))(self._run)

    def command(
        self,
        name: str,
        *,
        description: str = "",
        level: int | None = None,
        usage: str | None = None,
        args: Sequence[ArgSpec] | None = None,
        default: bool = False,
    ) -> Callable[[Subhandler], Subhandler]:
        """Register a subcommand: ``level`` defaults to the group's, ``usage`` is made from
        the arguments, which come from the handler's annotations unless ``args`` names them
        (each then passed by its name). ``default``: also run when no subcommand is given."""

        def register(handler: Subhandler) -> Subhandler:
            if not inspect.iscoroutinefunction(handler):
                raise TypeError(f"handler for {self.name} {name!r} must be an async function")
            if name in self._subcommands:
                raise ValueError(f"subcommand {name!r} of {self.name!r} is registered twice")
            read = tuple(args) if args is not None else arguments_of(handler)
            _check_order(f"{self.name} {name}", read)
            if default and any(arg.required for arg in read):
                raise ValueError(f"the default subcommand {name!r} cannot need arguments")
            if default and any(sub.spec.default for sub in self._subcommands.values()):
                raise ValueError(f"{self.name!r} has a default subcommand already")
            needed = self._level if level is None else int(level)
            if needed < self._level:
                raise ValueError(
                    f"subcommand {name!r} is below the level of {self.name!r}, "
                    "whose level the router checks first"
                )
            spec = SubcommandSpec(
                name=name,
                description=description,
                usage=" ".join(arg.placeholder for arg in read) if usage is None else usage,
                level=needed,
                args=read,
                default=default,
            )
            self._subcommands[name] = Subcommand(spec, handler)
            specs = tuple(sub.spec for sub in self._subcommands.values())
            self._module.replace_spec(self._command_spec(specs))
            return handler

        return register

    def _command_spec(self, subcommands: tuple[SubcommandSpec, ...]) -> CommandSpec:
        names = [sub.name for sub in subcommands]
        optional = any(sub.default for sub in subcommands)
        shown = "|".join(names) or "subcommand"
        fields = {
            "usage": f"[{shown}]" if optional else f"<{shown}>",
            "args": subcommand_args(names, required=not optional),
            **self._spec,
        }
        return CommandSpec(name=self.name, subcommands=subcommands, **fields)

    async def _run(self, ctx: Context) -> HandlerResult:
        default = next((s for s in self._subcommands.values() if s.spec.default), None)
        if default is not None and not ctx.args:
            chosen, given = default, 0
        else:
            chosen, given = pick_subcommand(ctx, self._subcommands), 1
        spec = chosen.spec
        if ctx.caller_level < spec.level:
            shown = f"{ctx.request.prefix or '!'}{self.name} {spec.name}"
            ctx.reply(f"Only {who_may(spec.level)} can use {shown}.")
            return None
        try:
            values = read_arguments(ctx, spec.args, given)
            return await chosen.handler(ctx, **values)
        except UsageError as exc:
            raise UsageError(str(exc), usage=exc.usage or spec.usage_part) from exc


def who_may(level: int) -> str:
    """Who a refusal says may do what needs ``level``: ``moderators and up``, ``the owner``."""
    return _WHO.get(Level.at_least(level), "the owner")


def arguments_of(handler: Subhandler) -> tuple[ArgSpec, ...]:
    """The arguments a subcommand handler takes after ``ctx``, from its annotations."""
    hints = typing.get_type_hints(handler, include_extras=True)
    found = []
    for parameter in list(inspect.signature(handler).parameters.values())[1:]:
        hint = hints.get(parameter.name, str)
        description = ""
        if typing.get_origin(hint) is typing.Annotated:
            hint, *extras = typing.get_args(hint)
            description = next((e for e in extras if isinstance(e, str)), "")
        optional = parameter.default is not inspect.Parameter.empty
        if optional and typing.get_origin(hint) in (typing.Union, _UnionType):
            hint = next(a for a in typing.get_args(hint) if a is not type(None))
        kind = _TYPES.get(hint)
        if kind is None:
            known = ", ".join(getattr(t, "__name__", str(t)) for t in _TYPES)
            raise TypeError(f"{parameter.name}: an argument's type is one of {known}")
        found.append(
            ArgSpec(name=parameter.name, description=description, required=not optional, type=kind)
        )
    return tuple(found)


def _check_order(where: str, args: Iterable[ArgSpec]) -> None:
    listed = list(args)
    for at, arg in enumerate(listed):
        if arg.type == "rest" and at != len(listed) - 1:
            raise ValueError(f"{where}: the rest of the line ({arg.name}) must come last")
        if arg.required and at and not listed[at - 1].required:
            raise ValueError(f"{where}: required {arg.name} after an optional argument")


def read_arguments(ctx: Context, args: Sequence[ArgSpec], skip: int) -> dict[str, Any]:
    """The values of ``args`` from the words after the first ``skip``; a UsageError saying
    what is wrong with the first that does not fit, or with words left over."""
    words = ctx.args[skip:]
    values: dict[str, Any] = {}
    used = 0
    for arg in args:
        if arg.type == "rest":
            rest = _unquoted(text_after(ctx.rest, skip + used))
            if arg.required and not rest:
                raise UsageError(f"{arg.name} is missing")
            values[arg.name] = Rest(rest)
            used = len(words)
            continue
        if used >= len(words):
            if arg.required:
                raise UsageError(f"{arg.name} is missing")
            continue
        value, took = _read(arg, words[used:], ctx.request.platform)
        values[arg.name] = value
        used += took
    if used < len(words):
        raise UsageError(f"{words[used]!r} is more than it takes")
    return values


def _unquoted(text: str) -> str:
    """A rest of line that is one quoted run (``"best mod ever"``, as a slash command's
    option with spaces comes) without its quotes; anything else as it is."""
    if len(text) >= 2 and split_args(text) == (text[1:-1],):
        return text[1:-1]
    return text


def _read(arg: ArgSpec, words: Sequence[str], platform: str) -> tuple[Any, int]:
    """One argument's value from the first of ``words`` (a duration may take more: ``2
    hours``), and how many words it took."""
    word = words[0]
    if arg.type == "int":
        if not _INT.fullmatch(word):
            raise UsageError(f"{arg.name} must be a whole number")
        return int(word), 1
    if arg.type == "number":
        if not _NUMBER.fullmatch(word):
            raise UsageError(f"{arg.name} must be a number")
        return float(word), 1
    if arg.type == "duration":
        return _duration(arg.name, words)
    if arg.type == "person":
        return person(word, platform, arg.name), 1
    return word, 1


def _duration(name: str, words: Sequence[str]) -> tuple[timedelta, int]:
    try:
        found = read_duration(words)
        if found is None:
            raise WhenError(f"{name} must be a length of time, like 10m or 1h30m")
        return within(found[0], " ".join(words[: found[1]])), found[1]
    except WhenError as exc:
        raise UsageError(str(exc)) from exc


def person(word: str, platform: str, name: str = "who") -> Person:
    """The person ``word`` names on ``platform``; a UsageError when it names nobody."""
    platform_id = platforms.mentioned_id(platform, word)
    if platform_id is not None:
        label = _MARKUP_LABEL.search(word)
        return Person(text=word, name=label["label"] if label else "", platform_id=platform_id)
    login = word.removeprefix("@")
    if not _LOGIN.fullmatch(login):
        raise UsageError(f"{name} must be someone, like @bob")
    return Person(text=word, name=login)
