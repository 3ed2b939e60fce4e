from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from waddlebot.core.parser import parse_command, quote_arg, split_args

names = st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,31}", fullmatch=True)
plain_args = st.lists(
    st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=20).filter(
        lambda a: not any(c.isspace() for c in a)
    ),
    max_size=6,
)
any_args = st.lists(st.text(st.characters(blacklist_categories=("Cs",)), max_size=20), max_size=6)


@pytest.mark.parametrize(
    ("text", "name", "args"),
    [
        ("!ping", "ping", ()),
        ("  !PING  ", "ping", ()),
        ('!quote add "hello world" it\'s fine', "quote", ("add", "hello world", "it's", "fine")),
        ("!so @bob", "so", ("@bob",)),
        ("!a \u201ccurly quotes\u201d x", "a", ("curly quotes", "x")),
        ('!say "unclosed quote here', "say", ('"unclosed', "quote", "here")),
        ('!say ""', "say", ("",)),
        ("!remind me   in 10m", "remind", ("me", "in", "10m")),
    ],
)
def test_examples(text: str, name: str, args: tuple[str, ...]) -> None:
    parsed = parse_command(text)
    assert parsed is not None
    assert (parsed.name, parsed.args, parsed.prefix) == (name, args, "!")


@pytest.mark.parametrize(
    "text",
    [
        "hello",
        "!",
        "! ping",
        "!!",
        "!1st",
        "!ping!",
        "#1 fan",
        "#2024",
        "#8ball!",
        "#" + "a" * 33,
        "",
        "   ",
    ],
)
def test_plain_chat_is_not_a_command(text: str) -> None:
    assert parse_command(text) is None


def test_serverless_prefix() -> None:
    parsed = parse_command("#Weather London")
    assert parsed is not None and parsed.serverless
    assert (parsed.prefix, parsed.name, parsed.args) == ("#", "weather", ("London",))


def test_a_serverless_command_may_start_with_a_digit_before_a_letter() -> None:
    parsed = parse_command("#8ball will it rain?")
    assert parsed is not None
    assert (parsed.name, parsed.args) == ("8ball", ("will", "it", "rain?"))


def test_community_prefix_replaces_bang() -> None:
    assert parse_command("!ping", "?") is None
    parsed = parse_command("?ping x", "?")
    assert parsed is not None and (parsed.prefix, parsed.name, parsed.args) == ("?", "ping", ("x",))
    multi = parse_command("wb!ping", "wb!")
    assert multi is not None and multi.name == "ping"


@given(st.text())
def test_never_raises_on_any_text(text: str) -> None:
    parsed = parse_command(text)
    if parsed is not None:
        assert parsed.name == parsed.name.lower()
        assert 1 <= len(parsed.name) <= 32
        assert parsed.rest == parsed.rest.strip()


@given(names, plain_args)
def test_unquoted_args_split_like_whitespace(name: str, args: list[str]) -> None:
    text = f"!{name} " + " ".join(args)
    parsed = parse_command(text)
    assert parsed is not None
    assert parsed.name == name.lower()
    assert parsed.rest == " ".join(args)
    if not any(a[0] in "\"'\u201c\u2018\u201e" for a in args):
        assert list(parsed.args) == args


@given(names, any_args)
def test_quoting_round_trips(name: str, args: list[str]) -> None:
    try:
        quoted = [quote_arg(a) for a in args]
    except ValueError:
        return  # an argument with every kind of quote and whitespace cannot be quoted
    parsed = parse_command(f"!{name} " + " ".join(quoted))
    assert parsed is not None
    assert list(parsed.args) == args


@given(st.text(max_size=200))
def test_split_args_never_loses_non_space_text(text: str) -> None:
    joined = "".join(split_args(text))
    quotes = set("\"'\u201c\u201d\u2018\u2019\u201e")
    kept = [c for c in text if not c.isspace() and c not in quotes]
    assert [c for c in joined if not c.isspace() and c not in quotes] == kept
