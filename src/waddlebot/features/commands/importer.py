"""Importing custom commands from other bots: Nightbot, StreamElements and PhantomBot exports.

Converting is pure (:func:`convert`): an export becomes a list of :class:`Imported` entries,
each with the response rewritten into our variable syntax and a warning for every variable
that has no counterpart here (it is left in the response as written, so the streamer sees it).
:func:`import_commands` then adds them one by one: a command that cannot be imported (its name
is taken, reserved or malformed, its level unknown) is skipped and the others still are.

The variables kept, by source:

- Nightbot ``$(...)``: ``user touser query querystring 1..9 count urlfetch channel time``.
- StreamElements ``${...}`` (and ``$(...)``, which it accepts too): ``user sender source touser
  1..9 1:..9: count getcount customapi random random.pick uptime game channel queryescape``.
- PhantomBot ``(tag)``: rewritten to ours, see :data:`PHANTOMBOT_TAGS`; ``(1|default)``,
  ``(1=sender)``, ``(#)`` and ``(# a,b)`` too. Any other ``(word)`` or known tag is reported.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from waddlebot.core.permissions import Level
from waddlebot.core.variables import Node, Variable, parse
from waddlebot.features.commands.service import (
    MAX_COUNT,
    Changes,
    CustomCommandError,
    CustomCommandService,
    DuplicateCommand,
    check_name,
)

Source = Literal["nightbot", "streamelements", "phantombot"]
SOURCES: tuple[Source, ...] = ("nightbot", "streamelements", "phantombot")
MAX_ENTRIES = 1000  # commands in one export
Status = Literal["imported", "replaced", "skipped"]
Reason = Literal["", "exists", "reserved", "duplicate", "invalid"]

_NUMBERED = re.compile(r"[1-9]:?")
NIGHTBOT_VARIABLES = frozenset(
    {"user", "touser", "query", "querystring", "count", "urlfetch", "channel", "time"}
)
STREAMELEMENTS_VARIABLES = frozenset(
    {
        "user",
        "sender",
        "source",
        "touser",
        "count",
        "getcount",
        "customapi",
        "random",
        "random.pick",
        "uptime",
        "game",
        "channel",
        "queryescape",
    }
)
PHANTOMBOT_TAGS: dict[str, str] = {
    "sender": "$(user)",
    "@sender": "@$(user)",
    "baresender": "$(user)",
    "touser": "$(touser)",
    "echo": "$(query)",
    "count": "$(count)",
    "uptime": "$(uptime)",
    "game": "$(game)",
}
# PhantomBot tags with arguments that have no counterpart here: reported even with arguments
PHANTOMBOT_KNOWN = frozenset(
    {
        "random",
        "customapijson",
        "readfile",
        "writefile",
        "pointname",
        "points",
        "price",
        "pay",
        "title",
        "viewers",
        "followage",
        "countdown",
        "onlineonly",
        "alert",
        "playsound",
        "repeat",
    }
)
# ``(name)``, ``(name args)``, ``(name=args)``, ``(name|args)``, ``(#)``, ``(# args)``
_TAG = re.compile(r"\((?P<name>@?[a-z][a-z0-9_.]*|#|[1-9])(?:(?P<sep>[ =|])(?P<args>[^()]*))?\)")
_RANGE = re.compile(r"\s*(\d{1,9})\s*,\s*(\d{1,9})\s*")


class ImportFormatError(CustomCommandError):
    """The export as a whole cannot be read (not JSON, not a list...)."""


@dataclass(slots=True)
class Imported:
    """One command of an export, converted; ``error`` set when it cannot be imported."""

    name: str
    response: str = ""
    level: int = int(Level.EVERYONE)
    cooldown: int = 0
    user_cooldown: int = 0
    enabled: bool = True
    count: int | None = None
    warnings: list[str] = field(default_factory=list)
    error: str = ""


@dataclass(frozen=True, slots=True)
class CommandResult:
    name: str
    status: Status
    reason: Reason = ""
    detail: str = ""  # why it was skipped, for people
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ImportReport:
    source: Source
    overwrite: bool
    results: tuple[CommandResult, ...]

    def names(self, *statuses: Status) -> list[str]:
        return [result.name for result in self.results if result.status in statuses]

    @property
    def imported(self) -> int:
        return len(self.names("imported", "replaced"))

    @property
    def skipped(self) -> int:
        return len(self.names("skipped"))


# --- reading the export ----------------------------------------------------------------------


def _entries(payload: str | Sequence[Any] | dict[str, Any]) -> list[Any]:
    """A JSON export as a list: a list, a JSON text of one, or ``{"commands": [...]}``."""
    data: Any = payload
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except ValueError as exc:
            raise ImportFormatError(f"the export is not JSON: {exc}") from exc
    if isinstance(data, dict) and isinstance(data.get("commands"), list):
        data = data["commands"]
    if not isinstance(data, list):
        raise ImportFormatError("the export should be a list of commands")
    if len(data) > MAX_ENTRIES:
        raise ImportFormatError(f"an export has at most {MAX_ENTRIES} commands")
    return data


def _seconds(value: Any, what: str) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"{what} should be a number of seconds, not {value!r}")
    return int(value)


def _count(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
        raise ValueError(f"count should be a whole number from 0 to {MAX_COUNT}, not {value!r}")
    return value


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} is missing")
    return value


def _label(raw: Any, key: str, index: int) -> str:
    """The name an entry goes by in the report, even when it is malformed."""
    name = raw.get(key) if isinstance(raw, dict) else None
    return name.strip() if isinstance(name, str) and name.strip() else f"#{index + 1}"


def _walk(nodes: Sequence[Node]) -> Iterator[Variable]:
    for node in nodes:
        if isinstance(node, Variable):
            yield node
            for arg in node.args:
                yield from _walk(arg)


def _unmapped(response: str, kept: frozenset[str]) -> list[str]:
    """A warning for each variable (nested ones too) not in ``kept`` or ``1..9``."""
    warnings = []
    for variable in _walk(parse(response)):
        name = variable.name.lower()
        if name in kept or _NUMBERED.fullmatch(name):
            continue
        opener = variable.raw[1]
        closer = ")" if opener == "(" else "}"
        shown = f"${opener}{variable.name or '?'}{' ...' if variable.args else ''}{closer}"
        warnings.append(f"{shown} has no counterpart here; it is left as written")
    return warnings


def _json_fetches(response: str) -> list[str]:
    """Nightbot's ``$(urlfetch json URL)`` reads JSON; ours fetches plain text only."""
    return [
        f"{variable.raw} reads JSON, which $(urlfetch) here does not; it is left as written"
        for variable in _walk(parse(response))
        if variable.name.lower() == "urlfetch"
        and variable.args
        and "".join(getattr(node, "value", "?") for node in variable.args[0]).lower() == "json"
    ]


