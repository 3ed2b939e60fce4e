"""``!remind me|here|#channel <when> <text>``, ``!remind cancel <n>``, ``!remind list`` and
``!reminders``. When is ``in 10m``, ``at 18:30``, ``every monday 20:00`` or ``every day 20:00``
(docs/commands.md, "Times and durations")."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from waddlebot.core.language import WEEKDAYS, span
from waddlebot.core.variables import truncate
from waddlebot.features.memories.chat.call import Call, guarded, split_word, the_number
from waddlebot.features.memories.reminders import parse_when
from waddlebot.features.memories.service import Place, ReminderInfo
from waddlebot.sdk import UsageError, joined

USAGE = (
    "me|here|#channel in 10m|at 18:30|every monday 20:00|every day 20:00 <text> | cancel <n> | list"
)
MAX_REPLY = 500
MAX_LISTED = 400


def shown(reminder: ReminderInfo, here: str, now: datetime) -> str:
    """``#2 every Monday at 20:00 UTC, here: raid time``."""
    return f"#{reminder.number} {when(reminder, now)}, {where(reminder, here)}: {reminder.text}"


def when(reminder: ReminderInfo, now: datetime) -> str:
    described = describe(
        reminder.repeat,
        reminder.weekday,
        reminder.time_of_day,
        reminder.due_at,
        reminder.zone,
        now,
    )
    if reminder.repeat == "once":
        described += f" (in {span(reminder.due_at - now)})"
    return described


def describe(
    repeat: str,
    weekday: int | None,
    time_of_day: str,
    due_at: datetime,
    zone: ZoneInfo,
    now: datetime,
) -> str:
    """``every Monday at 20:00 UTC``, ``every day at ...``, ``today at 18:30 Europe/Berlin``,
    ``tomorrow at ...``, ``on 2026-01-05 at ...``."""
    local = due_at.astimezone(zone)
    if repeat == "daily":
        return f"every day at {time_of_day} {zone.key}"
    if repeat == "weekly" and weekday is not None:
        return f"every {WEEKDAYS[weekday].capitalize()} at {time_of_day} {zone.key}"
    days = (local.date() - now.astimezone(zone).date()).days
    day = {0: "today", 1: "tomorrow"}.get(days, f"on {local:%Y-%m-%d}")
    return f"{day} at {local:%H:%M} {zone.key}"


def where(reminder: ReminderInfo, here: str) -> str:
    if reminder.private:
        return "by private message"
    return "here" if reminder.entity_id == here else f"in {reminder.entity_id}"


async def remind(call: Call) -> None:
    target, call.rest = split_word(call.rest)
    lowered = target.lower()
    if lowered == "cancel":
        await guarded(call, _cancel)
    elif lowered == "list":
        if call.rest:
            raise UsageError("list takes nothing after it")
        await reminders(call)
    elif lowered in ("me", "here") or target.startswith(("#", "<#")):

        async def set_for_target(call: Call) -> None:
            await _set(call, target)

        await guarded(call, set_for_target)
    else:
        example = call.example("remind me in 10m stretch")
        raise UsageError(f"remind whom? me, here or a #channel, {example}" if target else example)


async def _set(call: Call, target: str) -> None:
    request = call.ctx.request
    here = Place(request.entity_id, request.platform, request.channel_id)
    to_user = ""
    place: Place | None = here
    if target.lower() == "me":
        to_user = request.caller.identity.user_id if request.caller else ""
    elif target.lower() != "here":
        place = await call.memories.reminders.place_named(
            call.community_id, request.platform, target
        )
    when_, text = parse_when(call.rest)
    if not text:
        whom = "you" if to_user else "them"
        raise UsageError(f"what should I remind {whom} of? {call.example('remind me in 10m tea')}")
    if place is None:
        call.say(f"I know no channel {target} on {request.platform} in this community")
        return
    added = await call.memories.reminders.add(
        call.community_id, place, when_, text, author=call.author, to_user=to_user
    )
    now = call.memories.reminders.clock.now()
    call.say(f"Reminder #{added.number}: {when(added, now)}, {where(added, request.entity_id)}")


async def _cancel(call: Call) -> None:
    number = the_number(call, "reminder", "remind cancel 2")
    await call.memories.reminders.cancel(call.community_id, number, author=call.author)
    call.say(f"Cancelled reminder #{number}")


async def reminders(call: Call) -> None:
    """``!reminders``: the reminders for places, and the caller's own."""
    if call.rest:
        raise UsageError("nothing goes after it")
    found = await call.memories.reminders.list(call.community_id, viewer=call.author)
    if not found:
        call.say(f"No reminders set. Set one with {call.prefix}remind me in 10m <text>")
        return
    now = call.memories.reminders.clock.now()
    here = call.ctx.request.entity_id
    listed = joined([shown(reminder, here, now) for reminder in found], MAX_LISTED)
    call.ctx.reply(truncate(f"Reminders: {listed}", MAX_REPLY))


SUBCOMMANDS = ("me", "here", "#channel", "cancel", "list")
