from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from waddlebot.core.language import WhenError, parse_duration, read_duration, within
from waddlebot.core.permissions import Level
from waddlebot.features.labels.service import (
    AssignmentInfo,
    DuplicateLabel,
    InvalidLabel,
    LabelInfo,
    LabelLevelRefused,
    LabelLimitReached,
    LabelService,
    UnknownLabel,
    check_name,
    level_name,
)
from waddlebot.sdk import (
    Context,
    FindUser,
    Module,
    UsageError,
    joined,
    mentioned_user,
)
from waddlebot.sdk.subcommand import SubcommandCall, add_subcommands, nothing_after, reply_list

USAGE = (
    "list | show <user> | create <name> [#colour] [level] [description] | delete <name> | "
    "add <user> <label> [for 7d] | remove <user> <label>"
)
MAX_DURATION = timedelta(days=3650)


def build_labels_module(labels: LabelService, find_user: FindUser) -> Module:
    """``find_user`` resolves a ``@mention`` or login on the caller's platform to a user."""
    module = Module("labels", version="1.0.0", description="Labels for people in the community")

    add_subcommands(
        module,
        "label",
        _HANDLERS,
        lambda ctx: _Call(ctx, labels, find_user),
        usage=USAGE,
        description="Lists, shows and (moderators and admins) hands out labels",
    )
    return module


class _Call(SubcommandCall):
    """One ``!label`` invocation: the context, the service and a few helpers."""

    def __init__(self, ctx: Context, labels: LabelService, find_user: FindUser) -> None:
        super().__init__(ctx)
        self.labels = labels
        self.find_user = find_user

    @property
    def actor(self) -> str:
        return self.ctx.actor

    def permitted(self, level: Level, doing: str) -> bool:
        if self.ctx.caller_level >= level:
            return True
        who = "admins and the owner" if level >= Level.ADMIN else "moderators and up"
        self.ctx.reply(f"Only {who} can {doing}.")
        return False

    async def user(self, given: str) -> tuple[int | None, str]:
        return await mentioned_user(self.ctx, self.find_user, given)

    def label_name(self, given: str) -> str:
        try:
            return check_name(given)
        except InvalidLabel as exc:
            raise UsageError(str(exc)) from exc

    def unknown(self, name: str) -> None:
        self.ctx.reply(f"There is no label {name} here. See {self.prefix}label list.")


async def _list(call: _Call) -> None:
    nothing_after(call.args, "list")
    found = await call.labels.list(call.community_id)
    reply_list(call.ctx, "Labels", [_described(label) for label in found], "No labels yet.")


async def _show(call: _Call) -> None:
    if len(call.args) != 1:
        raise UsageError(f"whose labels? e.g. {call.prefix}label show @bob")
    user_id, shown = await call.user(call.args[0])
    if user_id is None:
        return
    held = await call.labels.labels_of(call.community_id, "user", str(user_id))
    if not held:
        call.ctx.reply(f"{shown} has no labels.")
        return
    call.ctx.reply(f"{shown} has: {joined([_held(assignment) for assignment in held])}")


async def _create(call: _Call) -> None:
    if not call.permitted(Level.ADMIN, "create labels"):
        return
    if not call.args:
        raise UsageError(f"name the label, e.g. {call.prefix}label create vip-friend")
    name = call.label_name(call.args[0])
    rest = call.args[1:]
    colour = ""
    if rest and rest[0].startswith("#"):
        colour, rest = rest[0], rest[1:]
    grants: int | None = None
    if rest and (level := _level(rest[0])) is not None:
        grants, rest = level, rest[1:]
    try:
        info = await call.labels.create(
            call.community_id,
            name,
            colour=colour,
            description=" ".join(rest),
            grants_level=grants,
            actor=call.actor,
            actor_level=call.ctx.caller_level,
        )
    except InvalidLabel as exc:
        raise UsageError(str(exc)) from exc
    except LabelLevelRefused as exc:
        call.ctx.reply(
            f"{name} would grant {level_name(exc.grants_level)}; you can only create labels "
            "that grant a level below your own."
        )
        return
    except DuplicateLabel:
        call.ctx.reply(f"There is already a label {name} here.")
        return
    except LabelLimitReached as exc:
        call.ctx.reply(f"This community already has {exc.limit} labels (the limit here).")
        return
    call.ctx.reply(f"Created label {_described(info)}.")


