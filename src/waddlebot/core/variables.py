"""Response variables for custom commands: ``$(name args)`` and ``${name args}``.

Both spellings mean the same (StreamElements accepts both; Nightbot uses ``$(...)``) and nest:
``$(random.pick $(user) 'b')``. Parsing never fails: anything that is not a complete variable
is plain text, so a half-typed response still shows what the streamer wrote.

Grammar, informally:

- ``$(`` or ``${`` opens a variable, closed by the matching ``)`` or ``}``; without its closer
  it is literal text. Deeper than :data:`MAX_DEPTH` it is literal text too.
- Inside a variable, whitespace separates tokens; the first token is the name, the others are
  arguments. An argument starting with ``'`` or ``"`` runs to the same quote (spaces and
  closers included) and may itself contain variables.
- ``\\$`` is a literal ``$`` (a backslash is otherwise an ordinary character).

Rendering resolves inner variables first, asks a :class:`Resolver` for each variable, and
leaves unknown or failing variables visible exactly as written.
"""

from __future__ import annotations

import random
import re
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo

import structlog

from waddlebot.core.clock import Clock, SystemClock

MAX_DEPTH = 8  # nesting deeper than this is left literal
MAX_VARIABLES = 32  # resolver calls per render; later variables stay visible
ARG_LIMIT = 2000  # characters kept of one rendered argument
ELLIPSIS = "\u2026"
_OPENERS = {"(": ")", "{": "}"}
_QUOTES = frozenset("'\"")

log = structlog.get_logger(__name__)


# --- nodes -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Text:
    value: str


@dataclass(frozen=True, slots=True)
class Variable:
    name: str  # "" when the name token was empty or not plain text: rendered as written
    args: tuple[tuple[Node, ...], ...]
    raw: str  # the source text, shown when the variable cannot be resolved


Node = Text | Variable
_Item = Node | str  # parse-time pieces: str chunks are merged into Text at the end


# --- parsing ---------------------------------------------------------------------------------


@dataclass(slots=True)
class _Frame:
    kind: str  # "var", "quote" or "lit" (a variable nested too deep: kept as raw text)
    close: str
    start: int
    flat: list[_Item] = field(default_factory=list)  # the frame read as plain text
    tokens: list[list[_Item]] = field(default_factory=list)  # finished tokens (var frames)
    current: list[_Item] | None = None  # the token being read; None between tokens


def _add(stack: list[_Frame], root: list[_Item], item: _Item) -> None:
    """Append a character chunk or a finished node to whatever is open."""
    if not stack:
        root.append(item)
        return
    top = stack[-1]
    if top.kind == "lit":
        return  # a literal frame is emitted as its raw source slice when it ends
    top.flat.append(item)
    if top.current is None:
        top.current = []
    top.current.append(item)


def _merge(items: Sequence[_Item]) -> tuple[Node, ...]:
    out: list[Node] = []
    buffer: list[str] = []
    for item in items:
        if isinstance(item, str):
            buffer.append(item)
            continue
        if isinstance(item, Text):
            buffer.append(item.value)
            continue
        if buffer:
            out.append(Text("".join(buffer)))
            buffer = []
        out.append(item)
    if buffer:
        out.append(Text("".join(buffer)))
    return tuple(out)


def _finish(frame: _Frame, raw: str) -> Variable:
    tokens = [*frame.tokens, *([frame.current] if frame.current is not None else [])]
    name = ""
    if tokens and tokens[0] and all(isinstance(item, str) for item in tokens[0]):
        name = "".join(item for item in tokens[0] if isinstance(item, str))
    return Variable(name=name, args=tuple(_merge(token) for token in tokens[1:]), raw=raw)


