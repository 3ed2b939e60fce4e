"""Slash commands made from module manifests, within Discord's rules."""

from __future__ import annotations

from waddlebot.core.permissions import Level
from waddlebot.features.core.module import build_core_module
from waddlebot.platforms.discord.commands import MAX_COMMANDS, application_commands
from waddlebot.sdk import ArgSpec, CommandSpec, Context, Module, Person, Rest


async def no_commands(community_id: int) -> list[CommandSpec]:
    return []


def test_the_core_commands_become_slash_commands() -> None:
    module = build_core_module(no_commands)
    made = application_commands(module.manifest.commands)
    assert [c["name"] for c in made.commands] == ["help", "ping", "prefix"]
    (help_,) = [c for c in made.commands if c["name"] == "help"]
    assert help_["options"] == [
        {"type": 3, "name": "command", "description": "a command name, or all", "required": False}
    ]
    assert all(1 <= len(c["description"]) <= 100 for c in made.commands)
    assert made.left_out == []


def test_required_options_first_long_descriptions_cut_and_limits_kept() -> None:
    spec = CommandSpec(
        name="quote",
        description="x" * 300,
        args=(ArgSpec(name="text", rest=True), ArgSpec(name="n", required=True)),
    )
    (quote,) = application_commands([spec]).commands
    assert [o["name"] for o in quote["options"]] == ["n", "text"]
    assert len(quote["description"]) == 100 and quote["description"].endswith("…")
    serverless = CommandSpec(name="weather", serverless=True)
    many = [CommandSpec(name=f"c{n}") for n in range(MAX_COMMANDS + 2)]
    made = application_commands([serverless, *many])
    assert len(made.commands) == MAX_COMMANDS and "weather" not in str(made.commands)
    assert len(made.left_out) == 2 and "at most 100" in made.left_out[0]


def test_a_groups_subcommands_become_discord_subcommands_with_typed_options() -> None:
    module = Module("kudos")
    kudos = module.group("kudos", description="Thank people")

    @kudos.command("give", level=Level.MODERATOR, description="Gives points")
    async def give(
        ctx: Context, who: Person, points: int, share: float = 1.0, reason: Rest = Rest("")
    ) -> None: ...

    @kudos.command("top", default=True)
    async def top(ctx: Context) -> None: ...

    (made,) = application_commands(module.manifest.commands).commands
    assert made["description"] == "Thank people"
    give_, top_ = made["options"]
    assert (give_["type"], give_["name"], give_["description"]) == (1, "give", "Gives points")
    assert [(o["type"], o["name"], o["required"]) for o in give_["options"]] == [
        (6, "who", True),
        (4, "points", True),
        (10, "share", False),
        (3, "reason", False),
    ]
    assert top_ == {"type": 1, "name": "top", "description": "Runs !kudos top", "options": []}


def test_a_group_discord_cannot_take_is_left_out() -> None:
    many = CommandSpec.model_validate(
        {"name": "big", "subcommands": [{"name": f"s{n}"} for n in range(26)]}
    )
    crowded = CommandSpec.model_validate(
        {
            "name": "wide",
            "subcommands": [{"name": "a", "args": [{"name": f"x{n}"} for n in range(26)]}],
        }
    )
    made = application_commands([many, crowded])
    assert made.commands == []
    assert made.left_out == [
        "big: more than 25 subcommands",
        "wide: a: more than 25 arguments",
    ]
