"""Alias lines: placeholders, quoting and the checks on a definition."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from waddlebot.core.parser import parse_command, split_args
from waddlebot.features.alias.service import (
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


def test_a_quoted_argument_keeps_its_quotes_through_an_alias() -> None:
    """``!e "'x'"`` gives the argument ``'x'``, quotes and all: the command must get that."""
    (typed,) = split_args("\"'x'\"")
    assert typed == "'x'"
    line = expand("echo $1", [typed], "ada")
    parsed = parse_command("!" + line)
    assert parsed is not None
    assert parsed.args == ("'x'",)


# what people type after an alias: words, spaces, every kind of quote the parser knows
_typed = st.text(
    alphabet=st.sampled_from(list("ab $@\t\"'\u201c\u201d\u2018\u2019\u201e")) | st.characters(),
    max_size=60,
)


@example("\"'x'\"")
@example('"a"b c" \'d e\' \u201cf g\u201d')
@example("\u2018\" ' \u201d x\u2019")
@example('" "')
@example('"a"\'\u201d\u2019\u201cb  \u201e\u201c')
@given(_typed)
def test_each_argument_reaches_the_command_as_the_argument_typed(text: str) -> None:
    """Whatever follows an alias, the command it runs gets the same arguments: through
    ``$@``, through ``$1``...``$n`` in any order and when they are appended."""
    args = list(split_args(text))
    lines = [(expand("echo $@", args, "x"), args), (expand("echo", args, "x"), args)]
    if len(args) <= 9:
        numbers = range(1, len(args) + 1)
        lines.append((expand("echo " + " ".join(f"${n}" for n in numbers), args, "x"), args))
        backwards = " ".join(f"${n}" for n in reversed(numbers))
        lines.append((expand(f"echo {backwards}", args, "x"), args[::-1]))
    for line, expected in lines:
        parsed = parse_command("!" + line)
        assert parsed is not None
        assert list(parsed.args) == expected


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