def _level(value: Any) -> int:
    if value is None:
        return int(Level.EVERYONE)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"unknown user level {value!r}")
    if isinstance(value, int) and not 0 < value <= int(Level.OWNER):
        raise ValueError(f"unknown user level {value!r}")
    return int(Level.parse(value))


def convert_nightbot(payload: str | Sequence[Any] | dict[str, Any]) -> list[Imported]:
    """Nightbot: ``[{"name": "!hello", "message": ..., "userLevel": ..., "coolDown": ...,
    "count": ...}]``."""
    out = []
    for index, raw in enumerate(_entries(payload)):
        entry = Imported(name=_label(raw, "name", index))
        try:
            if not isinstance(raw, dict):
                raise ValueError("not a command object")
            entry.response = _text(raw.get("message"), "message")
            entry.level = _level(raw.get("userLevel"))
            entry.cooldown = _seconds(raw.get("coolDown"), "coolDown")
            entry.count = _count(raw.get("count"))
            entry.warnings = _unmapped(entry.response, NIGHTBOT_VARIABLES)
            entry.warnings += _json_fetches(entry.response)
        except ValueError as exc:
            entry.error = str(exc)
        out.append(entry)
    return out


def convert_streamelements(payload: str | Sequence[Any] | dict[str, Any]) -> list[Imported]:
    """StreamElements: ``[{"command": "hello", "reply": ..., "accessLevel": 100,
    "cooldown": {"global": 5, "user": 15}, "enabled": true}]``."""
    out = []
    for index, raw in enumerate(_entries(payload)):
        entry = Imported(name=_label(raw, "command", index))
        try:
            if not isinstance(raw, dict):
                raise ValueError("not a command object")
            entry.response = _text(raw.get("reply"), "reply")
            entry.level = _level(raw.get("accessLevel"))
            cooldown = raw.get("cooldown") or {}
            if not isinstance(cooldown, dict):
                raise ValueError("cooldown should be {global, user}")
            entry.cooldown = _seconds(cooldown.get("global"), "cooldown.global")
            entry.user_cooldown = _seconds(cooldown.get("user"), "cooldown.user")
            enabled = raw.get("enabled", True)
            if not isinstance(enabled, bool):
                raise ValueError(f"enabled should be true or false, not {enabled!r}")
            entry.enabled = enabled
            entry.count = _count(raw.get("count"))
            entry.warnings = _unmapped(entry.response, STREAMELEMENTS_VARIABLES)
            aliases = raw.get("aliases")
            if isinstance(aliases, list) and aliases:
                shown = ", ".join(f"!{alias}" for alias in aliases if isinstance(alias, str))
                entry.warnings.append(f"its aliases ({shown}) are not imported")
        except ValueError as exc:
            entry.error = str(exc)
        out.append(entry)
    return out