async def _delete(call: _Call) -> None:
    if not call.permitted(Level.ADMIN, "delete labels"):
        return
    if len(call.args) != 1:
        raise UsageError(f"which label? e.g. {call.prefix}label delete vip-friend")
    name = call.label_name(call.args[0])
    try:
        await call.labels.delete(
            call.community_id, name, call.actor, actor_level=call.ctx.caller_level
        )
    except UnknownLabel:
        call.unknown(name)
        return
    except LabelLevelRefused as exc:
        call.ctx.reply(_refused(exc, "delete"))
        return
    call.ctx.reply(f"Deleted label {name}.")


async def _add(call: _Call) -> None:
    if not call.permitted(Level.MODERATOR, "add labels"):
        return
    args = call.args
    if len(args) < 2:
        raise UsageError(f"e.g. {call.prefix}label add @bob helper, or ... helper for 7d")
    name = call.label_name(args[1])
    expires_at: datetime | None = None
    if args[2:]:
        expires_at = call.labels.clock.now() + _lasting(args[2:], call.prefix)
    user_id, shown = await call.user(args[0])
    if user_id is None:
        return
    try:
        assignment = await call.labels.apply(
            call.community_id,
            name,
            "user",
            str(user_id),
            actor=call.actor,
            expires_at=expires_at,
            actor_level=call.ctx.caller_level,
        )
    except UnknownLabel:
        call.unknown(name)
        return
    except LabelLevelRefused as exc:
        call.ctx.reply(_refused(exc, "add"))
        return
    except LabelLimitReached as exc:
        call.ctx.reply(f"{shown} already has {exc.limit} labels (the limit here).")
        return
    until = f" until {_when(assignment.expires_at)}" if assignment.expires_at else ""
    call.ctx.reply(f"{shown} now has {name}{until}.")


async def _remove(call: _Call) -> None:
    if not call.permitted(Level.MODERATOR, "remove labels"):
        return
    if len(call.args) != 2:
        raise UsageError(f"e.g. {call.prefix}label remove @bob helper")
    name = call.label_name(call.args[1])
    user_id, shown = await call.user(call.args[0])
    if user_id is None:
        return
    try:
        removed = await call.labels.remove(
            call.community_id,
            name,
            "user",
            str(user_id),
            call.actor,
            actor_level=call.ctx.caller_level,
        )
    except UnknownLabel:
        call.unknown(name)
        return
    except LabelLevelRefused as exc:
        call.ctx.reply(_refused(exc, "remove"))
        return
    if removed:
        call.ctx.reply(f"{shown} no longer has {name}.")
    else:
        call.ctx.reply(f"{shown} does not have {name}.")


_HANDLERS: dict[str, Callable[[_Call], Awaitable[None]]] = {
    "list": _list,
    "show": _show,
    "create": _create,
    "delete": _delete,
    "add": _add,
    "remove": _remove,
}


def _lasting(words: list[str], prefix: str) -> timedelta:
    """How long a label is given for: ``7d``, ``for 7d``, ``for 2 weeks``."""
    if words[0].lower() == "for":
        words = words[1:]
        if not words:
            raise UsageError("for how long? e.g. for 7d, 12h or 30m")
    try:
        if len(words) == 1:
            return parse_duration(words[0], MAX_DURATION)
        found = read_duration(words)
        if found is None or found[1] < len(words):
            raise UsageError(f"e.g. {prefix}label add @bob helper, or ... helper for 7d")
        return within(found[0], " ".join(words), MAX_DURATION)
    except WhenError as exc:
        raise UsageError(str(exc)) from exc


def _level(text: str) -> int | None:
    """A permission level written as a name (``vip``, ``mod``) or its exact number."""
    if text.isdigit():
        if int(text) not in {int(level) for level in Level}:
            levels = ", ".join(str(int(level)) for level in Level)
            raise UsageError(f"{text} is not a level; the levels are {levels}")
        return int(text)
    try:
        return int(Level.parse(text))
    except ValueError:
        return None


def _refused(exc: LabelLevelRefused, doing: str) -> str:
    granted = level_name(exc.grants_level)
    return f"{exc.name} grants {granted}; only someone above {granted} level can {doing} it."


def _described(label: LabelInfo) -> str:
    if label.grants_level is None:
        return label.name
    return f"{label.name} (grants {level_name(label.grants_level)})"


def _held(assignment: AssignmentInfo) -> str:
    if assignment.expires_at is None:
        return assignment.label.name
    return f"{assignment.label.name} (until {_when(assignment.expires_at)})"


def _when(moment: datetime) -> str:
    """``2026-12-01`` at midnight UTC, else ``2026-12-01 18:30 UTC``."""
    moment = moment.astimezone(UTC)
    if (moment.hour, moment.minute, moment.second) == (0, 0, 0):
        return f"{moment:%Y-%m-%d}"
    return f"{moment:%Y-%m-%d %H:%M} UTC"
