"""When a reminder is due, as people write it, and the moments that follows from it.

- ``in 10m``, ``in 2h``, ``in 1d``, ``in 1h30m``, ``in 1 hour 30 minutes`` (``and`` may join
  the parts; ``in`` may be left out): that long from now.
- ``at 18:30`` (also ``6:30pm``, ``6pm``; ``at`` may be left out): the next 18:30 in the
  community's time zone, today or else tomorrow.
- ``every monday 20:00``, ``every day at 20:00`` (``daily``, the weekday's short name
  ``mon`` and ``mondays`` work too): recurring, in the community's time zone.

Whatever follows is the reminder's text, kept as typed. Clock times, weekday names and
wall-clock times are read as for events (core/when.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from waddlebot.core.when import WEEKDAY_NUMBERS, WEEKDAYS, read_clock, wall_clock, with_half
from waddlebot.features.memories.common import MemoriesError

Repeat = Literal["once", "daily", "weekly"]

MIN_DELAY = timedelta(minutes=1)
MAX_DELAY = timedelta(days=365)
EXAMPLES = "in 10m, at 18:30, every monday 20:00 or every day 20:00"

_UNITS = {
    "m": "minutes",
    "min": "minutes",
    "mins": "minutes",
    "minute": "minutes",
    "minutes": "minutes",
    "h": "hours",
    "hr": "hours",
    "hrs": "hours",
    "hour": "hours",
    "hours": "hours",
    "d": "days",
    "day": "days",
    "days": "days",
    "w": "weeks",
    "week": "weeks",
    "weeks": "weeks",
}
_COMPACT = re.compile(r"^(?:\d{1,6}[a-z]+)+$")
_COMPACT_PART = re.compile(r"(\d{1,6})([a-z]+)")


class WhenError(MemoriesError):
    """The time part of a reminder cannot be read; the message says why."""


@dataclass(frozen=True, slots=True)
class When:
    repeat: Repeat
    delay: timedelta | None = None  # "in ...": once, this long from now
    at: time | None = None  # "at ..." and "every ...": the time of day
    weekday: int | None = None  # "every monday": 0 is Monday
    moment: datetime | None = None  # once, at this moment (the HTTP API's due_at)

    @property
    def time_of_day(self) -> str:
        return "" if self.at is None else f"{self.at:%H:%M}"


def _split(text: str) -> tuple[str, str]:
    parts = text.lstrip().split(maxsplit=1)
    if not parts:
        return "", ""
    return parts[0], parts[1] if len(parts) > 1 else ""


def parse_when(text: str) -> tuple[When, str]:
    """The time part at the start of ``text``, and the rest, as typed. WhenError when there
    is none or it is malformed."""
    word, rest = _split(text)
    lowered = word.lower()
    if lowered == "in":
        delay, rest = _duration(rest)
        return When("once", delay=delay), rest
    if lowered == "at":
        at, rest = _time(rest)
        return When("once", at=at), rest
    if lowered == "every":
        return _every(rest)
    if lowered == "daily":
        at, rest = _time(_skip_at(rest))
        return When("daily", at=at), rest
    if read_clock(lowered) is not None:
        at, rest = _time(text)  # "18:30" without "at"
        return When("once", at=at), rest
    if word and word[0].isdigit():  # "10m" without "in"
        delay, rest = _duration(text)
        return When("once", delay=delay), rest
    raise WhenError(f"when? e.g. {EXAMPLES}")


def _duration(text: str) -> tuple[timedelta, str]:
    total = timedelta()
    parts = 0
    rest = text
    while True:
        word, after = _split(rest)
        lowered = word.lower()
        if parts and lowered == "and":
            next_word, _ = _split(after)
            if not next_word[:1].isdigit():
                break
            word, after = _split(after)
            lowered = word.lower()
        if _COMPACT.fullmatch(lowered):
            for amount, unit in _COMPACT_PART.findall(lowered):
                total += _amount(int(amount), unit, word)
            parts += 1
            rest = after
            continue
        unit_word, after_unit = _split(after)
        if lowered.isdigit() and len(lowered) <= 6 and unit_word.lower() in _UNITS:
            total += _amount(int(lowered), unit_word.lower(), word)
            parts += 1
            rest = after_unit
            continue
        break
    if not parts:
        raise WhenError("in how long? e.g. in 10m, in 2h, in 1d or in 1h30m")
    if total < MIN_DELAY:
        raise WhenError("a reminder is at least 1 minute away")
    if total > MAX_DELAY:
        raise WhenError(f"a reminder is at most {MAX_DELAY.days} days away")
    return total, rest


def _amount(amount: int, unit: str, typed: str) -> timedelta:
    name = _UNITS.get(unit)
    if name is None:
        raise WhenError(f"{typed!r} is not a duration; write it like 10m, 2h, 1d or 1h30m")
    return timedelta(**{name: amount})


def _skip_at(text: str) -> str:
    word, rest = _split(text)
    return rest if word.lower() == "at" else text


def _time(text: str) -> tuple[time, str]:
    word, rest = _split(text)
    lowered = word.lower()
    suffix, after = _split(rest)
    if (joined := with_half(lowered, suffix)) is not None:
        lowered, rest = joined, after
    clock = read_clock(lowered)
    if clock is None:
        raise WhenError("at what time? write it like 18:30 (or 6:30pm)")
    if clock.half and not 1 <= clock.hour <= 12:
        raise WhenError(f"{word!r} is not a time: with am or pm the hour is 1 to 12")
    checked = clock.time()
    if checked is None:
        raise WhenError(f"{word!r} is not a time of day; write it like 18:30")
    return checked, rest


def _every(text: str) -> tuple[When, str]:
    word, rest = _split(text)
    lowered = word.lower()
    if lowered in ("day", "daily"):
        at, rest = _time(_skip_at(rest))
        return When("daily", at=at), rest
    day = WEEKDAY_NUMBERS.get(lowered.removesuffix("s"))
    if day is None:
        neither = f" ({word!r} is neither)" if word else ""
        raise WhenError(f"every what? a weekday or day, e.g. every monday 20:00{neither}")
    at, rest = _time(_skip_at(rest))
    return When("weekly", at=at, weekday=day), rest


def first_due(when: When, now: datetime, zone: ZoneInfo) -> datetime:
    """When a reminder set ``now`` is first due (UTC). WhenError for a moment that has
    passed or is too far ahead."""
    if when.moment is not None:
        if when.moment.tzinfo is None:
            raise WhenError("give the time with its zone, e.g. 2030-01-01T18:30:00Z")
        if when.moment - now < MIN_DELAY:
            raise WhenError("a reminder is at least 1 minute away")
        if when.moment - now > MAX_DELAY:
            raise WhenError(f"a reminder is at most {MAX_DELAY.days} days away")
        return when.moment.astimezone(UTC)
    if when.delay is not None:
        return now + when.delay
    assert when.at is not None
    return next_due(when.repeat, when.weekday, when.at, zone, now)


def next_due(
    repeat: Repeat, weekday: int | None, at: time, zone: ZoneInfo, after: datetime
) -> datetime:
    """The first moment after ``after`` that is ``at`` o'clock in ``zone`` (on ``weekday``,
    for a weekly reminder), in UTC."""
    day = after.astimezone(zone).date()
    for offset in range(9):
        candidate = wall_clock(day + timedelta(days=offset), at, zone)
        if repeat == "weekly" and candidate.weekday() != weekday:
            continue
        moment = candidate.astimezone(UTC)
        if moment > after:
            return moment
    raise AssertionError("a weekday comes round within nine days")  # pragma: no cover


def parse_time_of_day(text: str) -> time:
    """``HH:MM`` as stored with a reminder."""
    hour, _, minute = text.partition(":")
    return time(int(hour), int(minute))


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


def span(delta: timedelta) -> str:
    """``10m``, ``2h 5m``, ``3d 4h``: a rough length of time, for people."""
    minutes = max(0, round(delta.total_seconds() / 60))
    days, minutes = divmod(minutes, 1440)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    return f"{minutes}m"
