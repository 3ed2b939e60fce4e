"""The platforms' CLI groups against the fake platforms, run as ``waddlebot ...`` in this
process: what they print (``--json`` included) and what the platform got."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tests.fakes.discord import FakeDiscord
from tests.support.cli import invoke


@pytest.fixture(autouse=True)
def empty_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Commands run where no .env is."""
    monkeypatch.chdir(tmp_path)


async def test_discord_commands_sync_registers_every_module_command(tmp_path: Path) -> None:
    async with FakeDiscord() as fake:
        owner = fake.add_user(username="olga")
        guild = fake.add_guild("Waddle Den", owner=owner, channels=("general",))
        env = {
            "WADDLEBOT_DATA_DIR": str(tmp_path),
            "WADDLEBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/waddlebot.db",
            "WADDLEBOT_DISCORD_TOKEN": fake.token,
            "WADDLEBOT_DISCORD_APPLICATION_ID": fake.application_id,
            "WADDLEBOT_DISCORD_API_URL": fake.api_url,
        }
        args = ["discord", "commands", "sync", "--guild", guild.id, "--json"]
        # the command runs its own event loop, beside the fake's
        result = await asyncio.to_thread(invoke, args, env=env)
        assert result.exit_code == 0, result.stderr
        report = json.loads(result.stdout)
        assert {"ping", "help", "quote", "timer"} <= set(report["registered"])
        assert set(report["registered"]) == {c.name for c in fake.commands(guild)}
        assert report["left_out"] == []


def test_slack_commands_prints_the_slash_commands_for_the_app_manifest(tmp_path: Path) -> None:
    env = {
        "WADDLEBOT_DATA_DIR": str(tmp_path),
        "WADDLEBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/waddlebot.db",
        "WADDLEBOT_SLACK_PUBLIC_URL": "https://bot.example.com/",
    }
    result = invoke(["slack", "commands"], env=env)
    assert result.exit_code == 0, result.stderr
    made = {command["command"]: command for command in json.loads(result.stdout)}
    assert {"/waddle", "/help", "/quote", "/timer"} <= set(made)
    assert made["/help"]["url"] == "https://bot.example.com/collectors/slack/commands"
    assert made["/help"]["usage_hint"] == "[command | all]"
    unset = invoke(["slack", "commands"], env={**env, "WADDLEBOT_SLACK_PUBLIC_URL": ""})
    assert unset.exit_code != 0 and "WADDLEBOT_SLACK_PUBLIC_URL" in unset.stderr
