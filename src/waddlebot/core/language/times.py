"""Clock times, weekdays and days as people type them, wall-clock times in a community's time
zone, and moments as chat shows them."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from waddlebot.core.language.errors import TimeOfDayError, WhenError

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
_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")


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


def read_time(words: Sequence[str]) -> tuple[time, int] | None:
    """The time of day the first word (or two: ``8 pm``) names, and how many words it took;
    None when they do not start with a clock time; TimeOfDayError for one out of range."""
    if not words:
        return None
    first = words[0]
    written, used = first, 1
    clock = read_clock(first)
    if clock is None and len(words) > 1 and (joined := with_half(first, words[1])) is not None:
        clock, written, used = read_clock(joined), f"{first} {words[1]}", 2
    if clock is None:
        return None
    checked = clock.time()
    if checked is None:
        raise TimeOfDayError(written, bool(clock.half))
    return checked, used


def parse_time_of_day(text: str) -> time:
    """``HH:MM`` as stored."""
    hour, _, minute = text.partition(":")
    return time(int(hour), int(minute))


@dataclass(frozen=True, slots=True)
class Day:
    """A day as typed: a date, ``today`` or ``tomorrow`` (0 or 1 days ahead) or a weekday (the
    next one, today included while the time is still ahead)."""

    word: str
    date: dt.date | None = None
    ahead: int | None = None
    weekday: int | None = None

    def on(self, today: dt.date) -> dt.date:
        """The day meant, seen from ``today``: for a weekday, the next one from today on."""
        if self.date is not None:
            return self.date
        if self.ahead is not None:
            return today + timedelta(days=self.ahead)
        assert self.weekday is not None
        return today + timedelta(days=(self.weekday - today.weekday()) % 7)


def read_day(word: str) -> Day | None:
    """``2026-12-05``, ``today``, ``tomorrow``, ``friday`` or ``fri`` (any case); None for
    anything else; WhenError for a date that does not exist."""
    lowered = word.lower()
    if lowered in ("today", "tomorrow"):
        return Day(word, ahead=0 if lowered == "today" else 1)
    if lowered in WEEKDAY_NUMBERS:
        return Day(word, weekday=WEEKDAY_NUMBERS[lowered])
    match = _DATE.match(word)
    if match is None:
        return None
    try:
        return Day(word, date=date(int(match[1]), int(match[2]), int(match[3])))
    except ValueError as exc:
        raise WhenError(f"{word} is not a date: {exc}") from exc


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


def existing(day: date, clock: time, zone: ZoneInfo) -> datetime:
    """That wall-clock time in ``zone``; WhenError for a time the clocks skip."""
    if skipped(day, clock, zone):
        raise WhenError(
            f"{clock:%H:%M} does not exist on {day.isoformat()} in {zone.key} "
            "(the clocks go forward then)"
        )
    return wall_clock(day, clock, zone)


def format_moment(moment: datetime, zone: ZoneInfo, now: datetime | None = None) -> str:
    """``Fri 5 Dec 20:00 CET``, with the year when it is not the current one."""
    local = moment.astimezone(zone)
    same_year = now is not None and now.astimezone(zone).year == local.year
    year = "" if same_year else f" {local.year}"
    return f"{local:%a} {local.day} {local:%b}{year} {local:%H:%M} {local.tzname()}"
