"""The ``waddlebot`` command line as a user runs it, on real databases: the chats in real
processes (what a terminal or a pipe does to them is the point), the other commands in this
process (``here``: what they print and their exit codes, without paying for a Python start
each)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import Result

from tests.support.cli import invoke, traceback_of
from tests.support.harness import serving
from waddlebot.cli.failures import EX_CONFIG
from waddlebot.features.identity import apikeys
from waddlebot.settings import Settings

REPO = Path(__file__).resolve().parents[2]
WADDLEBOT = str(Path(sys.executable).parent / "waddlebot")


def run(
    args: list[str], cwd: Path, env: dict[str, str] | None = None, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WADDLEBOT_")}
    clean["PYTHONPATH"] = str(REPO)
    return subprocess.run(
        [WADDLEBOT, *args],
        cwd=cwd,
        env={**clean, **(env or {})},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


Here = Callable[..., Result]


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Here:
    """``here(args, env, stdin)``: ``waddlebot <args>`` run in this process, in ``tmp_path``,
    with only ``env``'s WADDLEBOT_* variables (as ``run`` gives a process)."""
    monkeypatch.chdir(tmp_path)
    for name in os.environ:
        if name.startswith("WADDLEBOT_"):
            monkeypatch.delenv(name)

    def command(args: list[str], env: dict[str, str] | None = None, stdin: str = "") -> Result:
        done = invoke(args, env=env, input=stdin)
        assert not traceback_of(done), traceback_of(done)
        return done

    return command


def mode_env(settings: Settings) -> dict[str, str]:
    env = {"WADDLEBOT_DATABASE_URL": settings.database_url}
    if settings.redis_url:
        env |= {
            "WADDLEBOT_REDIS_URL": settings.redis_url,
            "WADDLEBOT_STREAM_PREFIX": settings.stream_prefix,
            "WADDLEBOT_AUTO_MIGRATE": "true",
        }
    return env


def test_scripted_chat_conversation(settings: Settings, tmp_path: Path) -> None:
    result = run(
        ["chat", "--user", "alice", "--role", "owner"],
        tmp_path,
        mode_env(settings) | {"WADDLEBOT_MODULES": "tests.support.modules:module"},
        stdin='!ping\n\nhello there\n!echo "a b" c\n!secret\n!modonly\n!help ping\n',
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "pong",
        "a b c",
        "(private) psst",
        "hello moderator alice",
        "Usage: !ping - Checks that the bot is listening",
    ]


def test_scripted_chat_in_a_fresh_directory_creates_the_sqlite_database(tmp_path: Path) -> None:
    result = run(["chat", "--user", "bob"], tmp_path, stdin="!ping\n!help\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "pong",
        "Commands you can use: !ai, !alias, !commands, !community, !event, !help, !identity, "
        "!inventory, !label, !note, !ping, !portal, !prefix, !queue, !quote, !remind, "
        "!reminders, !role, !skip, !song, !sr, !timer, !url, !verify, !volume, !whoami, "
        "!wrongsong. Try !help <command>, or !help all for the 9 that need a higher level.",
    ]
    assert (tmp_path / "var" / "waddlebot.db").exists()


def test_chat_rejects_an_unknown_role(tmp_path: Path) -> None:
    result = run(["chat", "--role", "emperor"], tmp_path, stdin="!ping\n")
    assert result.returncode != 0
    assert "emperor" in result.stderr


async def test_chat_with_a_running_server(settings: Settings, tmp_path: Path) -> None:
    import asyncio

    async with serving(settings) as (url, runtime):
        _, key = await apikeys.create_key(runtime.db, "cli")
        args = ["chat", "--url", url, "--user", "carol", "--role", "moderator"]
        ok = await asyncio.to_thread(
            run, args, tmp_path, {"WADDLEBOT_API_KEY": key}, "!ping\n!modonly\n!boom\n"
        )
        assert ok.returncode == 0, ok.stderr
        assert ok.stdout.splitlines() == [
            "pong",
            "hello moderator carol",
            "Sorry, !boom failed. The error has been logged.",
        ]
        refused = await asyncio.to_thread(
            run, [*args[:-2], "--api-key", "wbk_wrong"], tmp_path, None, "!ping\n"
        )
        assert refused.returncode != 0
        assert "check the API key" in refused.stderr


