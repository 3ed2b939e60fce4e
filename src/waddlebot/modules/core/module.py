from __future__ import annotations

from collections.abc import Callable

from waddlebot.core.parser import check_prefix
from waddlebot.core.permissions import Level
from waddlebot.modules.sdk import ArgSpec, CommandSpec, Context, Module, UsageError

SET_PREFIX_ACTION = "community.prefix"  # carried out by the router, for the core module only

Catalog = Callable[[], list[CommandSpec]]


def build_core_module(catalog: Catalog) -> Module:
    """``catalog`` lists every command the router knows, so help stays in step with it."""
    module = Module("core", version="1.0.0", description="Help and a liveness check")

    @module.command(
        "help",
        usage="[command]",
        description="Lists the commands you may use, or shows how to use one",
        args=(ArgSpec(name="command", description="a command name"),),
    )
    async def help_(ctx: Context) -> None:
        prefix = ctx.request.prefix or "!"
        allowed = [spec for spec in catalog() if spec.level <= ctx.caller_level]
        if not ctx.args:
            names = ", ".join(("#" if s.serverless else prefix) + s.name for s in allowed)
            ctx.reply(f"Commands you can use: {names}. Try {prefix}help <command>.")
            return
        given = ctx.args[0]
        # "help wave", "help !wave" and "help #wave" all mean wave; the bare name is tried
        # first, so with the prefix "w" "whelp wave" still finds wave (not "ave")
        specs = catalog()
        for name in (given, given.removeprefix(prefix), given.removeprefix("#")):
            spec = _find(specs, name.lower())
            if spec is not None:
                break
        if spec is not None and spec.level <= ctx.caller_level:
            about = f" - {spec.description}" if spec.description else ""
            ctx.reply(f"Usage: {spec.usage_line(prefix)}{about}")
            return
        shown = given.removeprefix(prefix).removeprefix("#") or given
        raise UsageError(f"there is no command {prefix}{shown.lower()} you can use")

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
        ctx.action(SET_PREFIX_ACTION, prefix=new)
        ctx.reply(f"Commands here now start with {new}, as in {new}help")

    return module


def _find(specs: list[CommandSpec], name: str) -> CommandSpec | None:
    return next((s for s in specs if name == s.name or name in s.aliases), None)
