"""The built-in ``calendar`` module: ``!event`` (``!events``) add, list, next, show, join,
leave, cancel, approve, reject, reminders and feed. Reminders are posted by the scheduler
(features/calendar/reminders.py), not by this module.

- everyone adds events (a moderator's, or one by someone with the label
  ``event-autoapprove``, is approved at once; the others wait for a moderator), lists them,
  joins and leaves them, and cancels their own;
- moderators approve, reject, cancel any event and list the pending ones;
- admins set the reminder times and get the calendar feed's link.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from waddlebot.core.language import ZoneOf, format_moment, span
from waddlebot.core.permissions import Level
from waddlebot.features.calendar.events import (
    DEFAULT_DURATION,
    CalendarError,
    CalendarService,
    EventInfo,
    NewEvent,
    UnknownEvent,
)
from waddlebot.features.calendar.feed import FeedService, feed_path
from waddlebot.features.calendar.parsing import EventSyntaxError, parse_add, parse_offsets
from waddlebot.features.calendar.recurrence import RecurrenceError, describe, make_rule
from waddlebot.sdk import (
    Context,
    Module,
    UsageError,
    joined,
    usage_unless_refusal,
)
from waddlebot.sdk.subcommand import SubcommandCall, add_subcommands

USAGE = (
    'add "<title>" <when> [duration] [weekly|monthly] [-max=N] [description] | '
    "list [pending] | next | show <id> | join <id> | leave <id> | cancel <id> | "
    "approve <id> [reason] | reject <id> [reason] | reminders [<before> ...|off] | "
    "feed [rotate|off]"
)


def build_calendar_module(
    events: CalendarService, feeds: FeedService, zone: ZoneOf, base_url: str
) -> Module:
    """``base_url``: where people reach this bot's HTTP API, for the feed's link."""
    module = Module(
        "calendar", version="1.0.0", description="The community's events, reminders and feed"
    )

    add_subcommands(
        module,
        "event",
        _HANDLERS,
        lambda ctx: _Call(ctx, events, feeds, zone, base_url.rstrip("/")),
        aliases=("events",),
        usage=USAGE,
        description="Lists, adds and joins events; moderators approve them",
    )

    return module


class _Call(SubcommandCall):
    """One ``!event`` subcommand, with the services."""

    def __init__(
        self,
        ctx: Context,
        events: CalendarService,
        feeds: FeedService,
        zone: ZoneOf,
        base_url: str,
    ) -> None:
        super().__init__(ctx)
        self.events = events
        self.feeds = feeds
        self.zone = zone
        self.base_url = base_url

    @property
    def now(self) -> datetime:
        return self.events.clock.now()

    def event_id(self, more: bool = False) -> int:
        """The ``<id>`` right after the verb (``3`` or ``#3``)."""
        if not self.args:
            raise UsageError(f"which event? e.g. {self.prefix}event {self.verb} 3")
        if len(self.args) > 1 and not more:
            raise UsageError(f"just the event's number, e.g. {self.prefix}event {self.verb} 3")
        given = self.args[0].removeprefix("#")
        if not given.isdigit() or not 0 < int(given) < 2**31:
            raise UsageError(
                f"{self.args[0]!r} is not an event number; see {self.prefix}event list"
            )
        return int(given)

    def at(self, event: EventInfo, moment: datetime) -> str:
        return format_moment(moment, event.zone, self.now)


async def _add(call: _Call) -> None:
    user_id = call.user_id()
    zone = await call.zone(call.community_id)
    try:
        wanted = parse_add(call.args, call.now, zone, call.prefix)
        rule = make_rule(wanted.frequency, wanted.interval) if wanted.frequency else ""
    except (EventSyntaxError, RecurrenceError) as exc:
        raise UsageError(str(exc)) from exc
    new = NewEvent(
        title=wanted.title,
        starts_at=wanted.when.at,
        timezone=zone.key,
        duration_minutes=wanted.duration or DEFAULT_DURATION,
        rrule=rule,
        capacity=wanted.capacity,
        description=wanted.description,
        entity_id=call.ctx.request.entity_id,
    )
    try:
        event = await call.events.add(
            call.community_id,
            new,
            creator_user_id=user_id,
            creator_name=call.me,
            level=call.ctx.caller_level,
            actor=call.ctx.actor,
        )
    except CalendarError as exc:
        usage_unless_refusal(exc)
    if event.status == "approved":
        call.ctx.reply(
            f"Added event #{event.id}: {_summary(call, event, event.starts_at)}. "
            f"Join with {call.prefix}event join {event.id}"
        )
    else:
        call.ctx.reply(
            f"Event #{event.id} ({_summary(call, event, event.starts_at)}) waits for a "
            "moderator's approval."
        )


async def _list(call: _Call) -> None:
    if call.args and [a.lower() for a in call.args] != ["pending"]:
        raise UsageError("list takes pending, or nothing")
    if call.args:
        if not call.allowed("list the events waiting for approval"):
            return
        waiting = await call.events.pending(call.community_id)
        if not waiting:
            call.ctx.reply("No events wait for approval.")
            return
        shown = [
            f"#{e.id} {e.title}, {call.at(e, e.starts_at)}, by {e.creator_name or 'someone'}"
            for e in waiting
        ]
        call.ctx.reply(f"Waiting for approval: {joined(shown)}")
        return
    upcoming = await call.events.upcoming(call.community_id, call.now)
    if not upcoming:
        call.ctx.reply("No upcoming events.")
        return
    shown = [
        f"#{e.id} {e.title}, {call.at(e, start)}" + (f" ({describe(e.rrule)})" if e.rrule else "")
        for e, start in upcoming
    ]
    call.ctx.reply(f"Upcoming: {joined(shown)}")


async def _next(call: _Call) -> None:
    if call.args:
        raise UsageError("next takes nothing after it")
    upcoming = await call.events.upcoming(call.community_id, call.now)
    if not upcoming:
        call.ctx.reply("No upcoming events.")
        return
    event, start = upcoming[0]
    when = "on now" if start <= call.now else f"in {span(start - call.now, words=True)}"
    call.ctx.reply(
        f"Next: #{event.id} {_summary(call, event, start)} ({when}). {_going(event)}. "
        f"Join with {call.prefix}event join {event.id}"
    )


async def _show(call: _Call) -> None:
    event = await _get(call, call.event_id())
    start = event.next_start(call.now) or event.starts_at
    status = "" if event.status == "approved" else f", {event.status}"
    if event.status == "rejected" and event.reason:
        status += f" ({event.reason})"
    names = await call.events.attendees(call.community_id, event.id)
    going = f"{_going(event)}: {joined(names)}" if names else _going(event)
    about = f" {event.description}" if event.description else ""
    call.ctx.reply(
        f"#{event.id} {_summary(call, event, start)}{status}. Added by "
        f"{event.creator_name or 'someone'}. {going}.{about}"
    )


async def _join(call: _Call) -> None:
    event_id = call.event_id()
    event, joined_now = await call.events.join(
        call.community_id, event_id, call.user_id(), call.me, actor=call.ctx.actor
    )
    start = event.next_start(call.now) or event.starts_at
    if joined_now:
        call.ctx.reply(
            f"{call.me}, you're going to {event.title} (#{event.id}, {call.at(event, start)}). "
            f"{_going(event)}."
        )
    else:
        call.ctx.reply(f"{call.me}, you're on the list for {event.title} already.")


async def _leave(call: _Call) -> None:
    event, left = await call.events.leave(
        call.community_id, call.event_id(), call.user_id(), actor=call.ctx.actor
    )
    if left:
        call.ctx.reply(f"{call.me}, you're off the list for {event.title}.")
    else:
        call.ctx.reply(f"{call.me}, you weren't on the list for {event.title}.")


async def _cancel(call: _Call) -> None:
    caller = call.ctx.request.caller
    event, going = await call.events.cancel(
        call.community_id,
        call.event_id(),
        user_id=caller.user_id if caller else None,
        level=call.ctx.caller_level,
        actor=call.ctx.actor,
    )
    were = f" {', '.join(going)} {'was' if len(going) == 1 else 'were'} going." if going else ""
    call.ctx.reply(f"Cancelled event #{event.id}: {event.title}.{were}")


async def _decide(call: _Call, approve: bool) -> None:
    verb = "approve" if approve else "reject"
    if not call.allowed(f"{verb} events"):
        return
    event_id = call.event_id(more=True)
    reason = " ".join(call.args[1:])
    event = await call.events.decide(
        call.community_id,
        event_id,
        approve,
        reason=reason,
        decider=call.me,
        actor=call.ctx.actor,
    )
    by = f" (added by {event.creator_name})" if event.creator_name else ""
    why = f": {event.reason}" if event.reason else ""
    if approve:
        call.ctx.reply(
            f"Approved event #{event.id}: {_summary(call, event, event.starts_at)}{by}{why}."
        )
    else:
        call.ctx.reply(f"Rejected event #{event.id}: {event.title}{by}{why}.")


async def _approve(call: _Call) -> None:
    await _decide(call, True)


async def _reject(call: _Call) -> None:
    await _decide(call, False)


async def _reminders(call: _Call) -> None:
    if not call.args:
        offsets = await call.events.reminders(call.community_id)
        call.ctx.reply(_reminders_text(offsets))
        return
    if not call.allowed("set the reminders", Level.ADMIN):
        return
    try:
        wanted = parse_offsets(call.args)
    except EventSyntaxError as exc:
        raise UsageError(str(exc)) from exc
    try:
        offsets = await call.events.set_reminders(call.community_id, wanted, actor=call.ctx.actor)
    except CalendarError as exc:
        raise UsageError(str(exc)) from exc
    call.ctx.reply(_reminders_text(offsets))


async def _feed(call: _Call) -> None:
    if not call.allowed("manage the calendar feed", Level.ADMIN):
        return
    choice = " ".join(call.args).lower()
    if choice not in ("", "rotate", "off"):
        raise UsageError("feed takes rotate, off, or nothing")
    if choice == "off":
        if await call.feeds.revoke(call.community_id, actor=call.ctx.actor):
            call.ctx.reply("The calendar feed is off; its link no longer works.")
        else:
            call.ctx.reply("There is no calendar feed to turn off.")
        return
    made = await call.feeds.made_at(call.community_id)
    if made is not None and choice != "rotate":
        zone = await call.zone(call.community_id)
        call.ctx.reply(
            f"The calendar feed has a link since {format_moment(made, zone, call.now)}"
            f"; it is shown once. {call.prefix}event feed rotate makes a new one (the old link "
            "stops working)."
        )
        return
    token = await call.feeds.rotate(call.community_id, actor=call.ctx.actor)
    call.ctx.direct(
        f"The calendar feed of this community: {call.base_url}"
        f"{feed_path(call.community_id, token)} . Subscribe to it in Google Calendar "
        "(Other calendars, From URL) or Thunderbird (New Calendar, On the Network). Keep it "
        "secret: anyone with the link sees the events."
    )
    replaced = " The old link no longer works." if made is not None else ""
    call.ctx.reply(f"{call.me}, I sent you the calendar feed's link by private message.{replaced}")


_HANDLERS: dict[str, Callable[[_Call], Awaitable[None]]] = {
    "add": _add,
    "list": _list,
    "next": _next,
    "show": _show,
    "join": _join,
    "leave": _leave,
    "cancel": _cancel,
    "approve": _approve,
    "reject": _reject,
    "reminders": _reminders,
    "feed": _feed,
}


async def _get(call: _Call, event_id: int) -> EventInfo:
    event = await call.events.get(call.community_id, event_id)
    if event is None:
        raise UnknownEvent(event_id)
    return event


def _summary(call: _Call, event: EventInfo, start: datetime) -> str:
    """``Movie night, Fri 5 Dec 20:00 CET, 2h, weekly``."""
    parts = [
        event.title,
        call.at(event, start),
        span(timedelta(minutes=event.duration_minutes), exact=True),
    ]
    if event.rrule:
        parts.append(describe(event.rrule))
    return ", ".join(parts)


def _going(event: EventInfo) -> str:
    of = f" of {event.capacity}" if event.capacity is not None else ""
    return f"{event.going}{of} going"


def _reminders_text(offsets: list[int]) -> str:
    if not offsets:
        return "No reminders are sent before events."
    before = [span(timedelta(minutes=m), words=True) for m in offsets]
    listed = before[0] if len(before) == 1 else f"{', '.join(before[:-1])} and {before[-1]}"
    return f"The people going to an event are reminded {listed} before it starts."
