"""What a built-in module's ``!<command> <subcommand> ...`` needs whatever the command: its
registration (:func:`add_subcommands`), and for the ``!inventory`` and ``!event`` modules the
subcommand and the words after it, who asks, and whether their level allows what they ask."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from waddlebot.core.permissions import Level
from waddlebot.sdk import (
    Context,
    FindUser,
    Module,
    UsageError,
    joined,
    mentioned_user,
    pick_subcommand,
    sentence,
    subcommand_args,
)
from waddlebot.sdk.groups import who_may

Call = TypeVar("Call")


def add_subcommands(
    module: Module,
    name: str,
    handlers: Mapping[str, Callable[[Call], Awaitable[None]]],
    call: Callable[[Context], Call],
    *,
    refusals: tuple[type[Exception], ...] = (),
    explain: Callable[[Call, Exception], Awaitable[str]] | None = None,
    default: tuple[str, Callable[[Call], Awaitable[None]]] | None = None,
    **spec: Any,
) -> None:
    """Register the command ``name`` whose first argument picks one of ``handlers`` (in any
    case; a usage error lists them when it is missing or unknown); the handler gets
    ``call(ctx)``. One of ``refusals`` raised by the handler is answered as a sentence: its
    message, or what ``explain`` makes of it. ``default`` is a subcommand (its name and
    handler) taken when none is given, and accepted though not listed. ``spec`` holds the
    command's other fields (``usage``, ``aliases``...); its arguments are the subcommand and
    the rest unless given."""
    spec.setdefault("args", subcommand_args(handlers, required=default is None))

    @module.command(name, **spec)
    async def command(ctx: Context) -> None:
        given = ctx.args[0].lower() if ctx.args else None
        if default is not None and given in (None, default[0]):
            handler = default[1]
        else:
            handler = pick_subcommand(ctx, handlers)
        made = call(ctx)
        try:
            await handler(made)
        except refusals as exc:
            ctx.reply(sentence(await explain(made, exc) if explain else str(exc)))


def add_command(
    module: Module,
    name: str,
    handler: Callable[[Call], Awaitable[None]],
    call: Callable[[Context], Call],
    **spec: Any,
) -> None:
    """Register the command ``name``, answered by ``handler(call(ctx))``; ``spec`` holds the
    command's other fields (``usage``, ``aliases``, ``args``...)."""

    @module.command(name, **spec)
    async def command(ctx: Context) -> None:
        await handler(call(ctx))


def nothing_after(rest: object, verb: str) -> None:
    """A usage error unless ``rest``, what follows the subcommand ``verb``, is empty."""
    if rest:
        raise UsageError(f"{verb} takes nothing after it")


def reply_list(ctx: Context, heading: str, items: list[str], empty: str, limit: int = 400) -> None:
    """``<heading>: a, b, c`` (cut short past ``limit`` characters), or ``empty`` when there
    are none."""
    ctx.reply(f"{heading}: {joined(items, limit)}" if items else empty)


class SubcommandCall:
    """One subcommand: the context, the subcommand (``verb``) and the words after it."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.args = ctx.args[1:]
        self.verb = ctx.args[0].lower() if ctx.args else ""
        self.community_id = ctx.request.community_id
        self.prefix = ctx.request.prefix or "!"

    @property
    def actor(self) -> str:
        """The caller, as the audit log names them."""
        return self.ctx.actor

    @property
    def me(self) -> str:
        """The caller as a chat mention (their login where the platform has one)."""
        caller = self.ctx.request.caller
        return f"@{caller.identity.login or caller.name}" if caller else "@someone"

    def user_id(self) -> int:
        """The caller's WaddleBot user; UsageError when the platform did not say who it is."""
        caller = self.ctx.request.caller
        if caller is None or caller.user_id is None:
            raise UsageError("I don't know who you are here")
        return caller.user_id

    def permitted(self, level: Level, doing: str, who: str = "") -> bool:
        """Whether the caller's level is ``level`` or more; if not, they are told who may
        (``Only admins and the owner can <doing>.``; ``who`` says it otherwise)."""
        if self.ctx.caller_level >= level:
            return True
        self.ctx.reply(f"Only {who or who_may(level)} can {doing}.")
        return False

    def allowed(self, doing: str, level: Level = Level.MODERATOR) -> bool:
        """Whether the caller's level is ``level`` or more; if not, they are told so."""
        if self.ctx.caller_level >= level:
            return True
        who = "moderators" if level == Level.MODERATOR else "admins"
        self.ctx.reply(f"Only {who} and up can {doing}.")
        return False


class MentioningCall(SubcommandCall):
    """A subcommand that may name people (``@bob``, or a login on the caller's platform)."""

    def __init__(self, ctx: Context, find_user: FindUser) -> None:
        super().__init__(ctx)
        self.find_user = find_user

    async def user(self, given: str) -> tuple[int | None, str]:
        """The person ``given`` names and how chat mentions them (:func:`mentioned_user`)."""
        return await mentioned_user(self.ctx, self.find_user, given)
