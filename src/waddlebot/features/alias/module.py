"""The built-in ``alias`` module: Linux-style aliases a community defines in chat
(``!alias``, ``!alias name='!command args'``, ``!alias add name !command args``,
``!unalias name``) and the handler that runs them (``!name args``).

Running an alias is the router's job: this module answers with a ``command.run`` action and
the router runs that line as the caller, with the permission level of the command it names.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from waddlebot.core.contract import ActionKind
from waddlebot.core.language import unquoted
from waddlebot.core.parser import SERVERLESS_PREFIX
from waddlebot.core.permissions import Level
from waddlebot.features.alias.checks import CustomExists, why_refused
from waddlebot.features.alias.service import (
    AliasError,
    AliasInfo,
    AliasService,
    check_alias_name,
    expand,
    normalise_expansion,
    target_name,
)
from waddlebot.sdk import ArgSpec, Context, Module, UsageError, joined

Reserved = Callable[[], set[str]]
"""The names (and aliases) of the built-in ``!`` commands."""

USAGE = "[name | name='!command args' | add name !command args | remove name] [-f]"
_DEFINITION = re.compile(r"^(!?[A-Za-z0-9_-]+)=(.*)$", re.DOTALL)
_FORCE = frozenset({"-f", "--force"})
_REMOVE = frozenset({"remove", "rm", "delete"})


def build_alias_module(
    service: AliasService, *, reserved: Reserved = set, custom_exists: CustomExists | None = None
) -> Module:
    module = Module("alias", version="1.0.0", description="Linux-style aliases of the community")

    @module.command(
        "alias",
        usage=USAGE,
        description="Lists and shows aliases; moderators define them",
        args=(ArgSpec(name="definition", description="name='!command args'", rest=True),),
    )
    async def alias(ctx: Context) -> None:
        words, forced = _flags(ctx.rest)
        definition = _DEFINITION.match(words)
        if not words:
            await _list(ctx, service)
        elif definition is not None:
            name, value = definition.group(1), unquoted(definition.group(2))
            await _define(ctx, service, reserved, custom_exists, name, value, forced)
        else:
            first, _, after = words.partition(" ")
            if first.lower() == "add":
                name, _, value = after.strip().partition(" ")
                if not (name and value.strip()):
                    raise UsageError("add takes a name and a command, e.g. add hi !so $1")
                await _define(ctx, service, reserved, custom_exists, name, value.strip(), forced)
            elif first.lower() in _REMOVE:
                await _remove(ctx, service, after.strip())
            elif not after.strip():
                await _show(ctx, service, first)
            else:
                raise UsageError("define one as name='!command args'")

    @module.command(
        "unalias",
        usage="name",
        description="Removes an alias",
        level=int(Level.MODERATOR),
    )
    async def unalias(ctx: Context) -> None:
        if len(ctx.args) != 1:
            raise UsageError("name the alias to remove")
        await _remove(ctx, service, ctx.args[0])

    @module.fallback
    async def run(ctx: Context) -> None:
        request = ctx.request
        found = await service.lookup(request.community_id, request.command)
        if found is None:
            return  # removed between the router's look-up and now: like an unknown name
        line = expand(found.expansion, ctx.args, ctx.caller_name)
        ctx.action(ActionKind.RUN_COMMAND, text=_typed(line, request.prefix or "!"))

    return module


def _flags(text: str) -> tuple[str, bool]:
    """The text without a leading ``-f``/``--force``, and whether it was there (also
    accepted right after the definition, as people add it last)."""
    words = text.split(None, 1)
    if words and words[0].lower() in _FORCE:
        return (words[1].strip() if len(words) > 1 else ""), True
    for flag in _FORCE:
        if text.lower().endswith(f" {flag}"):
            return text[: -len(flag)].strip(), True
    return text, False


def _typed(line: str, prefix: str) -> str:
    return line if line.startswith(SERVERLESS_PREFIX) else f"{prefix}{line}"


async def _define(
    ctx: Context,
    service: AliasService,
    reserved: Reserved,
    custom_exists: CustomExists | None,
    raw_name: str,
    raw_line: str,
    forced: bool,
) -> None:
    request = ctx.request
    prefix = request.prefix or "!"
    if ctx.caller_level < Level.MODERATOR:
        ctx.reply("Only moderators and up can define aliases.")
        return
    if forced and ctx.caller_level < Level.ADMIN:
        ctx.reply("Only admins and up can force an alias over a command.")
        return
    try:
        name = check_alias_name(raw_name)
        expansion = normalise_expansion(raw_line, prefix)
    except AliasError as exc:
        raise UsageError(str(exc)) from exc
    builtin = reserved()
    target = "" if expansion.startswith(SERVERLESS_PREFIX) else target_name(expansion)
    refusal = await why_refused(
        request.community_id, name, target, builtin, custom_exists, service, forced, prefix
    )
    if refusal:
        ctx.reply(refusal)
        return
    created = await service.define(
        request.community_id, name, expansion, forced=forced, actor=ctx.actor
    )
    shown = AliasInfo(name, expansion, forced).shown(prefix)
    verb = "Added" if created else "Changed"
    ctx.reply(f"{verb} alias {prefix}{name} -> {shown}" + (" (forced)." if forced else "."))


async def _show(ctx: Context, service: AliasService, raw_name: str) -> None:
    prefix = ctx.request.prefix or "!"
    try:
        name = check_alias_name(raw_name)
    except AliasError as exc:
        raise UsageError(str(exc)) from exc
    found = await service.lookup(ctx.request.community_id, name)
    if found is None:
        ctx.reply(f"There is no alias {prefix}{name} here.")
        return
    forced = " (forced)" if found.forced else ""
    ctx.reply(f"alias {name}='{found.shown(prefix)}'{forced}")


async def _list(ctx: Context, service: AliasService) -> None:
    prefix = ctx.request.prefix or "!"
    found = await service.list(ctx.request.community_id)
    if not found:
        ctx.reply(f"No aliases yet. Define one with {prefix}alias hi='{prefix}so $1'.")
        return
    listed = [f"{alias.name}='{alias.shown(prefix)}'" for alias in found]
    ctx.reply(f"Aliases: {joined(listed)}")


async def _remove(ctx: Context, service: AliasService, raw_name: str) -> None:
    prefix = ctx.request.prefix or "!"
    if ctx.caller_level < Level.MODERATOR:
        ctx.reply("Only moderators and up can remove aliases.")
        return
    if not raw_name or len(raw_name.split()) != 1:
        raise UsageError("name the alias to remove")
    try:
        name = check_alias_name(raw_name)
    except AliasError as exc:
        raise UsageError(str(exc)) from exc
    if await service.remove(ctx.request.community_id, name, actor=ctx.actor):
        ctx.reply(f"Removed alias {prefix}{name}.")
    else:
        ctx.reply(f"There is no alias {prefix}{name} here.")
