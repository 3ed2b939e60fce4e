"""The built-in ``timers`` module: ``!timer add|list|show|remove|enable|disable`` (``!timers``
is the same command), and listening to streams going live or offline. Posting the timers is
the scheduler's job (features/timers/service.py), not this module's."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from waddlebot.core.events import EventType
from waddlebot.core.language import split_word, words_after
from waddlebot.core.permissions import Level
from waddlebot.core.variables import truncate
from waddlebot.features.timers.parsing import TimerSyntaxError, parse_add
from waddlebot.features.timers.service import (
    LIVE_PLATFORMS,
    TimerError,
    TimerInfo,
    TimerService,
    UnknownTimer,
    check_name,
)
from waddlebot.sdk import (
    Context,
    Module,
    UsageError,
    sentence,
    usage_unless_refusal,
)
from waddlebot.sdk.subcommand import add_subcommands, nothing_after, reply_list

USAGE = (
    "add <name> <minutes> [-lines=N] <message> | list | show <name> | remove <name> | "
    "enable <name> | disable <name>"
)
MAX_REPLY = 500
MAX_LISTED = 400


def build_timers_module(service: TimerService) -> Module:
    module = Module(
        "timers",
        version="1.0.0",
        description="Messages posted every so many minutes while the stream is live",
    )

    add_subcommands(
        module,
        "timer",
        _HANDLERS,
        lambda ctx: _Call(ctx, service),
        aliases=("timers",),
        usage=USAGE,
        description="Lists and shows timers; moderators add, remove, enable and disable them",
    )

    @module.on(EventType.STREAM_ONLINE, EventType.STREAM_OFFLINE)
    async def stream(ctx: Context) -> None:
        live = ctx.request.event_type is EventType.STREAM_ONLINE
        await service.set_live(ctx.request.entity_id, live, at=ctx.request.occurred_at)

    return module


class _Call:
    """One ``!timer`` subcommand: who asks, where, and the raw text after the subcommand."""

    def __init__(self, ctx: Context, service: TimerService) -> None:
        request = ctx.request
        self.ctx = ctx
        self.service = service
        self.community_id = request.community_id
        self.entity_id = request.entity_id
        self.prefix = request.prefix or "!"
        raw = request.raw_text.strip()
        if not (raw and request.prefix and raw.startswith(request.prefix)):  # rebuild it
            raw = " ".join([f"{self.prefix}{request.command}", *request.args])
        self.rest = words_after(raw, 2)

    def allowed(self, doing: str) -> bool:
        if self.ctx.caller_level >= Level.MODERATOR:
            return True
        self.ctx.reply(f"Only moderators and up can {doing} timers.")
        return False

    def name(self, doing: str) -> str:
        """The one word after the subcommand: a timer name."""
        name, more = split_word(self.rest)
        if not name:
            raise UsageError(f"which timer? e.g. {self.prefix}timer {doing} rules")
        if more.strip():
            raise UsageError(f"just the timer's name, e.g. {self.prefix}timer {doing} {name}")
        try:
            return check_name(name)
        except TimerError as exc:
            raise UsageError(str(exc)) from exc


async def _add(call: _Call) -> None:
    if not call.allowed("add"):
        return
    try:
        wanted = parse_add(call.rest, call.prefix)
        info = await call.service.add(
            call.community_id,
            call.entity_id,
            wanted.name,
            wanted.minutes,
            wanted.message,
            min_lines=wanted.min_lines,
            actor=call.ctx.actor,
        )
    except (TimerSyntaxError, TimerError) as exc:
        usage_unless_refusal(exc)
    live = (
        " It posts while the stream is live." if call.ctx.request.platform in LIVE_PLATFORMS else ""
    )
    call.ctx.reply(f"Added timer {info.name} ({_summary(info, call.entity_id)}).{live}")


async def _list(call: _Call) -> None:
    nothing_after(call.rest, "list")
    timers = await call.service.list(call.community_id)
    shown = [f"{t.name} ({_summary(t, call.entity_id)})" for t in timers]
    reply_list(call.ctx, "Timers", shown, "No timers yet.", MAX_LISTED)


async def _show(call: _Call) -> None:
    name = call.name("show")
    info = await call.service.get(call.community_id, name)
    if info is None:
        call.ctx.reply(sentence(str(UnknownTimer(name))))
        return
    text = f"Timer {info.name} ({_summary(info, call.entity_id)}): {info.message}"
    call.ctx.reply(truncate(text, MAX_REPLY))


async def _remove(call: _Call) -> None:
    if not call.allowed("remove"):
        return
    name = call.name("remove")
    await call.service.remove(call.community_id, name, actor=call.ctx.actor)
    call.ctx.reply(f"Removed timer {name}.")


async def _switch(call: _Call, on: bool) -> None:
    doing = "enable" if on else "disable"
    if not call.allowed(doing):
        return
    name = call.name(doing)
    switch = call.service.enable if on else call.service.disable
    changed = await switch(call.community_id, name, actor=call.ctx.actor)
    done = f"{doing}d"
    if changed:
        call.ctx.reply(f"{done.capitalize()} timer {name}.")
    else:
        call.ctx.reply(f"Timer {name} is {done} already.")


async def _enable(call: _Call) -> None:
    await _switch(call, True)


async def _disable(call: _Call) -> None:
    await _switch(call, False)


_HANDLERS: dict[str, Callable[[_Call], Awaitable[None]]] = {
    "list": _list,
    "show": _show,
    "add": _add,
    "remove": _remove,
    "delete": _remove,
    "enable": _enable,
    "disable": _disable,
}


def _summary(info: TimerInfo, here: str) -> str:
    """``every 15 min, after 10 chat lines, disabled, in twitch:1337`` (the place only when
    it is not where the question was asked)."""
    parts = [f"every {info.interval_minutes} min"]
    if info.min_lines:
        parts.append(f"after {info.min_lines} chat line{'' if info.min_lines == 1 else 's'}")
    if not info.enabled:
        parts.append("disabled")
    if info.entity_id != here:
        parts.append(f"in {info.entity_id}")
    return ", ".join(parts)
