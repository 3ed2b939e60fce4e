"""What goes wrong reading what people type."""

from __future__ import annotations

from waddlebot.core.errors import UserError


class WhenError(UserError):
    """A time, a day or a duration as typed cannot be read; the message says what is wrong,
    for the person typing."""


class TimeOfDayError(WhenError):
    """Written like a clock time, but no time of day (``25:00``, ``13pm``)."""

    def __init__(self, written: str, half: bool) -> None:
        self.written = written
        self.advice = "with am or pm the hour is 1 to 12" if half else "use 00:00 to 23:59"
        super().__init__(f"{written} is not a time of day; {self.advice}")
