"""The built-in ``commands`` module: custom commands a community defines in chat
(``!commands add|edit|delete|show|list``, ``!addcom``, ``!editcom``, ``!delcom``) and the
fallback handler that answers them (``!name args``)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable

import structlog

from waddlebot.core.permissions import Level
from waddlebot.core.variables import (
    ChainResolver,
    Resolver,
    StandardVariables,
    VariableContext,
    render,
    truncate,
)
from waddlebot.features.commands.service import (
    Changes,
    CommandInfo,
    CustomCommandError,
    CustomCommandService,
    UnknownCommand,
    check_name,
)
from waddlebot.features.community.streams import Live, StreamStatus
from waddlebot.features.labels.service import level_name
from waddlebot.sdk import (
    Context,
    Module,
    UsageError,
    joined,
    pick_subcommand,
    sentence,
    subcommand_args,
    usage_unless_refusal,
)

log = structlog.get_logger(__name__)

Reserved = Callable[[], set[str]]
"""The names (and aliases) of the built-in ``!`` commands: no custom command may take them."""
AliasExists = Callable[[int, str], Awaitable[bool]]

OPTIONS = "[-ul=<level>] [-cd=<seconds>] [-usercd=<seconds>] [-a=!other args] [-disabled|-enabled]"
USAGE = (
    f"add !name {OPTIONS} <response> | edit !name [options] [response] | delete !name | "
    "show !name | list"
)
MAX_REPLY = 500
RENDER_SECONDS = 10.0
MAX_ALIAS_HOPS = 5
_OPTION = re.compile(r"^-(ul|cd|usercd|a)=(.*)$", re.IGNORECASE | re.DOTALL)
_FLAGS = {"-disabled": False, "-enabled": True}
_SECONDS = re.compile(r"^(\d{1,6})s?$")
_DELTA = re.compile(r"^[+-]?\d{1,7}$")
_STREAM_VARIABLES = re.compile(r"[({]\s*(uptime|game)\b", re.IGNORECASE)  # worth a look-up


def build_commands_module(
    service: CustomCommandService,
    fetcher: Resolver | None = None,
    *,
    reserved: Reserved = set,
    alias_exists: AliasExists | None = None,
    streams: StreamStatus | None = None,
) -> Module:
    """``fetcher`` answers ``$(urlfetch ...)`` (a :class:`~waddlebot.infra.urlfetch.UrlFetcher`);
    ``reserved`` gives the built-in command names a custom command may not take, and
    ``alias_exists`` tells whether a community has an alias of a name (which would shadow a
    custom command of that name); ``streams`` answers ``$(uptime)`` and ``$(game)``."""

    def call(ctx: Context, skip: int) -> _Call:
        return _Call(ctx, service, reserved, alias_exists, skip=skip)

    module = Module("commands", version="1.0.0", description="Custom commands of the community")

    @module.command(
        "commands",
        aliases=("command", "cmd"),
        usage=USAGE,
        description="Lists and shows custom commands; moderators add, edit and delete them",
        args=subcommand_args(_HANDLERS),
    )
    async def commands(ctx: Context) -> None:
        handler = pick_subcommand(ctx, _HANDLERS)
        await handler(call(ctx, 2))

    # the router refuses these below moderator (and !help leaves them out); !commands
    # add/edit/delete check the level here, as its list and show are for everyone
    @module.command(
        "addcom",
        usage=f"!name {OPTIONS} <response>",
        description="Adds a custom command",
        level=int(Level.MODERATOR),
    )
    async def addcom(ctx: Context) -> None:
        await _add(call(ctx, 1))

    @module.command(
        "editcom",
        usage="!name [options] [response]",
        description="Changes a custom command",
        level=int(Level.MODERATOR),
    )
    async def editcom(ctx: Context) -> None:
        await _edit(call(ctx, 1))

    @module.command(
        "delcom",
        usage="!name",
        description="Deletes a custom command",
        level=int(Level.MODERATOR),
    )
    async def delcom(ctx: Context) -> None:
        await _delete(call(ctx, 1))

    @module.fallback
    async def invoke(ctx: Context) -> None:
        await _invoke(ctx, service, fetcher, reserved, streams)

    return module


# --- reading the raw line --------------------------------------------------------------------


class _Line:
    """The raw text after the command (and subcommand), read token by token; the response
    is taken verbatim from it, so spacing and quotes survive."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def _skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def peek(self) -> str | None:
        self._skip_space()
        end = self.pos
        while end < len(self.text) and not self.text[end].isspace():
            end += 1
        return self.text[self.pos : end] or None

    def take(self) -> str | None:
        token = self.peek()
        if token is not None:
            self.pos += len(token)
        return token

    def take_quoted_option(self) -> str | None:
        """``-a="!other two words"``: the value between the quotes, or None if not quoted."""
        self._skip_space()
        match = re.match(r"-a=(['\"])", self.text[self.pos :], re.IGNORECASE)
        if match is None:
            return None
        quote = match.group(1)
        start = self.pos + match.end()
        end = self.text.find(quote, start)
        if end < 0:
            return None
        self.pos = end + 1
        return self.text[start:end]

    def rest(self) -> str:
        self._skip_space()
        return self.text[self.pos :].strip()


