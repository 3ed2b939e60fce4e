"""Reading what follows ``!timer add``: the name, the minutes, an optional ``-lines=N`` (before
the message: ahead of the name, between name and minutes, or right after the minutes) and
the message, kept exactly as typed. The minutes are a number (``15``) or any duration
(``15m``, ``1h``; docs/commands.md, "Times and durations")."""

from __future__ import annotations

import re
from dataclasses import dataclass

from waddlebot.core.language import read_minutes, split_word

_LINES = re.compile(r"^-lines=(.*)$", re.IGNORECASE)
_COUNT = re.compile(r"^\d{1,7}$")


class TimerSyntaxError(ValueError):
    """The line cannot be read; the message says what is wrong, for the person typing."""


@dataclass(frozen=True, slots=True)
class AddTimer:
    name: str
    minutes: int
    min_lines: int
    message: str


def parse_add(text: str, prefix: str = "!") -> AddTimer:
    """``<name> <minutes> [-lines=N] <message>``; ``prefix`` is only for the examples in
    error messages."""
    example = f"e.g. {prefix}timer add rules 15 Be kind in chat!"
    name: str | None = None
    minutes: int | None = None
    min_lines: int | None = None
    rest = text.strip()
    while rest:
        token, after = split_word(rest)
        option = _LINES.match(token)
        if option is not None:
            if min_lines is not None:
                raise TimerSyntaxError("give -lines= once")
            min_lines = _lines(option.group(1))
        elif name is None:
            name = token
        elif minutes is None:
            minutes = _minutes(token)
        else:
            break
        rest = after
    if name is None:
        raise TimerSyntaxError(f"which timer? {example}")
    if minutes is None:
        raise TimerSyntaxError(f"every how many minutes? {example}")
    if not rest.strip():
        raise TimerSyntaxError(
            f"what should timer {name} say? e.g. {prefix}timer add {name} {minutes} Follow us!"
        )
    return AddTimer(name, minutes, min_lines or 0, rest.strip())


def _minutes(token: str) -> int:
    minutes = read_minutes(token)
    if minutes is None:
        raise TimerSyntaxError(f"{token!r} is not a number of minutes, e.g. 15")
    return minutes


def _lines(value: str) -> int:
    if not _COUNT.fullmatch(value):
        raise TimerSyntaxError("-lines= takes a whole number of chat lines, e.g. -lines=10")
    return int(value)
