"""Dates and times as people type and read them in chat for events, in a community's time
zone (the pieces shared with reminders are in core/when.py).

Reading is strict on purpose: a handful of forms, each unambiguous, and an error that says
what was expected, rather than a guess that puts an event on the wrong day.

- a day: ``2026-12-05``, ``today``, ``tomorrow``, or a weekday (``friday``, ``fri``: the next
  one, today included while that time is still ahead);
- a time: ``20:00``, ``8pm``, ``8:30pm``, ``8 pm``;
- day then time, or time then day (``8pm tomorrow``).

A duration is ``2h``, ``90m``, ``1h30m``, ``1d`` (or ``1h30``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from waddlebot.core.when import (
    WEEKDAY_NUMBERS,
    ClockTime,
    read_clock,
    skipped,
    wall_clock,
    with_half,
)

MAX_DURATION = 7 * 24 * 60  # minutes
MAX_AHEAD_DAYS = 3 * 366

_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_DURATION = re.compile(
    r"^(?:(?P<d>\d{1,2})d)?(?:(?P<h>\d{1,3})h)?(?:(?P<m>\d{1,4})(?:m|min|mins)?)?$", re.IGNORECASE
)
EXAMPLES = "2026-12-05 20:00, tomorrow 8pm or friday 19:30"


class WhenError(ValueError):
    """The words cannot be read as a moment; the message says what is wrong."""


@dataclass(frozen=True, slots=True)
class When:
    at: datetime  # aware, UTC
    used: int  # how many words it took


def parse_when(words: Sequence[str], now: datetime, zone: ZoneInfo) -> When:
    """The moment the first words name, in ``zone``; it must be ahead of ``now``."""
    if not words:
        raise WhenError(f"when? e.g. {EXAMPLES}")
    day = _day(words[0], now, zone)
    if day is not None:
        clock, used = _time(words[1:])
        if clock is None:
            raise WhenError(f"at what time on {words[0]}? e.g. {words[0]} 20:00 or {words[0]} 8pm")
        return _combine(day, clock, now, zone, used + 1, words[0])
    clock, used = _time(words)
    if clock is None:
        raise WhenError(f"{words[0]!r} is not a day or a time; e.g. {EXAMPLES}")
    if len(words) <= used or (day := _day(words[used], now, zone)) is None:
        raise WhenError(f"on which day? e.g. {' '.join(words[:used])} tomorrow")
    return _combine(day, clock, now, zone, used + 1, words[used])


def starts_moment(words: Sequence[str]) -> bool:
    """Whether the words begin like a moment (a day or a time), right or wrong."""
    if not words:
        return False
    first = words[0].lower()
    if first in ("today", "tomorrow") or first in WEEKDAY_NUMBERS or _DATE.match(first):
        return True
    if read_clock(first) is not None:
        return True
    return len(words) > 1 and with_half(first, words[1]) is not None


def _day(word: str, now: datetime, zone: ZoneInfo) -> date | int | None:
    """A calendar date, or a weekday number (0 is Monday), or None when it is neither."""
    lowered = word.lower()
    today = now.astimezone(zone).date()
    if lowered == "today":
        return today
    if lowered == "tomorrow":
        return today + timedelta(days=1)
    if lowered in WEEKDAY_NUMBERS:
        return WEEKDAY_NUMBERS[lowered]
    match = _DATE.match(word)
    if match is None:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError as exc:
        raise WhenError(f"{word} is not a date: {exc}") from exc


def _time(words: Sequence[str]) -> tuple[time | None, int]:
    """The time the first word (or two: ``8 pm``) names, and how many words it took."""
    if not words:
        return None, 0
    first = words[0]
    if (clock := read_clock(first)) is not None:
        return _checked(clock, first), 1
    joined = with_half(first, words[1]) if len(words) > 1 else None
    if joined is not None and (clock := read_clock(joined)) is not None:
        return _checked(clock, f"{first} {words[1]}"), 2
    return None, 0


def _checked(clock: ClockTime, written: str) -> time:
    checked = clock.time()
    if checked is not None:
        return checked
    if clock.half:
        raise WhenError(f"{written} is not a time of day; use 1am to 12pm, or 00:00 to 23:59")
    raise WhenError(f"{written} is not a time of day; use 00:00 to 23:59")


def _combine(
    day: date | int, clock: time, now: datetime, zone: ZoneInfo, used: int, said: str
) -> When:
    local_now = now.astimezone(zone)
    if isinstance(day, int):  # a weekday: the next one at that time
        ahead = (day - local_now.weekday()) % 7
        day = local_now.date() + timedelta(days=ahead)
        if _local(day, clock, zone) <= now:
            day += timedelta(days=7)
    at = _local(day, clock, zone)
    if at <= now:
        raise WhenError(f"{said} {clock:%H:%M} has passed already")
    if at - now > timedelta(days=MAX_AHEAD_DAYS):
        raise WhenError("that is more than 3 years ahead")
    return When(at.astimezone(UTC), used)


def _local(day: date, clock: time, zone: ZoneInfo) -> datetime:
    """That wall-clock time in ``zone``; WhenError for a time the clocks skip (DST)."""
    if skipped(day, clock, zone):
        raise WhenError(
            f"{clock:%H:%M} does not exist on {day.isoformat()} in {zone.key} "
            "(the clocks go forward then)"
        )
    return wall_clock(day, clock, zone)


def parse_duration(word: str) -> int | None:
    """Minutes, from ``2h``, ``90m``, ``1h30m``, ``1h30`` or ``1d``; None when ``word`` is
    not written like a duration; WhenError when it is, but out of range."""
    match = _DURATION.match(word)
    if match is None or not any(match.groupdict().values()) or word.isdigit():
        return None
    minutes = int(match["d"] or 0) * 1440 + int(match["h"] or 0) * 60 + int(match["m"] or 0)
    if not 1 <= minutes <= MAX_DURATION:
        raise WhenError("an event lasts from 1 minute to 7 days")
    return minutes


def format_duration(minutes: int) -> str:
    """``2h``, ``1h 30m``, ``45m``, ``1d 2h``."""
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    parts = [f"{days}d" if days else "", f"{hours}h" if hours else "", f"{mins}m" if mins else ""]
    return " ".join(part for part in parts if part) or "0m"


def in_words(delta: timedelta) -> str:
    """``15 minutes``, ``1 day``, ``2 hours 30 minutes`` (to the nearest minute)."""
    minutes = max(0, round(delta.total_seconds() / 60))
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    parts = [
        _plural(days, "day"),
        _plural(hours, "hour"),
        _plural(mins, "minute") if not days else "",
    ]
    return " ".join(part for part in parts if part) or "less than a minute"


def _plural(count: int, unit: str) -> str:
    return "" if not count else f"{count} {unit}{'' if count == 1 else 's'}"
