"""Reading ``!timer add`` lines, and the timer rules that need no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from waddlebot.core.language import split_word, words_after
from waddlebot.features.timers.parsing import AddTimer, TimerSyntaxError, parse_add
from waddlebot.features.timers.service import TimerError, check_definition, check_name, next_run


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("rules 15 Be kind!", AddTimer("rules", 15, 0, "Be kind!")),
        ("rules 15m Be  'kind'  ", AddTimer("rules", 15, 0, "Be  'kind'")),
        ("ads 30 -lines=10 Follow us", AddTimer("ads", 30, 10, "Follow us")),
        ("ads -lines=10 30 Follow us", AddTimer("ads", 30, 10, "Follow us")),
        ("-LINES=5 ads 30 Follow us", AddTimer("ads", 30, 5, "Follow us")),
        ("ads 30 Follow us -lines=10", AddTimer("ads", 30, 0, "Follow us -lines=10")),
        ("Ads 30 two\nlines", AddTimer("Ads", 30, 0, "two\nlines")),
    ],
)
def test_parse_add(text: str, expected: AddTimer) -> None:
    assert parse_add(text) == expected


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", "which timer?"),
        ("-lines=3", "which timer?"),
        ("rules", "every how many minutes?"),
        ("rules soon Be kind", "'soon' is not a number of minutes"),
        ("rules 15", "what should timer rules say?"),
        ("rules 15 -lines=4", "what should timer rules say?"),
        ("rules 15 -lines=many hi", "-lines= takes a whole number"),
        ("rules -lines=1 15 -lines=2 hi", "give -lines= once"),
    ],
)
def test_parse_add_errors(text: str, error: str) -> None:
    with pytest.raises(TimerSyntaxError, match=error):
        parse_add(text)


def test_words() -> None:
    assert split_word("  add  rules   15 x") == ("add", "rules   15 x")
    assert split_word("   ") == ("", "")
    assert words_after("!timer add rules  15   hi  there ", 2) == "rules  15   hi  there"
    assert words_after("!timer list", 2) == ""


def test_names_and_limits() -> None:
    assert check_name(" Rules ") == "rules"
    for bad in ("", "!rules", "a b", "x" * 33, "-x"):
        with pytest.raises(TimerError, match="not a timer name"):
            check_name(bad)
    assert check_definition(5, "  hi ", 0) == "hi"
    assert check_definition(1440, "x" * 500, 1000) == "x" * 500
    for minutes, message, lines, error in [
        (4, "hi", 0, "every 5 to 1440 minutes"),
        (1441, "hi", 0, "every 5 to 1440 minutes"),
        (5, "  ", 0, "needs a message"),
        (5, "x" * 501, 0, "at most 500 characters"),
        (5, "hi", 1001, "0 to 1000 chat lines"),
        (5, "hi", -1, "0 to 1000 chat lines"),
    ]:
        with pytest.raises(TimerError, match=error):
            check_definition(minutes, message, lines)


def test_next_run_keeps_the_cadence_and_skips_missed_runs() -> None:
    seen = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert next_run(seen, 5, seen) == seen + timedelta(minutes=5)
    assert next_run(seen, 5, seen + timedelta(minutes=1)) == seen + timedelta(minutes=5)
    assert next_run(seen, 5, seen + timedelta(minutes=5)) == seen + timedelta(minutes=10)
    assert next_run(seen, 5, seen + timedelta(minutes=23)) == seen + timedelta(minutes=25)
