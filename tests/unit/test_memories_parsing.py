"""What people type for memories, read without a database: reminder times (and the moments
they lead to, across daylight saving changes), searches, links and note labels."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from waddlebot.core.language import When, WhenError, next_due, span, unquoted
from waddlebot.features.memories.chat.notes import text_and_labels
from waddlebot.features.memories.chat.reminders import describe
from waddlebot.features.memories.notes import check_labels
from waddlebot.features.memories.reminders import first_due, parse_when
from waddlebot.features.memories.search import parse_search
from waddlebot.features.memories.service import MemoriesError
from waddlebot.features.memories.urls import check_url

BERLIN = ZoneInfo("Europe/Berlin")
ZUTC = ZoneInfo("UTC")
NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)  # a Thursday; 13:00 in Berlin


@pytest.mark.parametrize(
    ("typed", "when", "rest"),
    [
        ("in 10m tea", When("once", delay=timedelta(minutes=10)), "tea"),
        (
            "in 1h30m  keep   my spacing",
            When("once", delay=timedelta(minutes=90)),
            "keep   my spacing",
        ),
        ("IN 2 hours and 5 mins go", When("once", delay=timedelta(minutes=125)), "go"),
        ("in 1d 2h x", When("once", delay=timedelta(days=1, hours=2)), "x"),
        ("in 1 week", When("once", delay=timedelta(weeks=1)), ""),
        ("10m 5 things to do", When("once", delay=timedelta(minutes=10)), "5 things to do"),
        ("in 10m and then", When("once", delay=timedelta(minutes=10)), "and then"),
        ("at 18:30 x", When("once", at=time(18, 30)), "x"),
        ("at 6:05pm x", When("once", at=time(18, 5)), "x"),
        ("at 6 pm x", When("once", at=time(18)), "x"),
        ("at 12am x", When("once", at=time(0)), "x"),
        ("18:30 x", When("once", at=time(18, 30)), "x"),
        ("9pm x", When("once", at=time(21)), "x"),
        ("every monday 20:00 raid", When("weekly", at=time(20), weekday=0), "raid"),
        ("every Sundays at 9am x", When("weekly", at=time(9), weekday=6), "x"),
        ("every fri 7:30 x", When("weekly", at=time(7, 30), weekday=4), "x"),
        ("every day 08:00 x", When("daily", at=time(8)), "x"),
        ("daily at 08:00 x", When("daily", at=time(8)), "x"),
    ],
)
def test_reminder_times_people_write(typed: str, when: When, rest: str) -> None:
    assert parse_when(typed) == (when, rest)


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        ("", "when?"),
        ("soon", "when?"),
        ("in", "in how long?"),
        ("in 10 parsecs", "in how long?"),
        ("in 5s", "'5s' is not a duration"),
        ("in 0m", "at least 1 minute"),
        ("in 366d", "at most 365 days"),
        ("in 9999999m", "in how long?"),  # more digits than any real reminder
        ("at", "at what time?"),
        ("at noon", "at what time?"),
        ("at 24:00", "not a time of day"),
        ("at 18:60", "not a time of day"),
        ("at 0pm", "with am or pm the hour is 1 to 12"),
        ("every", "every what?"),
        ("every moonday 20:00", "'moonday' is neither"),
        ("every monday", "at what time?"),
    ],
)
def test_unreadable_times_say_why(typed: str, problem: str) -> None:
    with pytest.raises(WhenError, match=problem):
        parse_when(typed)


def test_at_a_time_is_today_or_else_tomorrow_in_the_zone() -> None:
    later_today = When("once", at=time(18, 30))
    assert first_due(later_today, NOW, BERLIN) == datetime(2026, 1, 1, 17, 30, tzinfo=UTC)
    now_there = When("once", at=time(13, 0))  # exactly now in Berlin: tomorrow
    assert first_due(now_there, NOW, BERLIN) == datetime(2026, 1, 2, 12, 0, tzinfo=UTC)
    assert first_due(now_there, NOW, ZUTC) == datetime(2026, 1, 1, 13, 0, tzinfo=UTC)


def test_recurring_times_keep_the_local_hour_across_daylight_saving() -> None:
    sunday = When("weekly", at=time(20), weekday=6)
    before = first_due(sunday, datetime(2026, 3, 23, tzinfo=UTC), BERLIN)
    assert before == datetime(2026, 3, 29, 18, 0, tzinfo=UTC)  # summer time began that night
    winter = next_due("weekly", 6, time(20), BERLIN, datetime(2026, 3, 28, tzinfo=UTC))
    assert winter == before
    assert next_due("weekly", 6, time(20), BERLIN, before) == datetime(
        2026, 4, 5, 18, 0, tzinfo=UTC
    )
    assert next_due("weekly", 6, time(20), BERLIN, datetime(2026, 3, 20, tzinfo=UTC)) == datetime(
        2026, 3, 22, 19, 0, tzinfo=UTC
    )
    # 02:30 does not exist in Berlin on 2026-03-29: it comes an hour later by the clock
    gap = next_due("daily", None, time(2, 30), BERLIN, datetime(2026, 3, 29, tzinfo=UTC))
    assert gap == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)


def test_a_given_moment_must_be_ahead_and_within_a_year() -> None:
    assert first_due(When("once", moment=NOW + timedelta(hours=2)), NOW, ZUTC) == NOW + timedelta(
        hours=2
    )
    for moment, problem in (
        (NOW, "at least 1 minute"),
        (NOW + timedelta(days=366), "at most 365 days"),
        (datetime(2026, 2, 1), "with its zone"),
    ):
        with pytest.raises(WhenError, match=problem):
            first_due(When("once", moment=moment), NOW, ZUTC)


def test_times_are_described_for_people() -> None:
    due = datetime(2026, 1, 1, 17, 30, tzinfo=UTC)
    assert describe("once", None, "", due, BERLIN, NOW) == "today at 18:30 Europe/Berlin"
    tomorrow = due + timedelta(days=1)
    assert describe("once", None, "", tomorrow, ZUTC, NOW) == "tomorrow at 17:30 UTC"
    assert describe("once", None, "", due + timedelta(days=9), ZUTC, NOW) == (
        "on 2026-01-10 at 17:30 UTC"
    )
    assert describe("weekly", 2, "20:00", due, ZUTC, NOW) == "every Wednesday at 20:00 UTC"
    assert describe("daily", None, "08:00", due, BERLIN, NOW) == "every day at 08:00 Europe/Berlin"
    assert [span(timedelta(minutes=m)) for m in (0, 10, 60, 125, 1440, 1500, 4320)] == [
        "0m",
        "10m",
        "1h",
        "2h 5m",
        "1d",
        "1d 1h",
        "3d",
    ]


@pytest.mark.parametrize(
    ("typed", "websearch", "fts5"),
    [
        ("pizza", "pizza", '("pizza")'),
        ("Brown  FOX", "Brown FOX", '("Brown" AND "FOX")'),
        ('"quick brown" fox', '"quick brown" fox', '("quick brown" AND "fox")'),
        ("fox -dog", "fox -dog", '("fox" NOT "dog")'),
        ('fox -"brown dog"', 'fox -"brown dog"', '("fox" NOT "brown dog")'),
        ("cats or dogs", "cats or dogs", '("cats") OR ("dogs")'),
        ("don't", '"don t"', '("don t")'),
        ("“curly quotes”", '"curly quotes"', '("curly quotes")'),
        ("fox NEAR dog*", "fox NEAR dog", '("fox" AND "NEAR" AND "dog")'),
        ('say "hi', "say hi", '("say" AND "hi")'),  # an unclosed quote runs to the end
    ],
)
def test_searches_read_the_same_for_both_databases(typed: str, websearch: str, fts5: str) -> None:
    query = parse_search(typed)
    assert (query.websearch(), query.fts5()) == (websearch, fts5)


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        ("", "say what to look for"),
        ("!!! ???", "say what to look for"),
        ("-pizza", "not only what to leave out"),
        ("pizza or -pasta", "not only what to leave out"),
        ("or or", "say what to look for"),
        ("a " * 17, "at most 16 words"),
        ("x" * 201, "at most 200 characters"),
    ],
)
def test_searches_with_nothing_to_look_for_are_refused(typed: str, problem: str) -> None:
    with pytest.raises(MemoriesError, match=problem):
        parse_search(typed)


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("https://example.com/Rules?a=1#top", "https://example.com/Rules?a=1#top"),
        ("HTTP://EXAMPLE.com/Path", "http://example.com/Path"),
        ("example.com", "https://example.com"),
        ("<https://example.com/quiet>", "https://example.com/quiet"),
        ("http://localhost:8000/x", "http://localhost:8000/x"),
    ],
)
def test_links_are_stored_as_web_addresses(typed: str, stored: str) -> None:
    assert check_url(typed) == stored


@pytest.mark.parametrize(
    "typed", ["notalink", "ftp://example.com", "javascript:alert(1)", "https://", "http://.com"]
)
def test_what_is_not_a_web_address_is_refused(typed: str) -> None:
    with pytest.raises(MemoriesError, match="is not a web address"):
        check_url(typed)


def test_note_labels_are_the_hashtags_ending_the_line() -> None:
    assert text_and_labels("buy a mic  #todo #Gear") == ("buy a mic", ["#todo", "#Gear"])
    assert text_and_labels("the #1 rule: be kind") == ("the #1 rule: be kind", [])
    assert text_and_labels("#only #labels") == ("", ["#only", "#labels"])
    assert text_and_labels("price in # signs #") == ("price in # signs #", [])
    assert check_labels(["#Todo", "todo", "gear-2"]) == ("todo", "gear-2")
    with pytest.raises(MemoriesError, match="at most 10 labels"):
        check_labels([f"l{n}" for n in range(11)])
    assert len(check_labels([f"l{n % 10}" for n in range(20)])) == 10  # repeats count once


def test_quotes_lose_one_pair_of_quotation_marks() -> None:
    assert unquoted('"to be or not"') == "to be or not"
    assert unquoted("„so“") == "so"
    assert unquoted('"half') == '"half'
    assert unquoted('say "this" now') == 'say "this" now'
