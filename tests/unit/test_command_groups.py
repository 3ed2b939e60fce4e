"""Command groups (``waddlebot.sdk.groups``): subcommands with their own level, usage line and
typed arguments, driven through ``Module.handle`` as the router would call it."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import pytest

from waddlebot.core.contract import Caller, Identity, ModuleRequest, ModuleResponse
from waddlebot.core.manifest import ArgSpec, CommandSpec, Manifest
from waddlebot.core.parser import parse_command
from waddlebot.core.permissions import Level
from waddlebot.sdk import Context, Module, Person, Rest, UsageError


def build() -> Module:
    module = Module("kudos")
    kudos = module.group("kudos", description="Thank people")

    @kudos.command("give", level=Level.MODERATOR, description="Gives points")
    async def give(
        ctx: Context, who: Person, points: Annotated[int, "how many"], reason: Rest = Rest("")
    ) -> str:
        ids = f" (id {who.platform_id})" if who.platform_id else ""
        said = f" for {reason}" if reason else ""
        return f"{who.mention}{ids} gets {points}{said}"

    @kudos.command("top", default=True, description="The most thanked")
    async def top(ctx: Context) -> str:
        return "nobody yet"

    @kudos.command("mute")
    async def mute(ctx: Context, who: Person, length: timedelta, ratio: float = 1.0) -> str:
        if ratio > 1:
            raise UsageError("the ratio is at most 1")
        return f"{who.name} for {length}, ratio {ratio}"

    return module


def said(
    line: str, *, level: Level = Level.EVERYONE, platform: str = "console", prefix: str = "!"
) -> ModuleRequest:
    parsed = parse_command(line, prefix)
    assert parsed is not None
    return ModuleRequest(
        session_id="s1",
        community_id=1,
        entity_id=f"{platform}:local",
        platform=platform,
        message_id="m1",
        command=parsed.name,
        prefix=prefix,
        args=list(parsed.args),
        raw_text=line,
        caller=Caller(
            user_id=7, level=int(level), identity=Identity(platform=platform, user_id="al")
        ),
    )


async def answer(line: str, *, level: Level = Level.EVERYONE, platform: str = "console") -> str:
    """What chat shows, the usage line built as the router builds it."""
    module = build()
    request = said(line, level=level, platform=platform)
    response: ModuleResponse = await module.handle(request)
    if response.usage_error:
        spec = next(s for s in module.manifest.commands if s.name == request.command)
        return f"Usage: {spec.usage_line('!', response.usage or None)} ({response.usage_error})"
    return " / ".join(reply.text for reply in response.replies)


MOD = Level.MODERATOR


async def test_typed_arguments_reach_the_handler() -> None:
    assert await answer("!kudos give @bob 5 the raid", level=MOD) == "@bob gets 5 for the raid"
    assert await answer("!kudos give bob -2", level=MOD) == "@bob gets -2"


async def test_the_rest_of_the_line_is_verbatim() -> None:
    line = '!kudos give @bob 5 the  "best"   raid'
    assert await answer(line, level=MOD) == '@bob gets 5 for the  "best"   raid'
    # one quoted run alone (as a slash command's option with spaces comes) loses its quotes
    assert await answer('!kudos give @bob 5 "best mod"', level=MOD) == "@bob gets 5 for best mod"


async def test_a_bad_argument_answers_the_subcommands_usage_line() -> None:
    assert await answer("!kudos give @bob lots", level=MOD) == (
        "Usage: !kudos give <who> <points> [reason] (points must be a whole number)"
    )
    assert await answer("!kudos give @bob", level=MOD) == (
        "Usage: !kudos give <who> <points> [reason] (points is missing)"
    )
    assert await answer("!kudos give 5 @bob", level=MOD) == (
        "Usage: !kudos give <who> <points> [reason] (who must be someone, like @bob)"
    )
    assert await answer("!kudos mute @bob 10m 0.5 more") == (
        "Usage: !kudos mute <who> <length> [ratio] ('more' is more than it takes)"
    )
    assert await answer("!kudos mute @bob 1.5 x") == (
        "Usage: !kudos mute <who> <length> [ratio] "
        "(length must be a length of time, like 10m or 1h30m)"
    )
    assert await answer("!kudos mute @bob 10m abc") == (
        "Usage: !kudos mute <who> <length> [ratio] (ratio must be a number)"
    )


async def test_a_usage_error_from_the_handler_shows_the_subcommands_line() -> None:
    assert await answer("!kudos mute @bob 10m 2") == (
        "Usage: !kudos mute <who> <length> [ratio] (the ratio is at most 1)"
    )


async def test_durations_as_people_write_them() -> None:
    assert await answer("!kudos mute @bob 1h30m") == "bob for 1:30:00, ratio 1.0"
    assert await answer("!kudos mute @bob 2 hours and 5 minutes .5") == (
        "bob for 2:05:00, ratio 0.5"
    )
    assert await answer("!kudos mute @bob 5s") == (
        "Usage: !kudos mute <who> <length> [ratio] "
        "('5s' is not a duration; write it like 7d, 12h or 30m)"
    )


async def test_platform_mentions_carry_the_platform_id() -> None:
    assert await answer("!kudos give <@123> 1", level=MOD, platform="discord") == (
        "<@123> (id 123) gets 1"
    )
    assert await answer("!kudos mute <@U1ABC|bob> 10m", platform="slack") == (
        "bob for 0:10:00, ratio 1.0"
    )
    # markup another platform would not send is nobody here
    assert (await answer("!kudos mute <@123> 10m")).endswith("(who must be someone, like @bob)")


async def test_a_discord_slash_command_reads_as_typed() -> None:
    """The line Discord's translation makes of /kudos give with a USER, an INTEGER and a
    STRING option (tests/unit/test_discord_translate.py)."""
    line = '/kudos give <@80351110224678912> 5 "great stream"'
    request = said(line, level=MOD, platform="discord", prefix="/")
    response = await build().handle(request)
    assert [reply.text for reply in response.replies] == [
        "<@80351110224678912> (id 80351110224678912) gets 5 for great stream"
    ]
    denied = await build().handle(said(line, platform="discord", prefix="/"))
    assert denied.replies[0].text == "Only moderators and up can use /kudos give."


async def test_a_subcommands_level_is_enforced() -> None:
    assert await answer("!kudos give @bob 5") == "Only moderators and up can use !kudos give."
    assert await answer("!kudos give @bob 5", level=Level.ADMIN) == "@bob gets 5"


async def test_the_default_subcommand_and_unknown_ones() -> None:
    assert await answer("!kudos") == "nobody yet"
    assert await answer("!kudos TOP") == "nobody yet"
    assert await answer("!kudos hug @bob") == (
        "Usage: !kudos [give|top|mute] (there is no 'hug'; use one of give, top, mute)"
    )


async def test_without_a_default_a_subcommand_is_asked_for() -> None:
    module = Module("votes")
    votes = module.group("votes", level=Level.VIP)

    @votes.command("open", args=[ArgSpec(name="minutes", type="int", required=True)])
    async def open_(ctx: Context, minutes: int) -> str:
        return f"open for {minutes}"

    spec = module.manifest.commands[0]
    assert spec.usage_line() == "!votes <open>"
    assert spec.level == Level.VIP and spec.subcommands[0].level == Level.VIP
    response = await module.handle(said("!votes", level=Level.VIP))
    assert response.usage_error == "say what to do: open"
    assert response.usage == ""  # the command's own line: no subcommand was picked
    response = await module.handle(said("!votes open 3", level=Level.VIP))
    assert response.replies[0].text == "open for 3"


def test_the_manifest_describes_the_subcommands() -> None:
    spec = build().manifest.commands[0]
    assert [sub.name for sub in spec.subcommands] == ["give", "top", "mute"]
    give = spec.subcommand("give")
    assert give is not None
    assert give.usage_part == "give <who> <points> [reason]"
    assert give.level == Level.MODERATOR
    assert [(a.name, a.type, a.required, a.description) for a in give.args] == [
        ("who", "person", True, ""),
        ("points", "int", True, "how many"),
        ("reason", "rest", False, ""),
    ]
    assert give.args[2].rest  # older readers of the manifest see the rest of the line too
    # the JSON reads back, and a manifest from before groups still validates
    again = Manifest.model_validate_json(build().manifest.model_dump_json())
    assert again.commands[0] == spec
    old = CommandSpec.model_validate(
        {"name": "so", "args": [{"name": "who", "required": True}, {"name": "why", "rest": True}]}
    )
    assert old.subcommands == () and [a.type for a in old.args] == ["text", "rest"]


def test_mistakes_in_a_group_fail_where_they_are_made() -> None:
    module = Module("bad")
    group = module.group("bad", level=Level.MODERATOR)

    async def low(ctx: Context) -> None: ...

    with pytest.raises(ValueError, match="below the level"):
        group.command("low", level=Level.EVERYONE)(low)

    async def needs(ctx: Context, who: Person) -> None: ...

    with pytest.raises(ValueError, match="cannot need arguments"):
        group.command("needs", default=True)(needs)

    async def rest_first(ctx: Context, what: Rest, n: int) -> None: ...

    with pytest.raises(ValueError, match="must come last"):
        group.command("rest")(rest_first)

    async def odd(ctx: Context, things: list[str]) -> None: ...

    with pytest.raises(TypeError, match="an argument's type is one of"):
        group.command("odd")(odd)