def _source(ctx: Context, skip: int) -> _Line:
    """The line after ``skip`` words (the command, and the subcommand if any)."""
    request = ctx.request
    raw = request.raw_text.strip()
    if not (raw and request.prefix and raw.startswith(request.prefix)):  # rebuild it
        raw = " ".join([f"{request.prefix}{request.command}", *request.args])
    line = _Line(raw)
    for _ in range(skip):
        line.take()
    return line


# --- management ------------------------------------------------------------------------------


class _Call:
    def __init__(
        self,
        ctx: Context,
        service: CustomCommandService,
        reserved: Reserved,
        alias_exists: AliasExists | None,
        *,
        skip: int,
    ) -> None:
        self.ctx = ctx
        self.service = service
        self.reserved = reserved
        self.alias_exists = alias_exists
        self.line = _source(ctx, skip)
        self.community_id = ctx.request.community_id
        self.prefix = ctx.request.prefix or "!"

    @property
    def actor(self) -> str:
        return self.ctx.actor

    def allowed(self, doing: str) -> bool:
        if self.ctx.caller_level >= Level.MODERATOR:
            return True
        self.ctx.reply(f"Only moderators and up can {doing} custom commands.")
        return False

    def parse(self, *, options: bool) -> tuple[str, Changes, str]:
        """The command name, the options given and the response text."""
        name: str | None = None
        fields: dict[str, object] = {}
        while True:
            token = self.line.peek()
            if token is None:
                break
            lowered = token.lower()
            if options and lowered in _FLAGS:
                self.line.take()
                fields["enabled"] = _FLAGS[lowered]
                continue
            match = _OPTION.match(token) if options else None
            if match is not None:
                key = match.group(1).lower()
                quoted = self.line.take_quoted_option() if key == "a" else None
                if quoted is None:
                    self.line.take()
                value = quoted if quoted is not None else match.group(2)
                fields.update(_option(key, value))
                continue
            if name is None:
                self.line.take()
                name = token
                continue
            break
        if name is None:
            raise UsageError(f"which command? e.g. {self.prefix}commands add !hello Hi $(user)!")
        try:
            normal = check_name(name)
        except CustomCommandError as exc:
            raise UsageError(str(exc)) from exc
        response = self.line.rest() if options else ""
        if not options and self.line.rest():
            raise UsageError(f"just the name, e.g. !{normal}")
        return normal, Changes(**fields), response  # type: ignore[arg-type]

    def check_alias(self, name: str, alias: str | None) -> bool:
        if not alias:
            return True
        target = _alias_target(alias)
        if target is None:
            raise UsageError('-a= takes a command, e.g. -a=!other or -a="!other some args"')
        if target == name:
            self.ctx.reply(f"!{name} cannot be an alias of itself.")
            return False
        if target in self.reserved():
            self.ctx.reply(_builtin_alias(name, target))
            return False
        return True


def _option(key: str, value: str) -> dict[str, object]:
    value = value.strip()
    if key == "ul":
        try:
            return {"level": int(Level.parse(value))}
        except ValueError as exc:
            raise UsageError(str(exc)) from exc
    if key in ("cd", "usercd"):
        match = _SECONDS.fullmatch(value.lower())
        if match is None:
            raise UsageError(f"-{key}= takes whole seconds, e.g. -{key}=30")
        return {"cooldown" if key == "cd" else "user_cooldown": int(match.group(1))}
    if value and _alias_target(value) is None:
        raise UsageError('-a= takes a command, e.g. -a=!other or -a="!other some args"')
    return {"alias_of": value}


