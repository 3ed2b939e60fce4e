"""Slack slash commands for the app's manifest, made from module manifests."""

from __future__ import annotations

from waddlebot.core.permissions import Level
from waddlebot.features.core.module import build_core_module
from waddlebot.platforms.slack.commands import slash_commands
from waddlebot.sdk import CommandSpec, Context, Module, Person, Rest

URL = "https://bot.example.com/collectors/slack/commands"


async def no_commands(community_id: int) -> list[CommandSpec]:
    return []


def test_waddle_then_every_command_with_its_usage_hint() -> None:
    specs = [*build_core_module(no_commands).manifest.commands]
    specs.append(CommandSpec(name="weather", serverless=True))
    made = slash_commands(specs, URL)
    assert [c["command"] for c in made] == ["/waddle", "/help", "/ping", "/prefix"]
    assert made[0] == {
        "command": "/waddle",
        "url": URL,
        "description": "Runs any WaddleBot command",
        "should_escape": True,
        "usage_hint": "<command> <args>",
    }
    assert made[1]["usage_hint"] == "[command | all]"
    assert "usage_hint" not in made[2]  # /ping takes nothing


def test_a_groups_usage_hint_lists_its_subcommands() -> None:
    module = Module("kudos")
    kudos = module.group("kudos", description="Thank people")

    @kudos.command("give", level=Level.MODERATOR)
    async def give(ctx: Context, who: Person, points: int, reason: Rest = Rest("")) -> None: ...

    @kudos.command("top", default=True)
    async def top(ctx: Context) -> None: ...

    (_, made) = slash_commands(module.manifest.commands, URL)
    assert made["command"] == "/kudos"
    assert made["usage_hint"] == "give <who> <points> [reason] | top"
