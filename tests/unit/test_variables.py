"""The response variable engine: parsing, rendering and the standard variables."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from waddlebot.core.clock import ManualClock
from waddlebot.core.variables import (
    MAX_DEPTH,
    ChainResolver,
    StandardVariables,
    Text,
    Variable,
    VariableContext,
    parse,
    render,
    truncate,
)

NOON = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def context(**overrides: object) -> VariableContext:
    values: dict[str, object] = {
        "user": "alice",
        "args": ("@bob", "two", "three"),
        "query": "@bob two three",
        "channel": "penguins",
        "platform": "twitch",
        "clock": ManualClock(NOON),
        "rng": random.Random(7),
    }
    values.update(overrides)
    return VariableContext(**values)  # type: ignore[arg-type]


async def standard(template: str, **overrides: object) -> str:
    return await render(template, StandardVariables(context(**overrides)))


class Echo:
    """Shows what it was asked: ``<name|arg|arg>``; knows every name but ``nope``."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str]]] = []

    async def resolve(self, name: str, args: list[str]) -> str | None:
        self.calls.append((name, args))
        return None if name == "nope" else "<" + "|".join([name, *args]) + ">"


class Boom:
    async def resolve(self, name: str, args: list[str]) -> str | None:
        raise RuntimeError("broken resolver")


class Fixed:
    def __init__(self, answers: dict[str, str]) -> None:
        self.answers = answers

    async def resolve(self, name: str, args: list[str]) -> str | None:
        return self.answers.get(name)


# --- parsing ---------------------------------------------------------------------------------


def test_parse_text_and_variables() -> None:
    assert parse("hi $(user)!") == [
        Text("hi "),
        Variable("user", (), "$(user)"),
        Text("!"),
    ]


def test_parse_nested_and_quoted_arguments() -> None:
    (node,) = parse("$(random.pick $(user) 'b c' \"d)\")")
    assert isinstance(node, Variable)
    assert node.name == "random.pick"
    assert node.args == (
        (Variable("user", (), "$(user)"),),
        (Text("b c"),),
        (Text("d)"),),
    )


def test_parse_unclosed_is_literal_but_inner_variables_still_count() -> None:
    assert parse("$(a") == [Text("$(a")]
    assert parse("x $(a $(b) y") == [Text("x $(a "), Variable("b", (), "$(b)"), Text(" y")]
    assert parse("$(a 'open") == [Text("$(a 'open")]


def test_parse_escape() -> None:
    assert parse(r"cost: \$(5) $(user)") == [
        Text("cost: $(5) "),
        Variable("user", (), "$(user)"),
    ]
    assert parse(r"a \ b") == [Text(r"a \ b")]


def test_parse_depth_is_bounded() -> None:
    template = "$(a " * (MAX_DEPTH + 2) + "x" + ")" * (MAX_DEPTH + 2)
    (node,) = parse(template)
    depth = 0
    while isinstance(node, Variable):
        depth += 1
        node = node.args[0][0]
    assert depth == MAX_DEPTH
    assert node == Text("$(a $(a x))")  # the two levels too deep stay literal


# --- rendering -------------------------------------------------------------------------------


async def test_both_syntaxes_mean_the_same() -> None:
    assert await standard("$(user) ${user} ${sender}") == "alice alice alice"


async def test_inner_variables_render_first() -> None:
    echo = Echo()
    assert await render("$(outer $(inner 1) 'x y')", echo) == "<outer|<inner|1>|x y>"
    assert echo.calls == [("inner", ["1"]), ("outer", ["<inner|1>", "x y"])]


async def test_empty_quoted_argument_is_kept() -> None:
    assert await render("$(f '' b)", Echo()) == "<f||b>"


async def test_unknown_variables_stay_visible_as_written() -> None:
    assert await render("a ${nope  x 'y z'} b", Echo()) == "a ${nope  x 'y z'} b"
    assert await standard("hi $(doesnotexist) $()") == "hi $(doesnotexist) $()"


async def test_failing_resolver_leaves_variable_and_continues() -> None:
    chain = ChainResolver(Fixed({"ok": "fine"}), Boom())
    assert await render("$(ok) $(bad arg) $(ok)", chain) == "fine $(bad arg) fine"


async def test_chain_tries_each_in_turn() -> None:
    chain = ChainResolver(Fixed({"a": "1"}), Fixed({"a": "2", "b": "3"}))
    assert await render("$(a)$(b)$(c)", chain) == "13$(c)"


