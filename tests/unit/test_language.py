"""The chat language every command shares (core/language): one grammar for lengths of time,
times of day, days and "every ...", so labels, timers, reminders and events accept the same
forms."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from waddlebot.core.language import (
    Day,
    TimeOfDayError,
    When,
    WhenError,
    due,
    duration_word,
    plural,
    read_duration,
    read_minutes,
    read_when,
    span,
    starts_moment,
    unquoted,
)
from waddlebot.features.calendar.parsing import parse_moment
from waddlebot.features.memories.reminders import parse_when
from waddlebot.features.timers.parsing import parse_add

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)  # a Thursday
ZUTC = ZoneInfo("UTC")


@pytest.mark.parametrize(
    ("words", "length", "used"),
    [
        ("10m", timedelta(minutes=10), 1),
        ("1h30", timedelta(minutes=90), 1),
        ("90MIN", timedelta(minutes=90), 1),
        ("2 weeks", timedelta(weeks=2), 2),
        ("1 hour 30 minutes x", timedelta(minutes=90), 4),
        ("2h and 5 mins and then", timedelta(minutes=125), 4),
        ("1d 12h", timedelta(hours=36), 2),
    ],
)
def test_lengths_of_time(words: str, length: timedelta, used: int) -> None:
    assert read_duration(words.split()) == (length, used)


def test_what_is_not_a_length_of_time() -> None:
    for word in ("90", "snacks", "20:00", "8pm", "1d30", "", "9999999m"):
        assert duration_word(word, strict=False) is None, word
    assert read_duration(["10", "parsecs"]) is None
    with pytest.raises(WhenError, match="'5s' is not a duration"):
        duration_word("5s")
    assert [read_minutes(w) for w in ("15", "15m", "1h", "90s", "soon")] == [15, 15, 60, None, None]


@pytest.mark.parametrize(
    ("typed", "when", "used"),
    [
        ("in 2 weeks", When(delay=timedelta(weeks=2)), 3),
        ("tomorrow 9am x", When(at=time(9), day=Day("tomorrow", ahead=1)), 2),
        ("friday at 20:00", When(at=time(20), day=Day("friday", weekday=4)), 3),
        ("8 pm 2026-02-01", When(at=time(20), day=Day("2026-02-01", date=date(2026, 2, 1))), 3),
        ("every friday 18:00", When("weekly", at=time(18), weekday=4), 3),
        ("daily 8am", When("daily", at=time(8)), 2),
    ],
)
def test_when(typed: str, when: When, used: int) -> None:
    assert read_when(typed.split()) == (when, used)


def test_when_becomes_a_moment_in_a_zone() -> None:
    tomorrow, _ = read_when(["tomorrow", "9am"])
    assert due(tomorrow, NOW, ZoneInfo("Europe/Berlin")) == datetime(2026, 1, 2, 8, tzinfo=UTC)
    with pytest.raises(WhenError, match="today 09:00 has passed already"):
        due(read_when(["today", "9am"])[0], NOW, ZUTC)
    with pytest.raises(TimeOfDayError, match="25:00 is not a time of day"):
        read_when(["at", "25:00"])
    assert starts_moment(["fri", "8pm"]) and starts_moment(["2026-13-01"])
    assert not starts_moment(["in", "2h"]) and not starts_moment(["Movie"])


def test_every_command_takes_the_new_forms() -> None:
    when, rest = parse_when("tomorrow 9am  stretch  now")
    assert (when.day, when.at, rest) == (Day("tomorrow", ahead=1), time(9), "stretch  now")
    assert parse_moment(["friday", "at", "8pm"], NOW, ZUTC).at == datetime(
        2026, 1, 2, 20, tzinfo=UTC
    )
    assert parse_add("raid 1h Go!").minutes == 60


def test_words_for_people() -> None:
    assert [plural(n, "minute") for n in (0, 1, 2)] == ["0 minutes", "1 minute", "2 minutes"]
    assert span(timedelta(minutes=1565)) == "1d 2h"
    assert span(timedelta(minutes=1565), exact=True) == "1d 2h 5m"
    assert span(timedelta(minutes=61), words=True) == "1 hour 1 minute"
    assert [unquoted(t) for t in ("'movie night'", '"movie night"', "“a”", '"half')] == [
        "movie night",
        "movie night",
        "a",
        '"half',
    ]