def _quoted(text: str) -> str:
    """An argument for one of our variables: quoted when it holds spaces or closers."""
    if text and not re.search(r"[\s()]", text):
        return text
    quote = "'" if "'" not in text else '"'
    return f"{quote}{text}{quote}"


def _phantombot_tag(match: re.Match[str], warnings: list[str]) -> str:
    name, sep, args = match.group("name"), match.group("sep"), match.group("args")
    raw = match.group(0)
    if sep is None and name in PHANTOMBOT_TAGS:
        return PHANTOMBOT_TAGS[name]
    if name.isdigit():
        if sep is None:
            return f"$({name})"
        if sep == "|":
            return f"$({name} {_quoted(args)})"
        if sep == "=" and args.strip() in ("sender", "@sender", "baresender"):
            return f"$({name} $(user))"
    if name == "customapi" and sep == " " and args.strip():
        return f"$(customapi {args.strip()})"
    if name == "#":
        if sep is None:
            return "$(random 1-100)"
        bounds = _RANGE.fullmatch(args) if sep == " " else None
        if bounds is not None:
            return f"$(random {bounds.group(1)}-{bounds.group(2)})"
    if sep is None or name in PHANTOMBOT_KNOWN or name in PHANTOMBOT_TAGS or name.isdigit():
        warnings.append(f"{raw} has no counterpart here; it is left as written")
    return raw


def convert_phantombot_line(line: str) -> Imported:
    """One ``!name response`` line of a PhantomBot command list."""
    name, _, response = line.strip().partition(" ")
    entry = Imported(name=name or line.strip())
    if not name.startswith("!"):
        entry.error = "a line should start with !name"
        return entry
    if not response.strip():
        entry.error = "the response is missing"
        return entry
    # a $( or ${ in PhantomBot text is plain text: keep it so in our syntax
    escaped = re.sub(r"\$(?=[({])", r"\\$", response.strip())
    entry.response = _TAG.sub(lambda match: _phantombot_tag(match, entry.warnings), escaped)
    return entry


