"""The converters of other bots' exports: variables kept, rewritten or reported, levels and
cooldowns, and entries that cannot be imported."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from waddlebot.core.permissions import Level
from waddlebot.features.commands.importer import (
    Imported,
    ImportFormatError,
    convert,
    convert_nightbot,
    convert_phantombot,
    convert_phantombot_line,
    convert_streamelements,
)

SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "imports"


def by_name(entries: list[Imported]) -> dict[str, Imported]:
    return {entry.name: entry for entry in entries}


def nightbot(message: str, **fields: object) -> Imported:
    (entry,) = convert_nightbot([{"name": "!x", "message": message, **fields}])
    return entry


def streamelements(reply: str, **fields: object) -> Imported:
    (entry,) = convert_streamelements([{"command": "x", "reply": reply, **fields}])
    return entry


# --- Nightbot --------------------------------------------------------------------------------


def test_nightbot_sample() -> None:
    entries = by_name(convert("nightbot", (SAMPLES / "nightbot.json").read_text()))
    assert len(entries) == 8 and not any(entry.error for entry in entries.values())
    hello = entries["!hello"]
    assert (hello.response, hello.level, hello.cooldown, hello.count) == (
        "Hello $(user), welcome to the stream!",
        Level.EVERYONE,
        5,
        0,
    )
    assert (entries["!deaths"].level, entries["!deaths"].count) == (Level.MODERATOR, 41)
    assert entries["!vipcheck"].level == Level.VIP  # regular
    assert entries["!so"].level == Level.VIP  # twitch_vip
    assert entries["!roll"].level == Level.SUBSCRIBER
    assert entries["!uptime"].warnings == [
        "$(twitch ...) has no counterpart here; it is left as written"
    ]
    assert entries["!roll"].warnings == [
        "$(eval ...) has no counterpart here; it is left as written"
    ]


@pytest.mark.parametrize(
    "message",
    [
        "$(user) $(touser) $(query) $(querystring)",
        "$(1) and $(9)",
        "$(count) uses",
        "$(urlfetch https://example.com/x)",
        "in $(channel) at $(time Europe/Berlin)",
    ],
)
def test_nightbot_variables_kept(message: str) -> None:
    entry = nightbot(message)
    assert (entry.response, entry.warnings, entry.error) == (message, [], "")


@pytest.mark.parametrize("name", ["eval", "twitch", "weather", "countdown", "countup"])
def test_nightbot_variables_reported(name: str) -> None:
    entry = nightbot(f"hi $(user), $({name} something)")
    assert entry.response == f"hi $(user), $({name} something)"  # left as written
    assert entry.warnings == [f"$({name} ...) has no counterpart here; it is left as written"]


def test_nightbot_nested_and_json_fetch_reported() -> None:
    nested = nightbot('$(twitch $(channel) "{{game}}") and $(weather)')
    assert [w.split(" has")[0] for w in nested.warnings] == ["$(twitch ...)", "$(weather)"]
    fetch = nightbot("$(urlfetch json https://example.com/a)")
    assert len(fetch.warnings) == 1 and "reads JSON" in fetch.warnings[0]


@pytest.mark.parametrize(
    ("user_level", "level"),
    [
        ("everyone", Level.EVERYONE),
        ("subscriber", Level.SUBSCRIBER),
        ("regular", Level.VIP),
        ("twitch_vip", Level.VIP),
        ("moderator", Level.MODERATOR),
        ("owner", Level.OWNER),
    ],
)
def test_nightbot_levels(user_level: str, level: Level) -> None:
    assert nightbot("hi", userLevel=user_level).level == level


def test_nightbot_malformed_entries_are_invalid_alone() -> None:
    entries = convert_nightbot(
        [
            {"name": "!a", "message": "ok", "coolDown": 30},
            {"name": "!b", "message": "x", "userLevel": "emperor"},
            {"name": "!c", "message": ""},
            {"name": "!d", "message": "x", "coolDown": -1},
            {"name": "!e", "message": "x", "count": "many"},
            "not an object",
        ]
    )
    assert [entry.name for entry in entries] == ["!a", "!b", "!c", "!d", "!e", "#6"]
    assert entries[0].error == "" and entries[0].cooldown == 30
    assert all(entry.error for entry in entries[1:])
    assert "emperor" in entries[1].error


def test_nightbot_api_shape_and_unreadable_exports() -> None:
    wrapped = json.dumps({"_total": 1, "commands": [{"name": "!a", "message": "hi"}]})
    assert [entry.name for entry in convert_nightbot(wrapped)] == ["!a"]
    with pytest.raises(ImportFormatError, match="not JSON"):
        convert_nightbot("{oops")
    with pytest.raises(ImportFormatError, match="list"):
        convert_nightbot('{"name": "!a"}')
    with pytest.raises(ImportFormatError, match="at most"):
        convert_nightbot([{"name": f"!c{i}", "message": "x"} for i in range(1001)])


# --- StreamElements --------------------------------------------------------------------------


def test_streamelements_sample() -> None:
    entries = by_name(convert("streamelements", (SAMPLES / "streamelements.json").read_text()))
    discord = entries["discord"]
    assert (discord.cooldown, discord.user_cooldown, discord.level, discord.count) == (
        15,
        30,
        Level.EVERYONE,
        5,
    )
    assert discord.response == "Join the Discord, ${user}: https://discord.gg/example"
    assert entries["pick"].level == Level.SUBSCRIBER
    assert entries["pick"].warnings == ["its aliases (!rps) are not imported"]
    assert entries["points"].warnings == [
        "${user.points} has no counterpart here; it is left as written"
    ]
    assert entries["say"].level == Level.MODERATOR and entries["say"].warnings == []
    old = entries["oldgiveaway"]
    assert (old.enabled, old.level) == (False, Level.ADMIN)  # supermod


@pytest.mark.parametrize(
    "reply",
    [
        "${user} ${sender} ${source} ${touser}",
        "${1} ${2:} ${1:}",
        "${count} ${count deaths +1} ${getcount deaths}",
        "${customapi https://example.com/a}",
        "${random.pick 'a' 'b c'} ${random 1-10}",
        "live ${uptime} in ${game} on ${channel}",
        "$(user) works too",
    ],
)
def test_streamelements_variables_kept(reply: str) -> None:
    entry = streamelements(reply)
    assert (entry.response, entry.warnings) == (reply, [])


@pytest.mark.parametrize(
    "variable", ["${user.points}", "${title}", "${random.chatter}", "${ai tell a joke}"]
)
def test_streamelements_unknown_variables_reported(variable: str) -> None:
    entry = streamelements(f"hey {variable}")
    assert len(entry.warnings) == 1 and "no counterpart" in entry.warnings[0]
    assert entry.response == f"hey {variable}"


@pytest.mark.parametrize(
    ("access", "level"),
    [
        (100, Level.EVERYONE),
        (250, Level.SUBSCRIBER),
        (300, Level.VIP),
        (400, Level.VIP),
        (500, Level.MODERATOR),
        (1000, Level.ADMIN),
        (1500, Level.OWNER),
    ],
)
def test_streamelements_levels(access: int, level: Level) -> None:
    assert streamelements("hi", accessLevel=access).level == level


def test_streamelements_malformed_entries() -> None:
    assert "level" in streamelements("hi", accessLevel=5000).error
    assert "cooldown" in streamelements("hi", cooldown=[1]).error
    assert "cooldown.user" in streamelements("hi", cooldown={"user": "soon"}).error
    assert "enabled" in streamelements("hi", enabled="yes").error
    assert streamelements("hi", cooldown=None).cooldown == 0


# --- PhantomBot ------------------------------------------------------------------------------


def test_phantombot_sample() -> None:
    entries = by_name(convert("phantombot", (SAMPLES / "phantombot.txt").read_text()))
    assert len(entries) == 8  # the comment line is not a command
    assert entries["!welcome"].response == "Welcome $(user)! Say hi to $(touser) too."
    assert entries["!lurk"].response == "$(user) is lurking, enjoy $(1 'the stream')!"
    assert entries["!raid"].response == "$(count) raids so far, thanks everyone"
    assert entries["!dice"].response == "$(user) rolls a $(random 1-6)"
    assert entries["!joke"].response == "$(customapi https://icanhazdadjoke.example/api)"
    assert entries["!status"].response == "Live for $(uptime) playing $(game)"
    points = entries["!points"]
    assert points.response == "$(user) has (points) (pointname) (and counting)"
    assert [w.split(" has")[0] for w in points.warnings] == ["(points)", "(pointname)"]
    assert all(entry.level == Level.EVERYONE and entry.cooldown == 0 for entry in entries.values())


@pytest.mark.parametrize(
    ("tag", "ours"),
    [
        ("(sender)", "$(user)"),
        ("(@sender)", "@$(user)"),
        ("(baresender)", "$(user)"),
        ("(touser)", "$(touser)"),
        ("(1)", "$(1)"),
        ("(9)", "$(9)"),
        ("(2|nobody)", "$(2 nobody)"),
        ("(1=sender)", "$(1 $(user))"),
        ("(echo)", "$(query)"),
        ("(count)", "$(count)"),
        ("(customapi https://a.example/b?c=d)", "$(customapi https://a.example/b?c=d)"),
        ("(uptime)", "$(uptime)"),
        ("(game)", "$(game)"),
        ("(#)", "$(random 1-100)"),
        ("(# 1,6)", "$(random 1-6)"),
    ],
)
def test_phantombot_tags(tag: str, ours: str) -> None:
    entry = convert_phantombot_line(f"!t a {tag} b")
    assert (entry.response, entry.warnings) == (f"a {ours} b", [])


@pytest.mark.parametrize(
    "tag",
    ["(random)", "(title)", "(followage)", "(alert banana.gif, 5, 0.6)", "(repeat 3, hi)", "(lol)"],
)
def test_phantombot_unknown_tags_reported_and_kept(tag: str) -> None:
    entry = convert_phantombot_line(f"!t x {tag}")
    assert entry.response == f"x {tag}"
    assert entry.warnings == [f"{tag} has no counterpart here; it is left as written"]


def test_phantombot_plain_text_stays_plain() -> None:
    entry = convert_phantombot_line("!t costs $(5) or ${x} (and that is fair)")
    # our syntax in PhantomBot text is escaped; (5) is still PhantomBot's fifth argument
    assert entry.response == "costs \\$$(5) or \\${x} (and that is fair)"
    assert entry.warnings == []


def test_phantombot_bad_lines_and_lists() -> None:
    entries = convert_phantombot(["!ok fine", "no bang here", "!empty", "   ", "# comment"])
    assert [(entry.name, bool(entry.error)) for entry in entries] == [
        ("!ok", False),
        ("no", True),
        ("!empty", True),
    ]
    with pytest.raises(ImportFormatError):
        convert_phantombot([{"name": "!x"}])  # type: ignore[list-item]
