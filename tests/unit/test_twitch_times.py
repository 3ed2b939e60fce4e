"""EventSub's timestamps and the window a delivery's date must fall in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from waddlebot.platforms.twitch.times import (
    MAX_AGE,
    MAX_AHEAD,
    freshness_problem,
    parse_timestamp,
)

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def test_nanoseconds_and_offsets_are_read_in_utc() -> None:
    assert parse_timestamp("2019-11-16T10:11:12.634234626Z") == datetime(
        2019, 11, 16, 10, 11, 12, 634234, tzinfo=UTC
    )
    assert parse_timestamp("2019-11-16T12:11:12+02:00") == datetime(
        2019, 11, 16, 10, 11, 12, tzinfo=UTC
    )


@pytest.mark.parametrize(
    "text",
    ["", "now", "2019-11-16T10:11:12", "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"],
)
def test_what_is_no_time_in_utc_is_a_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        parse_timestamp(text)


@pytest.mark.parametrize(
    ("sent", "problem"),
    [
        (NOW, None),
        (NOW - MAX_AGE + timedelta(seconds=1), None),
        (NOW - MAX_AGE, "message has expired"),
        (NOW + MAX_AHEAD, None),
        (NOW + MAX_AHEAD + timedelta(seconds=1), "message is dated in the future"),
        (datetime(1, 1, 1, tzinfo=UTC), "message has expired"),
        (datetime.max.replace(tzinfo=UTC), "message is dated in the future"),
    ],
)
def test_a_delivery_must_be_dated_within_the_window(sent: datetime, problem: str | None) -> None:
    assert freshness_problem(sent, NOW) == problem