async def test_chat_shows_what_the_bot_says_while_nothing_is_typed(
    settings: Settings, tmp_path: Path
) -> None:
    """A message pushed to the session while its input is idle (a reminder coming due;
    here, someone else's answer in the channel) shows at once, not after the next line."""
    import asyncio

    from tests.integration.test_console_ws import answer, open_chat

    async with serving(settings) as (url, runtime):
        _, key = await apikeys.create_key(runtime.db, "cli")
        clean = {k: v for k, v in os.environ.items() if not k.startswith("WADDLEBOT_")}
        chat = await asyncio.create_subprocess_exec(
            WADDLEBOT,
            *["chat", "--url", url, "--user", "dora"],
            cwd=tmp_path,
            env={**clean, "PYTHONPATH": str(REPO), "WADDLEBOT_API_KEY": key},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert chat.stdin is not None and chat.stdout is not None
        try:

            async def shown() -> str:
                assert chat.stdout is not None
                return (await asyncio.wait_for(chat.stdout.readline(), 10)).decode().rstrip()

            chat.stdin.write(b"!ping\n")
            await chat.stdin.drain()
            assert await shown() == "pong"  # connected, and now idle: nothing more is typed
            other = await open_chat(url, key, user="eve")
            await answer(other, "!echo the raid starts now")
            assert await shown() == "the raid starts now"
            await other.close()
            chat.stdin.close()
            assert await asyncio.wait_for(chat.wait(), 10) == 0
        finally:
            if chat.returncode is None:
                chat.kill()
                await chat.wait()


def test_chat_url_that_is_not_listening(tmp_path: Path) -> None:
    result = run(["chat", "--url", "http://127.0.0.1:9"], tmp_path, stdin="!ping\n")
    assert result.returncode != 0
    assert "cannot reach http://127.0.0.1:9" in result.stderr


@pytest.mark.parametrize("empty_database", ["sqlite_url", "fresh_postgres_url"])
def test_db_commands(empty_database: str, request: pytest.FixtureRequest, here: Here) -> None:
    env = {"WADDLEBOT_DATABASE_URL": request.getfixturevalue(empty_database)}
    assert "base" in here(["db", "current"], env).stdout
    upgraded = here(["db", "upgrade"], env)
    assert upgraded.exit_code == 0, upgraded.stderr
    head = here(["db", "current"], env).stdout.strip()
    assert head and head != "base (no tables)"
    down = here(["db", "downgrade", "base"], env)
    assert down.exit_code == 0, down.stderr
    assert "base" in here(["db", "current"], env).stdout


def test_apikey_commands(here: Here) -> None:
    created = here(["apikey", "create", "grafana"])
    assert created.exit_code == 0, created.stderr
    key = created.stdout.strip()
    assert key.startswith("wbk_")
    listing = here(["apikey", "list"]).stdout
    key_id = listing.split()[0]
    assert "grafana" in listing and "active" in listing and key not in listing
    assert here(["apikey", "revoke", key_id]).exit_code == 0
    collector = here(["apikey", "create", "twitch", "--role", "collector"])
    assert collector.exit_code == 0 and collector.stdout.startswith("wbk_")
    refused = here(["apikey", "create", "x", "--role", "emperor"])
    assert refused.exit_code != 0 and "role" in refused.stderr
    unknown = here(["apikey", "revoke", "nosuchkey"])
    assert unknown.exit_code == 1 and "no active API key" in unknown.stderr
    assert "revoked" in here(["apikey", "list"]).stdout


def test_schema_export(here: Here, tmp_path: Path) -> None:
    result = here(["schema", "--out", str(tmp_path / "schema")])
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "schema" / "event.schema.json").exists()
    assert (tmp_path / "schema" / "module-request.schema.json").exists()


