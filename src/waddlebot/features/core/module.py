from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from waddlebot.core.contract import ActionKind
from waddlebot.core.parser import check_prefix
from waddlebot.core.permissions import Level
from waddlebot.sdk import ArgSpec, CommandSpec, Context, Module, UsageError

EVERY_COMMAND = "all"  # "help all": every command, also those above the caller's level

Catalog = Callable[[int], Awaitable[Sequence[CommandSpec]]]
"""The commands a community (by id) can run: the modules it has on, under its names."""


def build_core_module(catalog: Catalog) -> Module:
    """``catalog`` lists the commands of the caller's community, so help stays in step with
    what the router runs there."""
    module = Module("core", version="1.0.0", description="Help and a liveness check")

    @module.command(
        "help",
        usage="[command | all]",
        description="Lists the commands you may use (all: every command), or shows how to use one",
        args=(ArgSpec(name="command", description="a command name, or all"),),
    )
    async def help_(ctx: Context) -> None:
        prefix = ctx.request.prefix or "!"
        specs = list(await catalog(ctx.request.community_id))
        if not ctx.args:
            ctx.reply(_listing(specs, ctx.caller_level, prefix))
            return
        given = ctx.args[0]
        if given.lower() == EVERY_COMMAND:
            ctx.reply(_every_command(specs, ctx.caller_level, prefix))
            return
        # "help wave", "help !wave" and "help #wave" all mean wave; the bare name is tried
        # first, so with the prefix "w" "whelp wave" still finds wave (not "ave")
        for name in (given, given.removeprefix(prefix), given.removeprefix("#")):
            spec = _find(specs, name.lower())
            if spec is not None:
                break
        if spec is not None:
            sub = spec.subcommand(ctx.args[1].lower()) if len(ctx.args) > 1 else None
            if sub is not None:  # "help kudos give"
                line = spec.usage_line(prefix, sub.usage_part)
                ctx.reply(f"Usage: {line}{_about(sub.description, sub.level, ctx.caller_level)}")
                return
            about = _about(spec.description, spec.level, ctx.caller_level)
            ctx.reply(f"Usage: {spec.usage_line(prefix)}{about}{_subcommands(spec, prefix)}")
            return
        shown = given.removeprefix(prefix).removeprefix("#") or given
        raise UsageError(f"there is no command {prefix}{shown.lower()}")

    @module.command("ping", description="Checks that the bot is listening")
    async def ping(ctx: Context) -> None:
        ctx.reply("pong")

    @module.command(
        "prefix",
        usage="[new prefix]",
        description="Shows the command prefix here; admins can change it",
        args=(ArgSpec(name="prefix", description="1 to 8 characters, not #"),),
    )
    async def prefix_(ctx: Context) -> None:
        current = ctx.request.prefix or "!"
        if not ctx.args:
            ctx.reply(f"Commands here start with {current}")
            return
        if ctx.caller_level < Level.ADMIN:
            ctx.reply(f"Only admins and the owner can change the prefix; it stays {current}")
            return
        try:
            new = check_prefix(ctx.args[0])
        except ValueError as exc:
            raise UsageError(str(exc)) from exc
        ctx.action(ActionKind.SET_PREFIX, prefix=new)  # for built-in modules only
        ctx.reply(f"Commands here now start with {new}, as in {new}help")

    return module


def _listing(specs: list[CommandSpec], level: int, prefix: str) -> str:
    """The commands someone at ``level`` may use, and how many more ``help all`` shows."""
    usable = [spec for spec in specs if spec.level <= level]
    names = ", ".join(_shown(spec, prefix) for spec in usable)
    hidden = len(specs) - len(usable)
    if not hidden:
        return f"Commands you can use: {names}. Try {prefix}help <command>."
    more = "the one that needs" if hidden == 1 else f"the {hidden} that need"
    return (
        f"Commands you can use: {names}. Try {prefix}help <command>, or "
        f"{prefix}help {EVERY_COMMAND} for {more} a higher level."
    )


def _every_command(specs: list[CommandSpec], level: int, prefix: str) -> str:
    """Every command, each one above ``level`` marked with the level it needs."""
    names = ", ".join(
        _shown(spec, prefix) + ("" if spec.level <= level else f" ({_needs(spec.level)})")
        for spec in specs
    )
    marked = (
        " (marked: for a higher level than yours)" if any(s.level > level for s in specs) else ""
    )
    return f"All commands{marked}: {names}. Try {prefix}help <command>."


def _about(description: str, level: int, caller_level: int) -> str:
    """`` - what it does``, and the level it needs when the caller's is below it."""
    about = f" - {description}" if description else ""
    return about + ("" if level <= caller_level else f" ({_needs(level)} level and up)")


def _subcommands(spec: CommandSpec, prefix: str) -> str:
    """A command group's subcommands, each with its usage line, the level it needs when it
    is more than everyone's, and what it does."""
    if not spec.subcommands:
        return ""
    shown = []
    for sub in spec.subcommands:
        line = spec.usage_line(prefix, sub.usage_part)
        level = f" ({_needs(sub.level)} and up)" if sub.level > Level.EVERYONE else ""
        alone = f" (also {spec.usage_line(prefix, '')} alone)" if sub.default else ""
        about = f" - {sub.description}" if sub.description else ""
        shown.append(f"{line}{level}{alone}{about}")
    return ". Subcommands: " + "; ".join(shown)


def _shown(spec: CommandSpec, prefix: str) -> str:
    return ("#" if spec.serverless else prefix) + spec.name


def _needs(level: int) -> str:
    return Level.at_least(level).label


def _find(specs: list[CommandSpec], name: str) -> CommandSpec | None:
    return next((s for s in specs if name == s.name or name in s.aliases), None)