def _spill(stack: list[_Frame], root: list[_Item], frame: _Frame, text: str) -> None:
    """An unfinished frame at the end of input: its content becomes plain text."""
    if frame.kind == "lit":
        if not stack or stack[-1].kind != "lit":  # the outermost literal frame holds it all
            _add(stack, root, Text(text[frame.start :]))
        return
    (stack[-1].flat if stack else root).extend(frame.flat)  # "lit" frames only nest in "lit"


def parse(template: str) -> list[Node]:
    """Split a response into text and variables; never raises, runs in linear time."""
    root: list[_Item] = []
    stack: list[_Frame] = []
    depth = 0  # open "var" frames
    i, n = 0, len(template)
    while i < n:
        char = template[i]
        top = stack[-1] if stack else None
        following = template[i + 1] if i + 1 < n else ""
        if top is not None and top.kind == "lit":
            if char == "$" and following in _OPENERS:
                stack.append(_Frame("lit", _OPENERS[following], i))
                i += 2
            elif char == top.close:
                stack.pop()
                if not stack or stack[-1].kind != "lit":
                    _add(stack, root, Text(template[top.start : i + 1]))
                i += 1
            else:
                i += 1
            continue
        if char == "\\" and following == "$":
            _add(stack, root, "$")
            i += 2
        elif char == "$" and following in _OPENERS:
            if depth >= MAX_DEPTH:
                stack.append(_Frame("lit", _OPENERS[following], i))
            else:
                stack.append(_Frame("var", _OPENERS[following], i, flat=[char, following]))
                depth += 1
            i += 2
        elif top is not None and top.kind == "var" and char == top.close:
            stack.pop()
            depth -= 1
            _add(stack, root, _finish(top, template[top.start : i + 1]))
            i += 1
        elif top is not None and top.kind == "quote" and char == top.close:
            stack.pop()
            owner = stack[-1]  # a quote frame always sits on a var frame
            owner.flat.extend([*top.flat, char])
            owner.current = top.current or []
            i += 1
        elif top is not None and top.kind == "var" and char.isspace():
            if top.current is not None:
                top.tokens.append(top.current)
                top.current = None
            top.flat.append(char)
            i += 1
        elif top is not None and top.kind == "var" and char in _QUOTES and top.current is None:
            stack.append(_Frame("quote", char, i, flat=[char], current=[]))
            i += 1
        else:
            _add(stack, root, char)
            i += 1
    while stack:
        _spill(stack, root, stack.pop(), template)
    return list(_merge(root))


# --- rendering -------------------------------------------------------------------------------


class Resolver(Protocol):
    async def resolve(self, name: str, args: list[str]) -> str | None:
        """The variable's text, or None when this resolver does not know the name."""
        ...


class ChainResolver:
    """Asks each resolver in turn; the first answer that is not None wins."""

    def __init__(self, *resolvers: Resolver) -> None:
        self._resolvers = resolvers

    async def resolve(self, name: str, args: list[str]) -> str | None:
        for resolver in self._resolvers:
            value = await resolver.resolve(name, args)
            if value is not None:
                return value
        return None


def truncate(text: str, max_length: int) -> str:
    """Cut to at most ``max_length`` characters, on a word boundary when one is near, with …."""
    if len(text) <= max_length:
        return text
    if max_length <= 1:
        return ELLIPSIS[:max_length]
    keep = max_length - 1
    cut = text[:keep]
    if not text[keep].isspace():
        boundary = max((cut.rfind(space) for space in (" ", "\n", "\t")), default=-1)
        if boundary >= keep // 2:
            cut = cut[:boundary]
    return cut.rstrip() + ELLIPSIS


@dataclass(slots=True)
class _Budget:
    calls: int


async def _render_nodes(
    nodes: Sequence[Node], resolver: Resolver, budget: _Budget, cap: int
) -> str:
    out: list[str] = []
    size = 0
    for node in nodes:
        if size > cap:
            break  # the rest would be cut anyway: don't resolve it
        if isinstance(node, Text):
            piece = node.value
        else:
            piece = await _render_variable(node, resolver, budget)
        out.append(piece[: cap + 1 - size])
        size += len(out[-1])
    return "".join(out)