def convert_phantombot(payload: str | Sequence[Any]) -> list[Imported]:
    """PhantomBot: text, one ``!name response`` per line (blank lines and ``#`` comments
    skipped); a list of such lines is accepted too."""
    if isinstance(payload, str):
        lines = payload.splitlines()
    elif isinstance(payload, list) and all(isinstance(line, str) for line in payload):
        lines = list(payload)
    else:
        raise ImportFormatError("a PhantomBot export is text: one !name response per line")
    wanted = [line for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if len(wanted) > MAX_ENTRIES:
        raise ImportFormatError(f"an export has at most {MAX_ENTRIES} commands")
    return [convert_phantombot_line(line) for line in wanted]


def convert(source: Source, payload: Any) -> list[Imported]:
    """The commands of an export; ImportFormatError when it cannot be read at all."""
    if source == "nightbot":
        return convert_nightbot(payload)
    if source == "streamelements":
        return convert_streamelements(payload)
    if source == "phantombot":
        return convert_phantombot(payload)
    raise ImportFormatError(f"unknown source {source!r}; use one of: {', '.join(SOURCES)}")


# --- importing -------------------------------------------------------------------------------


async def import_commands(
    service: CustomCommandService,
    community_id: int,
    source: Source,
    payload: Any,
    *,
    actor: str,
    overwrite: bool = False,
    reserved: Collection[str] = (),
    aliases: Collection[str] = (),
) -> ImportReport:
    """Add every command of an export; each stands alone. An existing command is skipped, or
    replaced with ``overwrite``; a name a built-in command or an alias of the community has
    is skipped (the alias would hide it). One audit row (``custom_command.import``)."""
    results = []
    seen: set[str] = set()
    for entry in convert(source, payload):
        result = await _import_one(
            service,
            community_id,
            entry,
            seen,
            actor=actor,
            overwrite=overwrite,
            reserved=reserved,
            aliases=aliases,
        )
        results.append(result)
    report = ImportReport(source=source, overwrite=overwrite, results=tuple(results))
    service.audit.record(
        "custom_command.import",
        decision="change",
        actor=actor,
        target=f"import:{source}",
        community_id=community_id,
        detail={
            "overwrite": overwrite,
            "imported": report.names("imported"),
            "replaced": report.names("replaced"),
            "skipped": report.names("skipped"),
        },
    )
    return report


async def preview_commands(
    service: CustomCommandService,
    community_id: int,
    source: Source,
    payload: Any,
    *,
    overwrite: bool = False,
    reserved: Collection[str] = (),
    aliases: Collection[str] = (),
) -> ImportReport:
    """What :func:`import_commands` would do with the same arguments, changing nothing: each
    command's status is the one the import gives it unless someone changes the commands
    meanwhile."""
    results = []
    seen: set[str] = set()
    for entry in convert(source, payload):
        verdict = await _verdict(
            service, community_id, entry, seen, overwrite, reserved=reserved, aliases=aliases
        )
        results.append(verdict if isinstance(verdict, CommandResult) else verdict[0])
    return ImportReport(source=source, overwrite=overwrite, results=tuple(results))


async def _verdict(
    service: CustomCommandService,
    community_id: int,
    entry: Imported,
    seen: set[str],
    overwrite: bool,
    *,
    reserved: Collection[str],
    aliases: Collection[str],
) -> CommandResult | tuple[CommandResult, str]:
    """A skipped result, or what to do (imported or replaced) and the checked name."""
    warnings = tuple(entry.warnings)

    def skipped(reason: Reason, detail: str, name: str = entry.name) -> CommandResult:
        return CommandResult(name, "skipped", reason, detail, warnings)

    try:
        name = check_name(entry.name)
    except CustomCommandError as exc:
        return skipped("invalid", str(exc))
    if entry.error:
        return skipped("invalid", entry.error, name)
    if name in seen:
        return skipped("duplicate", f"!{name} comes more than once in the export", name)
    seen.add(name)
    if name in reserved:
        return skipped("reserved", f"!{name} is a built-in command", name)
    if name in aliases:
        return skipped("reserved", f"!{name} is an alias here (remove it with !unalias)", name)
    if await service.get(community_id, name) is None:
        return CommandResult(name, "imported", "", "", warnings), name
    if overwrite:
        return CommandResult(name, "replaced", "", "", warnings), name
    return skipped("exists", f"there is already a custom command !{name} here", name)


async def _import_one(
    service: CustomCommandService,
    community_id: int,
    entry: Imported,
    seen: set[str],
    *,
    actor: str,
    overwrite: bool,
    reserved: Collection[str],
    aliases: Collection[str],
) -> CommandResult:
    verdict = await _verdict(
        service, community_id, entry, seen, overwrite, reserved=reserved, aliases=aliases
    )
    if isinstance(verdict, CommandResult):
        return verdict
    planned, name = verdict
    changes = Changes(
        response=entry.response,
        level=entry.level,
        cooldown=entry.cooldown,
        user_cooldown=entry.user_cooldown,
        alias_of="",
        enabled=entry.enabled,
    )
    exists = CommandResult(
        name,
        "skipped",
        "exists",
        f"there is already a custom command !{name} here",
        planned.warnings,
    )
    try:
        if planned.status == "imported":
            await service.add(
                community_id, name, changes, actor=actor, reserved=reserved, audited=False
            )
        else:
            await service.edit(community_id, name, changes, actor=actor, audited=False)
        if entry.count is not None:
            await service.set_count(community_id, name, entry.count)
    except DuplicateCommand:  # added by someone else meanwhile
        return exists
    except CustomCommandError as exc:
        return CommandResult(name, "skipped", "invalid", str(exc), planned.warnings)
    return planned