def _alias_target(alias: str) -> str | None:
    words = alias.split()
    if not words:
        return None
    try:
        return check_name(words[0])
    except CustomCommandError:
        return None


def _builtin_alias(name: str, target: str) -> str:
    return (
        f"!{name} would alias !{target}, a built-in command; an alias here must point at "
        "another custom command."
    )


async def _add(call: _Call) -> None:
    if not call.allowed("add"):
        return
    name, changes, response = call.parse(options=True)
    if not (response or changes.alias_of):
        raise UsageError(f"what should !{name} answer? e.g. {call.prefix}addcom !{name} Hi!")
    if not call.check_alias(name, changes.alias_of):
        return
    if call.alias_exists is not None and await call.alias_exists(call.community_id, name):
        call.ctx.reply(
            f"!{name} is an alias here ({call.prefix}alias {name}); remove it with "
            f"{call.prefix}unalias {name} first."
        )
        return
    try:
        info = await call.service.add(
            call.community_id,
            name,
            _with_response(changes, response),
            actor=call.actor,
            reserved=call.reserved(),
        )
    except CustomCommandError as exc:
        usage_unless_refusal(exc)
    call.ctx.reply(f"Added !{info.name}{_summary(info)}.")


async def _edit(call: _Call) -> None:
    if not call.allowed("edit"):
        return
    name, changes, response = call.parse(options=True)
    if not call.check_alias(name, changes.alias_of):
        return
    try:
        info = await call.service.edit(
            call.community_id, name, _with_response(changes, response), actor=call.actor
        )
    except CustomCommandError as exc:
        usage_unless_refusal(exc)
    call.ctx.reply(f"Updated !{info.name}{_summary(info)}.")


async def _delete(call: _Call) -> None:
    if not call.allowed("delete"):
        return
    name, _, _ = call.parse(options=False)
    await call.service.delete(call.community_id, name, actor=call.actor)
    call.ctx.reply(f"Deleted !{name}.")


async def _show(call: _Call) -> None:
    name, _, _ = call.parse(options=False)
    info = await call.service.get(call.community_id, name)
    if info is None:
        call.ctx.reply(sentence(str(UnknownCommand(name))))
        return
    shown = f"-a={info.alias_of}" if info.alias_of else info.response
    call.ctx.reply(truncate(f"!{info.name}{_summary(info)}: {shown}", MAX_REPLY))


async def _list(call: _Call) -> None:
    if call.line.rest():
        raise UsageError("list takes nothing after it")
    found = await call.service.list(call.community_id)
    if not found:
        call.ctx.reply("No custom commands yet.")
        return
    names = [f"!{c.name}" + ("" if c.enabled else " (disabled)") for c in found]
    call.ctx.reply(f"Custom commands: {joined(names)}")


_HANDLERS: dict[str, Callable[[_Call], Awaitable[None]]] = {
    "list": _list,
    "show": _show,
    "add": _add,
    "edit": _edit,
    "delete": _delete,
    "remove": _delete,
}


def _with_response(changes: Changes, response: str) -> Changes:
    if not response:
        return changes
    return Changes(
        response=response,
        level=changes.level,
        cooldown=changes.cooldown,
        user_cooldown=changes.user_cooldown,
        alias_of=changes.alias_of,
        enabled=changes.enabled,
    )


def _summary(info: CommandInfo) -> str:
    """`` (moderator and up, cooldown 30s, disabled)``; empty for a plain command."""
    parts = []
    if info.level != Level.EVERYONE:
        parts.append(f"{level_name(info.level)} and up")
    if info.cooldown:
        parts.append(f"cooldown {info.cooldown}s")
    if info.user_cooldown:
        parts.append(f"per-user cooldown {info.user_cooldown}s")
    if info.alias_of:
        parts.append(f"alias of {info.alias_of}")
    if not info.enabled:
        parts.append("disabled")
    return f" ({', '.join(parts)})" if parts else ""


# --- invoking --------------------------------------------------------------------------------


