"""Lengths of time as people type them (``10m``, ``1h30m``, ``1h30``, ``90min``, ``7d``,
``2w``, ``2 hours and 5 minutes``) and as chat shows them (``2h 5m``, ``2 hours 5 minutes``)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import timedelta

from waddlebot.core.language.errors import WhenError
from waddlebot.core.language.times import read_clock
from waddlebot.core.language.words import plural

UNITS = {
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
"""A unit as written (lower case): its ``timedelta`` keyword."""

MAX_DIGITS = 6  # per amount: longer is not a length of time anyone means
EXAMPLES = "7d, 12h or 30m"
_WORD = re.compile(rf"^(?:\d{{1,{MAX_DIGITS}}}[a-z]+)+(?:\d{{1,{MAX_DIGITS}}})?$")
_PART = re.compile(r"(\d+)([a-z]*)")


def duration_word(word: str, *, strict: bool = True) -> timedelta | None:
    """One word written like a duration: ``10m``, ``1h30m``, ``1h30`` (minutes after hours),
    ``90min``, ``2w``, ``1d12h``. None when it is not written like one (``90``, ``snacks``,
    ``8pm``); when it is but a unit is unknown (``5s``), WhenError, or None unless
    ``strict``."""
    lowered = word.lower()
    if not _WORD.fullmatch(lowered) or read_clock(lowered) is not None:
        return None
    total = timedelta()
    previous = ""
    for amount, unit in _PART.findall(lowered):
        name = UNITS.get(unit) if unit else ("minutes" if previous == "hours" else None)
        if name is None:
            if strict:
                raise WhenError(f"{word!r} is not a duration; write it like {EXAMPLES}")
            return None
        total += timedelta(**{name: int(amount)})
        previous = name
    return total


def read_duration(words: Sequence[str]) -> tuple[timedelta, int] | None:
    """The length of time the first words give, and how many words it took: parts like
    ``1h30m`` or ``2 hours``, one after another, ``and`` between them allowed. None when the
    words do not start with one; WhenError for a part with an unknown unit (``5s``)."""
    total, used, parts = timedelta(), 0, 0
    while used < len(words):
        at = used
        if parts and words[at].lower() == "and":
            if at + 1 >= len(words) or not words[at + 1][:1].isdigit():
                break
            at += 1
        word = words[at]
        if (found := duration_word(word)) is not None:
            total, used = total + found, at + 1
        elif (
            word.isdigit()
            and len(word) <= MAX_DIGITS
            and at + 1 < len(words)
            and words[at + 1].lower() in UNITS
        ):
            total += timedelta(**{UNITS[words[at + 1].lower()]: int(word)})
            used = at + 2
        else:
            break
        parts += 1
    return (total, used) if parts else None


def parse_duration(word: str, longest: timedelta | None = None) -> timedelta:
    """A duration written as one word (``7d``, ``12h``, ``1d12h``), more than nothing and at
    most ``longest``; WhenError else."""
    word = word.strip()
    found = duration_word(word)
    if found is None:
        raise WhenError(f"{word!r} is not a duration; write it like {EXAMPLES}")
    return within(found, word, longest)


def within(found: timedelta, written: str, longest: timedelta | None = None) -> timedelta:
    """``found``, when it is more than nothing and at most ``longest``; WhenError else."""
    if found <= timedelta():
        raise WhenError("a duration must be more than nothing")
    if longest is not None and found > longest:
        raise WhenError(f"{written!r} is too long; at most {longest.days} days")
    return found


def read_minutes(word: str) -> int | None:
    """A whole number of minutes: ``15`` or any duration word (``15m``, ``1h``); None for
    anything else."""
    if word.isdigit() and len(word) <= MAX_DIGITS:
        return int(word)
    found = duration_word(word, strict=False)
    if found is None or found % timedelta(minutes=1):
        return None
    return found // timedelta(minutes=1)


def span(delta: timedelta, *, words: bool = False, exact: bool = False) -> str:
    """A length of time for people, to the nearest minute: ``2h 5m``, ``1d 2h`` (``1d 2h 5m``
    when ``exact``), or with ``words`` ``2 hours 5 minutes``, ``1 day``. Past a day the
    minutes are left out unless ``exact``."""
    minutes = max(0, round(delta.total_seconds() / 60))
    days, minutes = divmod(minutes, 1440)
    hours, minutes = divmod(minutes, 60)
    counts = [(days, "day"), (hours, "hour"), (0 if days and not exact else minutes, "minute")]
    if words:
        return " ".join(plural(n, unit) for n, unit in counts if n) or "less than a minute"
    return " ".join(f"{n}{unit[0]}" for n, unit in counts if n) or "0m"
