"""When something happens, as people write it (the grammar docs/commands.md describes under
"Times and durations"), read into a :class:`When` and then, in a time zone, into moments.

- ``in 10m``, ``in 1h30m``, ``in 2 hours and 5 minutes`` (``in`` may be left out): that long
  from now;
- ``at 18:30``, ``6:30pm``, ``6 pm`` (``at`` may be left out): the next such time, today or
  else tomorrow;
- a day, then the time (``tomorrow 9am``, ``friday at 20:00``, ``2026-12-05 20:00``), or the
  time, then the day (``8pm tomorrow``): that day; a weekday is the next one, today included
  while the time is still ahead;
- ``every friday 18:00``, ``every day at 8am``, ``daily 08:00`` (``fridays``, ``fri``):
  again and again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from waddlebot.core.language.durations import read_duration
from waddlebot.core.language.errors import WhenError
from waddlebot.core.language.times import (
    WEEKDAY_NUMBERS,
    Day,
    existing,
    read_clock,
    read_day,
    read_time,
    wall_clock,
    with_half,
)

Repeat = Literal["once", "daily", "weekly"]

EXAMPLES = "in 10m, at 18:30, every monday 20:00 or every day 20:00"
ASK_TIME = "at what time? write it like 18:30 (or 6:30pm)"


@dataclass(frozen=True, slots=True)
class When:
    """What was written, before a time zone and the time it is make it a moment."""

    repeat: Repeat = "once"
    delay: timedelta | None = None  # "in ...": this long from now
    at: time | None = None  # the time of day
    weekday: int | None = None  # "every monday": 0 is Monday
    moment: datetime | None = None  # at this moment (the HTTP APIs' due_at)
    day: Day | None = None  # once, on this day

    @property
    def time_of_day(self) -> str:
        return "" if self.at is None else f"{self.at:%H:%M}"


def read_when(words: Sequence[str]) -> tuple[When, int]:
    """The time the first words name, and how many words it took. WhenError when they name
    none, or a malformed one."""
    if not words:
        raise WhenError(f"when? e.g. {EXAMPLES}")
    first = words[0].lower()
    if first == "in":
        found = read_duration(words[1:])
        if found is None:
            raise WhenError("in how long? e.g. in 10m, in 2h, in 1d or in 1h30m")
        return When(delay=found[0]), found[1] + 1
    if first == "every":
        return _every(words)
    if first == "daily":
        at, used = _time(words, 1)
        return When("daily", at=at), used
    if first == "at":
        return _time_then_day(words, 1)
    if (day := read_day(words[0])) is not None:
        if (found_time := read_time(_skip_at(words, 1))) is None:
            said = words[0]
            raise WhenError(f"at what time on {said}? e.g. {said} 20:00 or {said} 8pm")
        at, used = found_time
        return When(at=at, day=day), _at_used(words, 1) + used
    if read_time(words) is not None:
        return _time_then_day(words, 0)
    if (found := read_duration(words)) is not None:
        return When(delay=found[0]), found[1]
    raise WhenError(f"when? {words[0]!r} is not a day or a time; e.g. {EXAMPLES}")


def starts_moment(words: Sequence[str]) -> bool:
    """Whether the words begin with a day or a clock time, right or wrong (``friday``,
    ``2026-13-01``, ``8 pm``)."""
    if not words:
        return False
    try:
        if read_day(words[0]) is not None or read_clock(words[0]) is not None:
            return True
    except WhenError:  # a date that does not exist
        return True
    return len(words) > 1 and with_half(words[0], words[1]) is not None


def _skip_at(words: Sequence[str], start: int) -> Sequence[str]:
    return words[_at_used(words, start) :]


def _at_used(words: Sequence[str], start: int) -> int:
    """``start``, or one more when the word there is ``at``."""
    return start + 1 if len(words) > start and words[start].lower() == "at" else start


def _time(words: Sequence[str], start: int) -> tuple[time, int]:
    """The time after ``words[start]`` (``at`` may come first), and the words used in all."""
    start = _at_used(words, start)
    found = read_time(words[start:])
    if found is None:
        raise WhenError(ASK_TIME)
    return found[0], start + found[1]


def _time_then_day(words: Sequence[str], start: int) -> tuple[When, int]:
    at, used = _time(words, start)
    day = read_day(words[used]) if len(words) > used else None
    if day is None:
        return When(at=at), used
    return When(at=at, day=day), used + 1


def _every(words: Sequence[str]) -> tuple[When, int]:
    word = words[1] if len(words) > 1 else ""
    lowered = word.lower()
    if lowered in ("day", "daily"):
        at, used = _time(words, 2)
        return When("daily", at=at), used
    weekday = WEEKDAY_NUMBERS.get(lowered.removesuffix("s"))
    if weekday is None:
        neither = f" ({word!r} is neither)" if word else ""
        raise WhenError(f"every what? a weekday or day, e.g. every monday 20:00{neither}")
    at, used = _time(words, 2)
    return When("weekly", at=at, weekday=weekday), used


def due(when: When, now: datetime, zone: ZoneInfo) -> datetime:
    """The first moment ``when`` names after ``now`` (UTC), in ``zone``. WhenError for a day
    and time that has passed, or that the clocks skip."""
    if when.moment is not None:
        return when.moment.astimezone(UTC)
    if when.delay is not None:
        return now + when.delay
    assert when.at is not None
    if when.day is None:
        repeat: Repeat = "daily" if when.repeat == "once" else when.repeat
        return next_due(repeat, when.weekday, when.at, zone, now)
    day = when.day.on(now.astimezone(zone).date())
    if when.day.weekday is not None and existing(day, when.at, zone) <= now:
        day += timedelta(days=7)
    moment = existing(day, when.at, zone)
    if moment <= now:
        raise WhenError(f"{when.day.word} {when.at:%H:%M} has passed already")
    return moment.astimezone(UTC)


def next_due(
    repeat: Repeat, weekday: int | None, at: time, zone: ZoneInfo, after: datetime
) -> datetime:
    """The first moment after ``after`` that is ``at`` o'clock in ``zone`` (on ``weekday``,
    for a weekly one), in UTC. A time the clocks skip comes an hour later by the clock."""
    day = after.astimezone(zone).date()
    for offset in range(9):
        candidate = wall_clock(day + timedelta(days=offset), at, zone)
        if repeat == "weekly" and candidate.weekday() != weekday:
            continue
        moment = candidate.astimezone(UTC)
        if moment > after:
            return moment
    raise AssertionError("a weekday comes round within nine days")  # pragma: no cover
