"""Reading what follows ``!event add``::

    "<title>" <when> [duration] [weekly|monthly|every N weeks|every N months] [-max=N]
    [description]

The title is quoted, or the words before the first one that starts a day or a time. After
the moment come the options, in any order (a duration such as ``2h``, a repeat, ``-max=N``
people); the first word that is none of them starts the description. A reminder-offset list
(``!event reminders 1d 15m``) is read here too. Days, times and durations are the chat
language's (docs/commands.md, "Times and durations"); an event needs its day.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from waddlebot.core.language import (
    WhenError,
    due,
    duration_word,
    read_when,
    starts_moment,
)
from waddlebot.features.calendar.recurrence import MAX_INTERVAL

MAX_DURATION = 7 * 24 * 60  # minutes
MAX_AHEAD_DAYS = 3 * 366
EXAMPLES = "2026-12-05 20:00, tomorrow 8pm or friday 19:30"

_MAX = re.compile(r"^-(?:max|capacity)=(.*)$", re.IGNORECASE)
_UNITS = {"week": "weekly", "weeks": "weekly", "month": "monthly", "months": "monthly"}


class EventSyntaxError(ValueError):
    """The line cannot be read; the message says what is wrong, for the person typing."""


@dataclass(frozen=True, slots=True)
class Moment:
    at: datetime  # aware, UTC
    used: int  # how many words it took


def parse_moment(words: Sequence[str], now: datetime, zone: ZoneInfo) -> Moment:
    """The moment the first words name (a day and a time), in ``zone``; it must be ahead of
    ``now``. WhenError else."""
    if not words:
        raise WhenError(f"when? e.g. {EXAMPLES}")
    if not starts_moment(words):
        raise WhenError(f"{words[0]!r} is not a day or a time; e.g. {EXAMPLES}")
    when, used = read_when(words)
    if when.day is None:
        raise WhenError(f"on which day? e.g. {' '.join(words[:used])} tomorrow")
    at = due(when, now, zone)
    if at - now > timedelta(days=MAX_AHEAD_DAYS):
        raise WhenError("that is more than 3 years ahead")
    return Moment(at.astimezone(UTC), used)


def event_minutes(word: str) -> int | None:
    """An event's length in minutes, from one word (``2h``, ``90m``, ``1h30``, ``1d``); None
    when ``word`` is not written like a duration; WhenError when it is, but out of range."""
    found = duration_word(word, strict=False)
    if found is None:
        return None
    minutes = round(found.total_seconds() / 60)
    if not 1 <= minutes <= MAX_DURATION:
        raise WhenError("an event lasts from 1 minute to 7 days")
    return minutes


@dataclass(frozen=True, slots=True)
class AddEvent:
    title: str
    when: Moment
    duration: int | None
    frequency: str  # "", "weekly" or "monthly"
    interval: int
    capacity: int | None
    description: str


def parse_add(words: Sequence[str], now: datetime, zone: ZoneInfo, prefix: str = "!") -> AddEvent:
    example = f'e.g. {prefix}event add "Movie night" friday 20:00 2h'
    if not words:
        raise EventSyntaxError(f"what is the event called, and when? {example}")
    split = next((k for k in range(1, len(words)) if starts_moment(words[k:])), None)
    if split is None:
        raise EventSyntaxError(f"when is it? Write the day and time after the title, {example}")
    title = " ".join(words[:split])
    try:
        when = parse_moment(words[split:], now, zone)
    except WhenError as exc:
        raise EventSyntaxError(str(exc)) from exc
    rest = list(words[split + when.used :])
    duration: int | None = None
    frequency, interval = "", 1
    capacity: int | None = None
    while rest:
        word = rest[0]
        try:
            minutes = event_minutes(word)
        except WhenError as exc:
            raise EventSyntaxError(str(exc)) from exc
        repeat = _repeat(rest)
        option = _MAX.match(word)
        if minutes is not None:
            if duration is not None:
                raise EventSyntaxError("give the duration once")
            duration, used = minutes, 1
        elif repeat is not None:
            if frequency:
                raise EventSyntaxError("give the repeat once")
            frequency, interval, used = repeat
        elif option is not None:
            if capacity is not None:
                raise EventSyntaxError("give -max= once")
            capacity, used = _capacity(option.group(1)), 1
        else:
            break
        rest = rest[used:]
    return AddEvent(title, when, duration, frequency, interval, capacity, " ".join(rest))


def _repeat(words: Sequence[str]) -> tuple[str, int, int] | None:
    """``weekly``, ``monthly``, ``every week``, ``every other week``, ``every 2 months``:
    (frequency, interval, words used); None when the words are not a repeat."""
    first = words[0].lower()
    if first in ("weekly", "monthly"):
        return first, 1, 1
    if first != "every" or len(words) < 2:
        return None
    second = words[1].lower()
    if second in _UNITS:
        return _UNITS[second], 1, 2
    if len(words) < 3 or words[2].lower() not in _UNITS:
        raise EventSyntaxError("every week, every month, every 2 weeks or every 3 months")
    if second == "other":
        return _UNITS[words[2].lower()], 2, 3
    if not second.isdigit() or not 1 <= int(second) <= MAX_INTERVAL:
        raise EventSyntaxError(f"an event repeats every 1 to {MAX_INTERVAL} weeks or months")
    return _UNITS[words[2].lower()], int(second), 3


def _capacity(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise EventSyntaxError("-max= takes how many people can go, e.g. -max=10")
    return int(value)


def parse_offsets(words: Sequence[str]) -> list[int]:
    """``1d 15m`` as minutes (``[1440, 15]``); ``off`` is none."""
    if len(words) == 1 and words[0].lower() in ("off", "none"):
        return []
    offsets = []
    for word in words:
        try:
            minutes = event_minutes(word)
        except WhenError as exc:
            raise EventSyntaxError("a reminder comes 1 minute to 7 days before the start") from exc
        if minutes is None:
            raise EventSyntaxError(f"{word!r} is not a time before the start, like 1d, 2h or 15m")
        offsets.append(minutes)
    return offsets


__all__ = [
    "MAX_DURATION",
    "AddEvent",
    "EventSyntaxError",
    "Moment",
    "event_minutes",
    "parse_add",
    "parse_moment",
    "parse_offsets",
]
