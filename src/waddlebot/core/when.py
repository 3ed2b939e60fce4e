"""What reading and showing times people type has in common, for reminders
(features/memories/when.py) and calendar events (features/calendar/when.py): a community's
time zone, weekday names, clock times (``18:30``, ``6pm``, ``6:30 pm``), wall-clock times in a
zone, and moments as chat shows them.

Each of the two keeps its own grammar around these pieces (``in 10m`` and ``every monday``
for reminders; a day and a time for events), and its own messages for what it cannot read.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

ZoneOf = Callable[[int], Awaitable[ZoneInfo]]
"""A community's time zone (``CommunityService.timezone``: its ``!community timezone``)."""

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
WEEKDAY_NUMBERS = {
    name: number
    for number, names in enumerate(
        (
            ("monday", "mon"),
            ("tuesday", "tue", "tues"),
            ("wednesday", "wed"),
            ("thursday", "thu", "thur", "thurs"),
            ("friday", "fri"),
            ("saturday", "sat"),
            ("sunday", "sun"),
        )
    )
    for name in names
}
"""A weekday's name, whole or short, in lower case: its number (0 is Monday)."""

HALVES = ("am", "pm")
_CLOCK = re.compile(r"^(\d{1,2})(?::(\d{2}))?(am|pm)?$")
_BARE = re.compile(r"^\d{1,2}(?::\d{2})?$")


@dataclass(frozen=True, slots=True)
class ClockTime:
    """A clock time as written, not yet checked: ``6:30pm`` is 6, 30, "pm"."""

    hour: int
    minute: int
    half: str  # "am", "pm", or "" for the 24-hour clock

    def time(self) -> time | None:
        """The time of day; None when the hour or the minute is out of range (0 to 23, or
        1 to 12 with am or pm; 0 to 59)."""
        if self.half:
            if not 1 <= self.hour <= 12 or self.minute > 59:
                return None
            return time(self.hour % 12 + (12 if self.half == "pm" else 0), self.minute)
        if self.hour > 23 or self.minute > 59:
            return None
        return time(self.hour, self.minute)


def read_clock(word: str) -> ClockTime | None:
    """``18:30``, ``6pm`` or ``6:30pm`` (any case); None for anything else, a bare ``18``
    included."""
    match = _CLOCK.fullmatch(word.lower())
    if match is None or (match[2] is None and match[3] is None):
        return None
    return ClockTime(int(match[1]), int(match[2] or 0), match[3] or "")


def with_half(word: str, following: str) -> str | None:
    """``6pm`` from the two words ``6 pm`` (``6:30pm`` from ``6:30 pm``); None unless the
    first is an hour without am or pm and the second is am or pm."""
    half = following.lower()
    if half in HALVES and _BARE.fullmatch(word):
        return f"{word}{half}"
    return None


def wall_clock(day: date, clock: time, zone: ZoneInfo) -> datetime:
    """That day and time in ``zone``. A time the clocks skip (when daylight saving starts)
    comes out as the moment it would be had they not: an hour later by the clock;
    :func:`skipped` tells."""
    return datetime.combine(day, clock, tzinfo=zone)


def skipped(day: date, clock: time, zone: ZoneInfo) -> bool:
    """Whether the clocks in ``zone`` skip that time on that day."""
    moment = wall_clock(day, clock, zone)
    return moment.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != moment.replace(
        tzinfo=None
    )


def format_moment(moment: datetime, zone: ZoneInfo, now: datetime | None = None) -> str:
    """``Fri 5 Dec 20:00 CET``, with the year when it is not the current one."""
    local = moment.astimezone(zone)
    same_year = now is not None and now.astimezone(zone).year == local.year
    year = "" if same_year else f" {local.year}"
    return f"{local:%a} {local.day} {local:%b}{year} {local:%H:%M} {local.tzname()}"
