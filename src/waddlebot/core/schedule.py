"""When a module's scheduled handler runs: ``every`` so many seconds, or ``at`` a time of day
in a time zone (on some weekdays only, if given). Declared in the module's manifest, so the
router can run the handlers of a module served over HTTP as well as one in-process."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from waddlebot.core.language.times import WEEKDAY_NUMBERS, WEEKDAYS, read_clock, wall_clock

NAME_PATTERN = r"^[a-z][a-z0-9_-]{0,31}$"
MIN_EVERY_SECONDS = 1.0


class ScheduleSpec(BaseModel):
    """One scheduled handler: ``every`` (seconds) or ``at`` (``HH:MM`` in ``tz``, on ``days``,
    every day when empty), never both."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(pattern=NAME_PATTERN)
    every: float | None = Field(default=None, ge=MIN_EVERY_SECONDS, description="seconds")
    at: str | None = Field(default=None, description="HH:MM, 24-hour clock")
    tz: str = Field(default="UTC", description="IANA time zone of 'at'")
    days: tuple[str, ...] = Field(default=(), description="weekdays of 'at'; empty: every day")

    @field_validator("at")
    @classmethod
    def _clock(cls, at: str | None) -> str | None:
        if at is None:
            return None
        clock = read_clock(at.strip())
        moment = clock.time() if clock is not None else None
        if moment is None:
            raise ValueError(f"{at!r} is not a time of day; write it like 18:00")
        return f"{moment:%H:%M}"

    @field_validator("tz")
    @classmethod
    def _zone(cls, tz: str) -> str:
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"{tz!r} is not a time zone; use one like Europe/Berlin") from exc
        return tz

    @field_validator("days")
    @classmethod
    def _days(cls, days: tuple[str, ...]) -> tuple[str, ...]:
        numbers = set()
        for day in days:
            number = WEEKDAY_NUMBERS.get(day.lower())
            if number is None:
                raise ValueError(f"{day!r} is not a weekday; use monday ... sunday")
            numbers.add(number)
        return tuple(WEEKDAYS[n] for n in sorted(numbers))

    @model_validator(mode="after")
    def _one_kind(self) -> ScheduleSpec:
        if (self.every is None) == (self.at is None):
            raise ValueError(f"schedule {self.name!r} needs either 'every' or 'at'")
        if self.every is not None and (self.days or self.tz != "UTC"):
            raise ValueError(f"schedule {self.name!r}: days and tz go with 'at', not 'every'")
        return self

    @property
    def fingerprint(self) -> str:
        """What the runs depend on: when it changes, the next run is worked out afresh."""
        if self.every is not None:
            return f"every {self.every:g}"
        return f"at {self.at} {self.tz} {','.join(self.days)}".rstrip()

    def next_run(self, after: datetime) -> datetime:
        """The first run strictly after ``after`` (UTC): a schedule seen first at ``after``
        runs one period on, or at the next time of day it names. Runs missed before ``after``
        are not made up: after a pause, the run due runs once, then the next after now."""
        if self.every is not None:
            return after + timedelta(seconds=self.every)
        assert self.at is not None
        hour, minute = (int(part) for part in self.at.split(":"))
        zone = ZoneInfo(self.tz)
        wanted = {WEEKDAY_NUMBERS[day] for day in self.days} or set(range(7))
        day = after.astimezone(zone).date()
        for offset in range(9):
            candidate = wall_clock(day + timedelta(days=offset), time(hour, minute), zone)
            if candidate.weekday() not in wanted:
                continue
            moment = candidate.astimezone(UTC)
            if moment > after:
                return moment
        raise AssertionError("a wanted weekday comes round within nine days")  # pragma: no cover
