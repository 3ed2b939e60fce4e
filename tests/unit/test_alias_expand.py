"""Alias lines: placeholders, quoting and the checks on a definition."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from waddlebot.core.parser import parse_command
from waddlebot.services.aliases import (
    AliasError,
    AliasInfo,
    check_alias_name,
    expand,
    normalise_expansion,
    target_name,
)


@pytest.mark.parametrize(
    ("line", "args", "expected"),
    [
        ("so $1", ["bob"], "so bob"),
        ("so $1 and $2", ["a"], "so a and"),
        ("echo $@", ["a", "b"], "echo a b"),
        ("echo", ["a", "b"], "echo a b"),  # no placeholder: appended
        ("echo hi $user", ["a"], "echo hi ada a"),  # $user is not positional: appended
        ("greet $1", ["two words"], 'greet "two words"'),
        ("greet $1", ['say "hi" now'], "greet 'say \"hi\" now'"),
        ("echo $10", ["a"], "echo a0"),  # $1 then a literal 0, as in a shell
        ("echo $x costs $", [], "echo $x costs $"),
        ("echo $username", [], "echo $username"),  # $user only as a whole word
    ],
)
def test_expand(line: str, args: list[str], expected: str) -> None:
    assert expand(line, args, "ada") == expected


@given(st.lists(st.text(min_size=1).filter(lambda t: t.strip() and "\x00" not in t), max_size=9))
def test_each_argument_reaches_the_command_as_one_argument(args: list[str]) -> None:
    clean = [" ".join(arg.split()) for arg in args]
    clean = [a for a in clean if a and not ('"' in a and "'" in a)]
    line = expand("echo " + " ".join(f"${n}" for n in range(1, len(clean) + 1)), clean, "x")
    parsed = parse_command("!" + line)
    assert parsed is not None
    assert list(parsed.args) == clean


@pytest.mark.parametrize(
    ("typed", "prefix", "stored"),
    [
        ("!so $1", "!", "so $1"),
        ("?so $1", "?", "so $1"),
        ("!so $1", "?", "so $1"),  # '!' out of habit
        ("!SO   $1", "!", "so   $1"),
        ("#weather $@", "!", "#weather $@"),
    ],
)
def test_definitions_are_stored_without_the_prefix(typed: str, prefix: str, stored: str) -> None:
    assert normalise_expansion(typed, prefix) == stored
    assert AliasInfo("x", stored, False).shown(prefix).endswith(stored)


@pytest.mark.parametrize("typed", ["so $1", "! so", "!", "!1st", "!" + "x" * 400])
def test_lines_that_are_not_commands_are_refused(typed: str) -> None:
    with pytest.raises(AliasError):
        normalise_expansion(typed, "!")


def test_names_and_targets() -> None:
    assert check_alias_name("!Hi") == "hi"
    assert target_name("so $1") == "so"
    assert target_name("#weather now") == "weather"
    for bad in ("", "9lives", "a b", "x" * 33, "h!"):
        with pytest.raises(AliasError):
            check_alias_name(bad)