async def _render_variable(node: Variable, resolver: Resolver, budget: _Budget) -> str:
    args = [await _render_nodes(arg, resolver, budget, ARG_LIMIT) for arg in node.args]
    if not node.name or budget.calls <= 0:
        return node.raw
    budget.calls -= 1
    try:
        value = await resolver.resolve(node.name, args)
    except Exception:  # a broken resolver must not break the reply
        log.warning("variable_failed", variable=node.name, exc_info=True)
        return node.raw
    return node.raw if value is None else value


async def render(
    template: str,
    resolver: Resolver,
    *,
    max_length: int = 500,
    max_variables: int = MAX_VARIABLES,
) -> str:
    """Render a response: inner variables first, unknown ones left as written, then cut."""
    nodes = parse(template)
    text = await _render_nodes(nodes, resolver, _Budget(max_variables), max(max_length, 0) + 1)
    return truncate(text, max_length)


# --- the standard variables (no storage, no network) -----------------------------------------


@dataclass(frozen=True, slots=True)
class VariableContext:
    user: str  # who ran the command
    args: Sequence[str] = ()  # the command's arguments
    query: str = ""  # the raw text after the command name
    channel: str = ""
    platform: str = ""
    clock: Clock = field(default_factory=SystemClock)
    rng: random.Random = field(default_factory=random.Random)
    live_since: datetime | None = None  # stream start; None = offline or unknown
    game: str | None = None


_POSITION = re.compile(r"([1-9])(:?)")
_RANGE = re.compile(r"\s*(-?\d{1,15})\s*-\s*(-?\d{1,15})\s*")


def _duration(seconds: int) -> str:
    days, rest = divmod(max(seconds, 0), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h {minutes}m"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


class StandardVariables:
    """``user touser 1…9 1:…9: query querystring channel platform random random.pick time
    uptime game`` (plus the aliases ``sender``/``source`` and ``queryescape``)."""

    def __init__(self, context: VariableContext) -> None:
        self._ctx = context

    async def resolve(self, name: str, args: list[str]) -> str | None:
        ctx = self._ctx
        key = name.lower()
        if key in ("user", "sender", "source"):
            return ctx.user
        if key == "touser":
            target = ctx.args[0].lstrip("@") if ctx.args else ""
            return target or ctx.user
        position = _POSITION.fullmatch(key)
        if position is not None:
            index = int(position.group(1)) - 1
            chosen = ctx.args[index:] if position.group(2) else ctx.args[index : index + 1]
            return " ".join(chosen) if chosen else " ".join(args)  # args = a default
        if key == "query":
            return ctx.query
        if key in ("querystring", "queryescape"):
            return urllib.parse.quote(ctx.query, safe="")
        if key == "channel":
            return ctx.channel
        if key == "platform":
            return ctx.platform
        if key == "random":
            return self._random(args)
        if key == "random.pick":
            return ctx.rng.choice(args) if args else None
        if key == "time":
            return self._time(args[0] if args else "UTC")
        if key == "uptime":
            if ctx.live_since is None:
                return "offline"
            return _duration(int((ctx.clock.now() - ctx.live_since).total_seconds()))
        if key == "game":
            return ctx.game or "(no game)"
        return None

    def _random(self, args: list[str]) -> str | None:
        match = _RANGE.fullmatch(args[0]) if len(args) == 1 else None
        if match is None:
            return None
        low, high = int(match.group(1)), int(match.group(2))
        return str(self._ctx.rng.randint(low, high)) if low <= high else None

    def _time(self, zone: str) -> str:
        try:
            tz = ZoneInfo(zone)
        except Exception:  # unknown key, bad path, odd characters: all "unknown"
            return f"(unknown time zone {zone[:64]})"
        return self._ctx.clock.now().astimezone(tz).strftime("%H:%M %Z")