class _Counters:
    """``$(count)`` (this command's uses, counted once per reply), ``$(count name [+n|-n])``
    and ``$(getcount name)`` (named counters of the community)."""

    def __init__(self, service: CustomCommandService, community_id: int, command: str) -> None:
        self._service = service
        self._community_id = community_id
        self._command = command
        self._count: int | None = None

    async def resolve(self, name: str, args: list[str]) -> str | None:
        key = name.lower()
        if key == "count":
            if not args:
                if self._count is None:
                    self._count = await self._service.increment(self._community_id, self._command)
                return str(self._count)
            if len(args) > 2 or (len(args) == 2 and not _DELTA.fullmatch(args[1])):
                return None
            delta = int(args[1]) if len(args) == 2 else 1
            return str(await self._service.add_to_counter(self._community_id, args[0], delta))
        if key == "getcount" and len(args) == 1:
            return str(await self._service.get_counter(self._community_id, args[0]))
        return None


async def _follow_aliases(
    service: CustomCommandService,
    command: CommandInfo,
    args: list[str],
    reserved: Reserved,
) -> tuple[CommandInfo, list[str]] | str:
    """The custom command an alias chain ends at, with the arguments the aliases add in
    front; or the text to answer when the chain is broken."""
    chain = [command.name]
    while command.alias_of:
        words = command.alias_of.split()
        target = _alias_target(command.alias_of)
        if target is None:
            return f"!{command.name} is an alias of {command.alias_of}, which is not a command."
        if target in chain:
            loop = " -> ".join(f"!{name}" for name in [*chain, target])
            return f"!{chain[0]} is an alias loop ({loop}); fix one of them."
        if len(chain) > MAX_ALIAS_HOPS:
            return f"!{chain[0]} goes through more than {MAX_ALIAS_HOPS} aliases; shorten it."
        if target in reserved():
            return _builtin_alias(command.name, target)
        found = await service.get(command.community_id, target)
        if found is None or not found.enabled:
            return f"!{command.name} is an alias of !{target}, which does not exist."
        chain.append(target)
        args = [*words[1:], *args]
        command = found
    return command, args


async def _invoke(
    ctx: Context,
    service: CustomCommandService,
    fetcher: Resolver | None,
    reserved: Reserved,
    streams: StreamStatus | None,
) -> None:
    request = ctx.request
    if not await service.known(request.community_id, request.command):
        return  # not ours either (another bot's command?): no answer, no database read
    command = await service.get(request.community_id, request.command)
    if command is None or not command.enabled:
        return  # not ours either: no answer at all, like any unknown command
    shown = f"{request.prefix or '!'}{command.name}"
    caller = request.caller
    user = f"{caller.identity.platform}:{caller.identity.user_id}" if caller else ""
    if ctx.caller_level < command.level:
        if await service.first_refusal(request.entity_id, user):
            needed = Level.at_least(command.level).label
            ctx.reply(f"@{ctx.caller_name}, {shown} is for {needed} level and up.")
        return
    if not await service.take_cooldown(command, user):
        return  # cooling down: silent, so a busy chat is not answered with refusals
    followed = await _follow_aliases(service, command, list(ctx.args), reserved)
    if isinstance(followed, str):
        ctx.reply(followed)
        return
    target, args = followed
    line = _source(ctx, 1)
    query = " ".join(args) if target is not command else line.rest()
    live = (
        await streams.of(request.entity_id)
        if streams is not None and _STREAM_VARIABLES.search(target.response)
        else Live(None, None)
    )
    variables = VariableContext(
        user=ctx.caller_name,
        args=tuple(args),
        query=query,
        channel=request.channel_id,
        platform=request.platform,
        live_since=live.since,
        game=live.game,
    )
    resolvers: list[Resolver] = [
        StandardVariables(variables),
        _Counters(service, request.community_id, target.name),
    ]
    if fetcher is not None:
        resolvers.append(fetcher)
    try:
        async with asyncio.timeout(RENDER_SECONDS):
            text = await render(target.response, ChainResolver(*resolvers), max_length=MAX_REPLY)
    except TimeoutError:
        log.warning("custom_command_timeout", command=command.name)
        ctx.reply(f"Sorry, {shown} took too long to answer.")
        return
    if text.strip():
        ctx.reply(text)
