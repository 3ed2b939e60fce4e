"""EventSub's times: RFC 3339 timestamps as Twitch writes them, and how far from our clock a
delivery may be dated (both transports, and the times inside events)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

MAX_AGE = timedelta(minutes=10)  # Twitch's replay window: older deliveries are refused
MAX_AHEAD = timedelta(minutes=5)  # how far ahead of ours Twitch's clock may be


def parse_timestamp(value: str) -> datetime:
    """RFC 3339 with up to nanoseconds (``2019-11-16T10:11:12.634234626Z``), in UTC; Python
    keeps microseconds, so the extra digits are cut. ``ValueError`` for anything else,
    including times that leave Python's range in UTC (year 1, east of Greenwich)."""
    text = value.strip().replace("Z", "+00:00")
    if "." in text:
        head, _, tail = text.partition(".")
        digits = len(tail) - len(tail.lstrip("0123456789"))
        text = f"{head}.{tail[: min(digits, 6)]}{tail[digits:]}"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise ValueError("the timestamp has no time zone")
    try:
        return parsed.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("the timestamp is out of range") from exc


def freshness_problem(sent: datetime, now: datetime) -> str | None:
    """Why a delivery dated ``sent`` must be refused at ``now``, if it must. Computed from
    the difference of the two, which cannot overflow, rather than by moving ``sent`` (year
    9999 plus ten minutes is no date)."""
    age = now - sent
    if age >= MAX_AGE:
        return "message has expired"
    if -age > MAX_AHEAD:
        return "message is dated in the future"
    return None