async def test_cut_at_max_length_on_word_boundary() -> None:
    out = await render("$(long)", Fixed({"long": "word " * 200}), max_length=23)
    assert out == "word word word word…"
    assert len(out) <= 23
    out = await render("x" * 100, Fixed({}), max_length=10)
    assert out == "x" * 9 + "…"
    assert await render("short", Fixed({}), max_length=10) == "short"


async def test_variable_budget_stops_resolving() -> None:
    echo = Echo()
    assert await render("$(a)$(a)$(a)", echo, max_variables=2) == "<a><a>$(a)"
    assert len(echo.calls) == 2


async def test_nothing_is_resolved_past_the_limit() -> None:
    echo = Echo()
    await render("x" * 50 + "$(a)", echo, max_length=20)
    assert echo.calls == []


def test_truncate_edges() -> None:
    assert truncate("abc", 0) == ""
    assert truncate("abc", 1) == "\u2026"
    assert truncate("hello world", 7) == "hello\u2026"


# --- standard variables ----------------------------------------------------------------------


async def test_user_touser_and_positions() -> None:
    assert await standard("$(user) -> $(touser)") == "alice -> bob"
    assert await standard("$(touser)", args=()) == "alice"
    assert await standard("$(1)|$(2)|$(3)|$(4)") == "@bob|two|three|"
    assert await standard("$(2:)|$(1:)|$(9:)") == "two three|@bob two three|"
    assert await standard("$(5 nobody here)") == "nobody here"  # a default for a missing arg


async def test_query_channel_platform() -> None:
    ctx = {"query": "a b&c"}
    assert await standard("$(query)", **ctx) == "a b&c"
    assert await standard("$(querystring)", **ctx) == "a%20b%26c"
    assert await standard("$(channel) on $(platform)") == "penguins on twitch"


async def test_random_range_and_pick() -> None:
    for _ in range(30):
        value = int(await standard("$(random 1-3)", rng=random.Random()))
        assert 1 <= value <= 3
    assert await standard("$(random 5-5)") == "5"
    assert await standard("$(random -2--2)") == "-2"
    for bad in ("$(random 9-1)", "$(random x)", "$(random)", "$(random 1-9999999999999999999)"):
        assert await standard(bad) == bad
    picked = {await standard("$(random.pick 'a b' c)", rng=random.Random(i)) for i in range(40)}
    assert picked == {"a b", "c"}
    assert await standard("$(random.pick)") == "$(random.pick)"


async def test_nested_standard_variables() -> None:
    out = await standard("$(random.pick $(user) $(user))")
    assert out == "alice"


async def test_time() -> None:
    assert await standard("$(time Europe/Berlin)") == "13:00 CET"
    assert await standard("$(time)") == "12:00 UTC"
    assert await standard("$(time Mars/Olympus)") == "(unknown time zone Mars/Olympus)"
    assert await standard("$(time ../../etc/passwd)") == "(unknown time zone ../../etc/passwd)"


async def test_uptime_and_game() -> None:
    assert await standard("$(uptime) $(game)") == "offline (no game)"
    live = NOON - timedelta(hours=2, minutes=5, seconds=9)
    assert await standard("${uptime} ${game}", live_since=live, game="Celeste") == "2h 5m Celeste"
    assert await standard("$(uptime)", live_since=NOON - timedelta(seconds=42)) == "42s"
    assert await standard("$(uptime)", live_since=NOON - timedelta(days=1, minutes=3)) == (
        "1d 0h 3m"
    )


async def test_names_are_case_insensitive() -> None:
    assert await standard("$(USER)") == "alice"


# --- properties ------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_parse_never_raises(template: str) -> None:
    parse(template)


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet=st.sampled_from(list("$(){}'\" \\ab")) | st.characters(), max_size=300),
    st.integers(min_value=0, max_value=80),
)
async def test_render_never_raises_and_is_bounded(template: str, max_length: int) -> None:
    out = await render(template, ChainResolver(StandardVariables(context()), Echo(), Boom()))
    assert len(out) <= 500
    out = await render(template, Echo(), max_length=max_length)
    assert len(out) <= max_length


@settings(max_examples=200, deadline=None)
@given(st.text().filter(lambda text: "$" not in text))
async def test_text_without_dollar_round_trips(template: str) -> None:
    assert await render(template, Echo(), max_length=10_000) == template


@pytest.mark.timeout(10)
async def test_pathological_input_still_parses_and_renders() -> None:
    template = ("$(a '" + "$(" * 50 + "\\$ ") * 400
    assert len(parse(template)) >= 1
    await render(template, Echo())


async def test_resolved_values_are_not_parsed_again() -> None:
    out = await render("$(a)", ChainResolver(Fixed({"a": "$(user) ${b}"}), Echo()))
    assert out == "$(user) ${b}"