@pytest.mark.parametrize("service", ["nonsense", "module:"])
def test_serve_refuses_unknown_services(service: str, here: Here) -> None:
    result = here(["serve", service], {"WADDLEBOT_MODULE_SECRET": "s3cret"})
    assert result.exit_code != 0


def test_serving_one_service_needs_redis(here: Here) -> None:
    result = here(["serve", "router"])
    assert result.exit_code != 0
    assert "WADDLEBOT_REDIS_URL" in result.stderr


def test_local_chat_never_joins_a_deployments_redis(
    redis_url: str, key_prefix: str, tmp_path: Path
) -> None:
    import redis

    env = {"WADDLEBOT_REDIS_URL": redis_url, "WADDLEBOT_STREAM_PREFIX": key_prefix}
    result = run(["chat", "--user", "dev"], tmp_path, env, stdin="!ping\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["pong"]
    client = redis.Redis.from_url(redis_url)
    try:
        assert list(client.scan_iter(match=f"{key_prefix}*")) == []
    finally:
        client.close()


def test_apikey_for_a_community_that_does_not_exist(here: Here) -> None:
    result = here(["apikey", "create", "x", "--community", "999"])
    assert result.exit_code != 0
    assert "there is no community 999" in result.stderr
    assert "Traceback" not in result.stderr


def test_twitch_commands_without_any_account_connected(here: Here, tmp_path: Path) -> None:
    unset = here(["twitch", "status"])
    assert unset.exit_code == EX_CONFIG
    assert unset.stderr.startswith("WADDLEBOT_TWITCH_CLIENT_ID: is not set")
    env = {"WADDLEBOT_TWITCH_CLIENT_ID": "abc", "WADDLEBOT_TWITCH_CLIENT_SECRET": "def"}
    link = here(["twitch", "connect", "--bot"], env)
    assert link.exit_code == 0, link.stderr
    assert "http://127.0.0.1:8000/collectors/twitch/oauth/start?ticket=" in link.stdout
    # not told to run the very command it is running (the running collector's warning)
    assert "no Twitch bot account" not in link.stdout + link.stderr
    assert (tmp_path / "var" / "secret-key").exists()  # an embedded install makes its own key
    neither = here(["twitch", "connect"], env)
    assert neither.exit_code == 2 and "give --bot, --community <id>, or both" in neither.stderr
    nowhere = here(["twitch", "connect", "--bot", "--community", "99"], env)
    assert nowhere.exit_code == 1 and "There is no community 99." in nowhere.stderr
    status = here(["twitch", "status"], env)
    assert status.exit_code == 1
    assert "bot account: not connected (waddlebot twitch connect --bot)" in status.stdout
    assert "no Twitch bot account" not in status.stdout + status.stderr  # said once is enough
    sync = here(["twitch", "subscriptions", "sync"], env)
    assert sync.exit_code == 0 and "subscribes on every connection" in sync.stdout
    key = here(["secret-key"])
    assert key.exit_code == 0 and len(key.stdout.strip()) == 44


def test_slack_install_prints_a_link_for_an_existing_community(here: Here, tmp_path: Path) -> None:
    unset = here(["slack", "install", "--community", "1"])
    assert unset.exit_code == EX_CONFIG
    assert unset.stderr.startswith("WADDLEBOT_SLACK_CLIENT_ID: is not set")
    env = {"WADDLEBOT_SLACK_CLIENT_ID": "123.456", "WADDLEBOT_SLACK_CLIENT_SECRET": "s"}
    nowhere = here(["slack", "install", "--community", "1"], env)
    assert nowhere.exit_code == 1 and "There is no community 1." in nowhere.stderr
    assert run(["chat"], tmp_path, stdin="!ping\n").returncode == 0  # makes community 1
    link = here(["slack", "install", "--community", "1"], env)
    assert link.exit_code == 0, link.stderr
    assert "http://127.0.0.1:8000/collectors/slack/oauth/start?ticket=" in link.stdout
