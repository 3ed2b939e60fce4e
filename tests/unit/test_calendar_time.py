"""Reading and writing moments for the calendar: the forms ``!event add`` accepts, in a time
zone, with clear errors; durations; recurrence kept at the same wall-clock time across
daylight saving; and when the next reminder is due."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from waddlebot.core.language import WhenError, format_moment, span
from waddlebot.features.calendar.parsing import (
    EventSyntaxError,
    event_minutes,
    parse_add,
    parse_moment,
    parse_offsets,
)
from waddlebot.features.calendar.recurrence import (
    RecurrenceError,
    current_or_next,
    describe,
    make_rule,
    next_reminder,
    occurrences,
)

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)  # a Thursday
UTC_ZONE = ZoneInfo("UTC")
BERLIN = ZoneInfo("Europe/Berlin")


def at(text: str, zone: ZoneInfo = UTC_ZONE, now: datetime = NOW) -> datetime:
    return parse_moment(text.split(), now, zone).at


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-05 20:00", datetime(2026, 12, 5, 20, 0, tzinfo=UTC)),
        ("tomorrow 8pm", datetime(2026, 1, 2, 20, 0, tzinfo=UTC)),
        ("Tomorrow 8:30PM", datetime(2026, 1, 2, 20, 30, tzinfo=UTC)),
        ("today 12pm", datetime(2026, 1, 1, 12, 0, tzinfo=UTC) + timedelta(days=0)),
        ("today 13:00", datetime(2026, 1, 1, 13, 0, tzinfo=UTC)),
        ("friday 19:30", datetime(2026, 1, 2, 19, 30, tzinfo=UTC)),
        ("fri 7 pm", datetime(2026, 1, 2, 19, 0, tzinfo=UTC)),
        ("thursday 11:00", datetime(2026, 1, 8, 11, 0, tzinfo=UTC)),  # today's has passed
        ("thursday 13:00", datetime(2026, 1, 1, 13, 0, tzinfo=UTC)),  # today's is ahead
        ("8pm tomorrow", datetime(2026, 1, 2, 20, 0, tzinfo=UTC)),
        ("12am sat", datetime(2026, 1, 3, 0, 0, tzinfo=UTC)),
    ],
)
def test_the_forms_people_type(text: str, expected: datetime) -> None:
    if text == "today 12pm":  # noon is now: not ahead
        with pytest.raises(WhenError, match="has passed already"):
            at(text)
        return
    assert at(text) == expected


def test_words_used_and_time_zones() -> None:
    when = parse_moment(["friday", "8", "pm", "2h", "weekly"], NOW, BERLIN)
    assert when.used == 3
    assert when.at == datetime(2026, 1, 2, 19, 0, tzinfo=UTC)  # 20:00 CET
    summer = parse_moment(["2026-07-01", "20:00"], NOW, BERLIN).at
    assert summer == datetime(2026, 7, 1, 18, 0, tzinfo=UTC)  # 20:00 CEST
    # in Auckland it is already Friday 01:00: "friday" is today there
    assert at("friday 9am", ZoneInfo("Pacific/Auckland")) == datetime(2026, 1, 1, 20, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", "when?"),
        ("soon", "'soon' is not a day or a time"),
        ("friday", "at what time on friday?"),
        ("friday noonish", "at what time on friday?"),
        ("20:00", "on which day? e.g. 20:00 tomorrow"),
        ("2026-13-01 20:00", "2026-13-01 is not a date"),
        ("friday 24:00", "24:00 is not a time of day"),
        ("friday 0pm", "0pm is not a time of day"),
        ("2025-12-31 20:00", "2025-12-31 20:00 has passed already"),
        ("2029-06-01 20:00", "more than 3 years ahead"),
    ],
)
def test_clear_errors(text: str, error: str) -> None:
    with pytest.raises(WhenError, match=re.escape(error)):
        at(text)


def test_a_time_the_clocks_skip_is_refused() -> None:
    with pytest.raises(WhenError, match="02:30 does not exist on 2026-03-29 in Europe/Berlin"):
        at("2026-03-29 02:30", BERLIN)


def test_durations_and_how_they_read() -> None:
    assert [event_minutes(w) for w in ("2h", "90m", "90min", "1h30m", "1h30", "1d", "1d2h")] == [
        120,
        90,
        90,
        90,
        90,
        1440,
        1560,
    ]
    assert [event_minutes(w) for w in ("90", "snacks", "20:00", "8pm", "")] == [None] * 5
    with pytest.raises(WhenError, match="1 minute to 7 days"):
        event_minutes("8d")
    assert [span(timedelta(minutes=m), exact=True) for m in (120, 90, 45, 1560)] == [
        "2h",
        "1h 30m",
        "45m",
        "1d 2h",
    ]
    assert span(timedelta(minutes=14, seconds=57), words=True) == "15 minutes"
    assert span(timedelta(hours=23, minutes=59, seconds=57), words=True) == "1 day"
    assert span(timedelta(days=1, hours=8), words=True) == "1 day 8 hours"
    assert span(timedelta(hours=2, minutes=1), words=True) == "2 hours 1 minute"
    assert span(timedelta(seconds=10), words=True) == "less than a minute"
    moment = datetime(2026, 12, 5, 19, 0, tzinfo=UTC)
    assert format_moment(moment, BERLIN, NOW) == "Sat 5 Dec 20:00 CET"
    assert format_moment(moment, BERLIN, NOW + timedelta(days=400)) == "Sat 5 Dec 2026 20:00 CET"


def test_weekly_events_keep_their_wall_clock_time() -> None:
    start = datetime(2026, 3, 20, 19, 0, tzinfo=UTC)  # Friday 20:00 CET
    found = list(_take(occurrences(start, BERLIN, "FREQ=WEEKLY", start), 3))
    assert [o.astimezone(BERLIN).hour for o in found] == [20, 20, 20]
    assert [o.hour for o in found] == [19, 19, 18]  # summer time from 29 March
    biweekly = list(_take(occurrences(start, BERLIN, make_rule("weekly", 2), start), 2))
    days = [o.astimezone(BERLIN).date() for o in biweekly]
    assert days[1] - days[0] == timedelta(days=14)


def test_monthly_events_skip_months_without_their_day() -> None:
    start = datetime(2026, 1, 31, 18, 0, tzinfo=UTC)
    found = list(_take(occurrences(start, UTC_ZONE, "FREQ=MONTHLY", start), 3))
    assert [o.date().isoformat() for o in found] == ["2026-01-31", "2026-03-31", "2026-05-31"]


def test_occurrences_from_a_moment_and_the_current_one() -> None:
    start = datetime(2026, 1, 2, 20, 0, tzinfo=UTC)
    later = datetime(2026, 1, 10, 0, 0, tzinfo=UTC)
    assert next(occurrences(start, UTC_ZONE, "FREQ=WEEKLY", later)) == datetime(
        2026, 1, 16, 20, 0, tzinfo=UTC
    )
    assert list(occurrences(start, UTC_ZONE, "", later)) == []  # a single event, over
    during = datetime(2026, 1, 9, 21, 0, tzinfo=UTC)  # an hour into the second one
    assert current_or_next(start, UTC_ZONE, "FREQ=WEEKLY", 120, during) == datetime(
        2026, 1, 9, 20, 0, tzinfo=UTC
    )
    ended = datetime(2026, 1, 9, 22, 0, tzinfo=UTC)  # it ends exactly now: the next one
    assert current_or_next(start, UTC_ZONE, "FREQ=WEEKLY", 120, ended) == datetime(
        2026, 1, 16, 20, 0, tzinfo=UTC
    )
    assert current_or_next(start, UTC_ZONE, "", 120, ended) is None


def test_next_reminder() -> None:
    start = datetime(2026, 1, 2, 20, 0, tzinfo=UTC)
    offsets = [1440, 15]
    assert next_reminder(start, UTC_ZONE, "", offsets, NOW) == datetime(
        2026, 1, 1, 20, 0, tzinfo=UTC
    )
    after_first = datetime(2026, 1, 1, 20, 0, tzinfo=UTC)
    assert next_reminder(start, UTC_ZONE, "", offsets, after_first) == datetime(
        2026, 1, 2, 19, 45, tzinfo=UTC
    )
    assert next_reminder(start, UTC_ZONE, "", offsets, start) is None
    assert next_reminder(start, UTC_ZONE, "FREQ=WEEKLY", offsets, start) == datetime(
        2026, 1, 8, 20, 0, tzinfo=UTC
    )
    assert next_reminder(start, UTC_ZONE, "FREQ=WEEKLY", [], NOW) is None


def test_rules_are_weekly_or_monthly() -> None:
    assert make_rule("weekly") == "FREQ=WEEKLY"
    assert make_rule("Monthly", 3) == "FREQ=MONTHLY;INTERVAL=3"
    assert [describe(r) for r in ("", "FREQ=WEEKLY", "FREQ=WEEKLY;INTERVAL=2")] == [
        "",
        "weekly",
        "every 2 weeks",
    ]
    with pytest.raises(RecurrenceError):
        make_rule("daily")
    with pytest.raises(RecurrenceError):
        make_rule("weekly", 13)
    with pytest.raises(RecurrenceError):
        describe("FREQ=DAILY")


def test_reading_event_add() -> None:
    wanted = parse_add(
        [
            "Movie",
            "night",
            "friday",
            "20:00",
            "2h",
            "every",
            "2",
            "weeks",
            "-max=8",
            "Bring",
            "snacks",
        ],
        NOW,
        UTC_ZONE,
    )
    assert (wanted.title, wanted.when.at, wanted.duration) == (
        "Movie night",
        datetime(2026, 1, 2, 20, 0, tzinfo=UTC),
        120,
    )
    assert (wanted.frequency, wanted.interval, wanted.capacity) == ("weekly", 2, 8)
    assert wanted.description == "Bring snacks"
    plain = parse_add(["Quiz", "tomorrow", "8pm"], NOW, UTC_ZONE)
    assert (plain.duration, plain.frequency, plain.capacity, plain.description) == (
        None,
        "",
        None,
        "",
    )
    # a title that holds a day word is quoted: one argument
    quoted = parse_add(["Friday fun", "friday", "8pm", "monthly"], NOW, UTC_ZONE)
    assert (quoted.title, quoted.frequency) == ("Friday fun", "monthly")
    for words, error in [
        ([], "what is the event called"),
        (["Quiz"], "when is it?"),
        (["friday", "8pm"], "on which day?"),  # the first word is always the title
        (["Quiz", "friday", "8pm", "weekly", "monthly"], "give the repeat once"),
        (["Quiz", "friday", "8pm", "-max=2", "-max=3"], "give -max= once"),
        (["Quiz", "friday", "8pm", "every", "0", "weeks"], "every 1 to 12"),
        (["Quiz", "friday", "8pm", "every", "fortnight", "x"], "every week, every month"),
    ]:
        with pytest.raises(EventSyntaxError, match=re.escape(error)):
            parse_add(words, NOW, UTC_ZONE)


def test_reading_reminder_offsets() -> None:
    assert parse_offsets(["1d", "15m"]) == [1440, 15]
    assert parse_offsets(["off"]) == []
    with pytest.raises(EventSyntaxError, match="'soon' is not a time before the start"):
        parse_offsets(["soon"])


def _take(iterator: object, count: int) -> list[datetime]:
    found = []
    for item in iterator:  # type: ignore[attr-defined]
        found.append(item)
        if len(found) == count:
            break
    return found
