"""Recurring events: one row with an RFC 5545 RRULE (``FREQ=WEEKLY`` or ``FREQ=MONTHLY``,
maybe ``INTERVAL=2``), expanded on the fly, never one row per occurrence.

Occurrences keep their wall-clock time in the event's own time zone: a weekly 20:00 in
Europe/Berlin stays 20:00 across the switch to summer time (its UTC time moves by an hour).
A monthly event on the 31st skips the months that have no 31st, as RFC 5545 says and as
calendar apps reading the feed do too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr

from waddlebot.core.errors import UserError

FREQUENCIES = {"weekly": "WEEKLY", "monthly": "MONTHLY"}
MAX_INTERVAL = 12
_RULE = re.compile(r"^FREQ=(WEEKLY|MONTHLY)(?:;INTERVAL=(\d{1,2}))?$")
_UNITS = {"WEEKLY": "week", "MONTHLY": "month"}


class RecurrenceError(UserError):
    """A repeat that is not weekly or monthly, or an interval out of range."""


def make_rule(frequency: str, interval: int = 1) -> str:
    """``FREQ=WEEKLY``, ``FREQ=MONTHLY;INTERVAL=3``..."""
    freq = FREQUENCIES.get(frequency.lower())
    if freq is None:
        raise RecurrenceError("an event repeats weekly or monthly")
    if not 1 <= interval <= MAX_INTERVAL:
        raise RecurrenceError(f"an event repeats every 1 to {MAX_INTERVAL} weeks or months")
    return f"FREQ={freq}" + (f";INTERVAL={interval}" if interval > 1 else "")


def split_rule(rule: str) -> tuple[str, int]:
    """``("weekly", 2)`` for ``FREQ=WEEKLY;INTERVAL=2``."""
    match = _RULE.match(rule)
    if match is None:
        raise RecurrenceError(f"not a rule this calendar writes: {rule!r}")
    return match[1].lower(), int(match[2] or 1)


def describe(rule: str) -> str:
    """``weekly``, ``every 2 weeks``, ``monthly``, ``every 3 months``; empty for no rule."""
    if not rule:
        return ""
    frequency, interval = split_rule(rule)
    if interval == 1:
        return frequency
    return f"every {interval} {_UNITS[frequency.upper()]}s"


def occurrences(start: datetime, zone: ZoneInfo, rule: str, after: datetime) -> Iterator[datetime]:
    """The starts (aware, UTC) of an event beginning at ``start``, from ``after`` on
    (included), in order. Endless for a recurring event: the caller stops."""
    if not rule:
        if start >= after:
            yield start
        return
    split_rule(rule)  # only rules this calendar writes
    local_start = start.astimezone(zone).replace(tzinfo=None)
    # a day early in wall-clock terms, then filtered exactly: UTC offsets differ by < 1 day
    local_after = max(after.astimezone(zone).replace(tzinfo=None) - timedelta(days=1), local_start)
    for local in rrulestr(rule, dtstart=local_start).xafter(local_after, inc=True):
        moment = local.replace(tzinfo=zone).astimezone(UTC)
        if moment >= after:
            yield moment


def next_occurrence(start: datetime, zone: ZoneInfo, rule: str, after: datetime) -> datetime | None:
    """The first start at or after ``after``; None when there is none (a single event that
    began before)."""
    return next(occurrences(start, zone, rule, after), None)


def current_or_next(
    start: datetime, zone: ZoneInfo, rule: str, minutes: int, now: datetime
) -> datetime | None:
    """The start of the occurrence that is on at ``now`` or comes next (one lasting
    ``minutes``); None when the event is over."""
    length = timedelta(minutes=minutes)
    return next((o for o in occurrences(start, zone, rule, now - length) if o + length > now), None)


def next_reminder(
    start: datetime,
    zone: ZoneInfo,
    rule: str,
    offsets: Sequence[int],
    after: datetime,
) -> datetime | None:
    """The first moment strictly after ``after`` that is ``offset`` minutes before an
    occurrence, for any of ``offsets``; None when there is none."""
    if not offsets:
        return None
    widest = timedelta(minutes=max(offsets))
    best: datetime | None = None
    for occurrence in occurrences(start, zone, rule, after):
        if best is not None and occurrence - widest > best:
            break  # later occurrences only give later reminders
        for minutes in offsets:
            moment = occurrence - timedelta(minutes=minutes)
            if moment > after and (best is None or moment < best):
                best = moment
    return best
