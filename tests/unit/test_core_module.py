"""The built-in core module's ``help``, called directly with communities' own prefixes."""

from __future__ import annotations

from waddlebot.core.contract import Caller, Identity, ModuleRequest
from waddlebot.core.permissions import Level
from waddlebot.features.core.module import Catalog, build_core_module
from waddlebot.sdk import CommandSpec, Context, Module, Person, Rest


def catalog() -> list[CommandSpec]:
    return [
        CommandSpec(name="help", usage="[command]", description="Lists commands"),
        CommandSpec(name="wave", usage="<who>", description="Waves at someone"),
        CommandSpec(name="ave", description="Not the command anyone asked about"),
        CommandSpec(name="weather", description="Forecast"),
        CommandSpec(name="ban", level=Level.MODERATOR, description="Bans"),
        CommandSpec(name="hug", serverless=True, description="Hugs"),
    ]


def listing(specs: list[CommandSpec]) -> Catalog:
    """The community's commands are ``specs``, whichever community asks."""

    async def commands_here(community_id: int) -> list[CommandSpec]:
        return specs

    return commands_here


def help_request(*args: str, prefix: str, level: Level = Level.EVERYONE) -> ModuleRequest:
    return ModuleRequest(
        session_id="s1",
        community_id=1,
        entity_id="console:local",
        platform="console",
        command="help",
        prefix=prefix,
        args=list(args),
        caller=Caller(
            identity=Identity(platform="console", user_id="al", login="al"), level=int(level)
        ),
    )


async def ask(module: Module, *args: str, prefix: str = "!", level: Level = Level.EVERYONE) -> str:
    response = await module.handle(help_request(*args, prefix=prefix, level=level))
    if response.usage_error:
        return f"usage error: {response.usage_error}"
    return " / ".join(reply.text for reply in response.replies)


async def test_help_with_a_letter_prefix_finds_the_command_asked_for() -> None:
    module = build_core_module(listing(catalog()))
    # "whelp wave" in a community whose prefix is "w": wave, not "ave"
    assert await ask(module, "wave", prefix="w") == "Usage: wwave <who> - Waves at someone"
    assert await ask(module, "wwave", prefix="w") == "Usage: wwave <who> - Waves at someone"
    assert await ask(module, "weather", prefix="w") == "Usage: wweather - Forecast"
    assert await ask(module, "Wave", prefix="w") == "Usage: wwave <who> - Waves at someone"


async def test_help_strips_one_prefix_not_a_set_of_characters() -> None:
    module = build_core_module(listing(catalog()))
    assert await ask(module, "!wave") == "Usage: !wave <who> - Waves at someone"
    assert await ask(module, "#hug") == "Usage: #hug - Hugs"
    assert await ask(module, "wave", prefix="ab") == "Usage: abwave <who> - Waves at someone"
    # "!!wave" is not a command, and a multi-character prefix is not a character set
    assert await ask(module, "!!wave") == "usage error: there is no command !!wave"
    assert await ask(module, "bawave", prefix="ab") == ("usage error: there is no command abbawave")


async def test_help_lists_only_what_the_caller_may_use_and_says_how_to_see_the_rest() -> None:
    module = build_core_module(listing(catalog()))
    assert await ask(module) == (
        "Commands you can use: !help, !wave, !ave, !weather, #hug. Try !help <command>, "
        "or !help all for the one that needs a higher level."
    )
    everything = "!help, !wave, !ave, !weather, !ban, #hug"
    assert await ask(module, level=Level.MODERATOR) == (
        f"Commands you can use: {everything}. Try !help <command>."
    )
    assert await ask(module, "all", level=Level.MODERATOR) == (
        f"All commands: {everything}. Try !help <command>."
    )


async def test_help_all_marks_the_commands_above_the_callers_level() -> None:
    module = build_core_module(listing(catalog()))
    assert await ask(module, "all") == (
        "All commands (marked: for a higher level than yours): !help, !wave, !ave, "
        "!weather, !ban (moderator), #hug. Try !help <command>."
    )
    assert await ask(module, "ALL", prefix="?") == (
        "All commands (marked: for a higher level than yours): ?help, ?wave, ?ave, "
        "?weather, ?ban (moderator), #hug. Try ?help <command>."
    )


async def test_help_on_a_command_above_the_callers_level_says_who_may_use_it() -> None:
    module = build_core_module(listing(catalog()))
    assert await ask(module, "ban") == "Usage: !ban - Bans (moderator level and up)"
    assert await ask(module, "ban", level=Level.OWNER) == "Usage: !ban - Bans"
    assert await ask(module, "nonsense") == "usage error: there is no command !nonsense"


def groups_catalog() -> list[CommandSpec]:
    kudos = Module("kudos")
    group = kudos.group("kudos", description="Thank people")

    @group.command("give", level=Level.MODERATOR, description="Gives points")
    async def give(ctx: Context, who: Person, points: int, reason: Rest = Rest("")) -> None: ...

    @group.command("top", default=True)
    async def top(ctx: Context) -> None: ...

    return [*catalog(), *kudos.manifest.commands]


async def test_help_on_a_group_shows_its_subcommands_with_usage_and_level() -> None:
    module = build_core_module(listing(groups_catalog()))
    assert await ask(module, "kudos") == (
        "Usage: !kudos [give|top] - Thank people. Subcommands: "
        "!kudos give <who> <points> [reason] (moderator and up) - Gives points; "
        "!kudos top (also !kudos alone)"
    )
    assert await ask(module, "kudos", "GIVE") == (
        "Usage: !kudos give <who> <points> [reason] - Gives points (moderator level and up)"
    )
    assert await ask(module, "kudos", "give", level=Level.MODERATOR) == (
        "Usage: !kudos give <who> <points> [reason] - Gives points"
    )
    # the list is as it was: one entry per command
    assert (await ask(module)).startswith(
        "Commands you can use: !help, !wave, !ave, !weather, #hug, !kudos."
    )
