"""A setting WaddleBot cannot run with, as a new user meets it on the command line: one line
per problem (the variable, the rule it broke, the fix), exit status 78 (EX_CONFIG; 69,
EX_UNAVAILABLE, when the setting names a service that does not answer), no traceback,
whichever command read the settings, and also when the problem only shows while the services
start."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.conftest import PG_ADMIN_URL
from tests.integration.test_cli import run
from tests.support.harness import free_port
from waddlebot.cli.failures import EX_CONFIG, EX_UNAVAILABLE
from waddlebot.infra.db.migrate import head_revision, upgrade

SHORT_SECRET = "WADDLEBOT_TWITCH_EVENTSUB_SECRET: must be 10 to 100 ASCII characters (got 5). Set it to a random string, e.g. `openssl rand -hex 16`."  # noqa: E501


def assert_refused(result: object, *lines: str, status: int = EX_CONFIG) -> None:
    assert getattr(result, "returncode") == status, getattr(result, "stderr")  # noqa: B009
    stderr: str = getattr(result, "stderr")  # noqa: B009
    assert "Traceback" not in stderr
    assert stderr.splitlines() == list(lines)


@pytest.mark.parametrize(
    "command",
    [
        ["up"],
        ["serve", "api"],
        ["serve", "module:tests.support.modules:module"],
        ["chat", "--user", "alice"],
        ["db", "upgrade"],
        ["db", "current"],
        ["db", "downgrade"],
        ["apikey", "create", "grafana"],
        ["apikey", "list"],
        ["twitch", "status"],
        ["slack", "install", "--community", "1"],
        ["discord", "commands", "sync"],
    ],
)
def test_every_command_says_which_setting_is_wrong_in_one_line(
    command: list[str], tmp_path: Path
) -> None:
    result = run(command, tmp_path, {"WADDLEBOT_TWITCH_EVENTSUB_SECRET": "short"}, "!ping\n")
    assert_refused(result, SHORT_SECRET)
    assert not (tmp_path / "var").exists()  # refused before doing anything


def test_a_setting_from_the_env_file_is_named_the_same_way(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("WADDLEBOT_TWITCH_EVENTSUB_SECRET=short\n")
    assert_refused(run(["up"], tmp_path), SHORT_SECRET)


def test_every_problem_gets_its_line(tmp_path: Path) -> None:
    env = {
        "WADDLEBOT_PORT": "eighty",
        "WADDLEBOT_TWITCH_TRANSPORT": "pigeon",
        "WADDLEBOT_OVERLAY_MAX_CONNECTIONS": "0",
        "WADDLEBOT_GC_TUNING": "maybe",
    }
    assert_refused(
        run(["up"], tmp_path, env),
        "WADDLEBOT_PORT: must be a whole number (got 'eighty'). Correct it, or remove it to "
        "use the default (8000).",
        "WADDLEBOT_TWITCH_TRANSPORT: must be 'websocket' or 'webhook' (got 'pigeon'). Correct "
        "it, or remove it to use the default (websocket).",
        "WADDLEBOT_OVERLAY_MAX_CONNECTIONS: must be at least 1 (got '0'). Correct it, or "
        "remove it to use the default (50).",
        "WADDLEBOT_GC_TUNING: must be true or false (or 1/0, yes/no, on/off) (got 'maybe'). "
        "Correct it, or remove it to use the default (true).",
    )


def test_settings_that_only_make_sense_together(tmp_path: Path) -> None:
    env = {"WADDLEBOT_SCHEDULER_TICK_SECONDS": "30"}
    assert_refused(
        run(["up"], tmp_path, env),
        "WADDLEBOT_SCHEDULER_LEASE_TTL_SECONDS: must be at least twice "
        "WADDLEBOT_SCHEDULER_TICK_SECONDS (30), so one slow tick does not lose the lease "
        "(got 20). Set it to 60 or more, or lower WADDLEBOT_SCHEDULER_TICK_SECONDS.",
    )


def test_debug_shows_the_traceback_too_but_never_the_secret(tmp_path: Path) -> None:
    secret = "s3cr\N{EURO SIGN}t-value"  # long enough, but not ASCII
    env = {"WADDLEBOT_TWITCH_EVENTSUB_SECRET": secret, "WADDLEBOT_LOG_LEVEL": "DEBUG"}
    result = run(["up"], tmp_path, env)
    assert result.returncode == EX_CONFIG
    assert "Traceback" in result.stderr
    assert secret not in result.stderr and secret not in result.stdout
    assert result.stderr.splitlines()[-1] == (
        "WADDLEBOT_TWITCH_EVENTSUB_SECRET: must be 10 to 100 ASCII characters (got 12, not all "
        "ASCII). Set it to a random string, e.g. `openssl rand -hex 16`."
    )


# -- problems found while starting, before the server listens --------------------------------


def test_a_module_that_does_not_load(tmp_path: Path) -> None:
    port = free_port()
    result = run(["up", "--port", str(port)], tmp_path, {"WADDLEBOT_MODULES": "nowhere.mod:module"})
    assert_refused(
        result,
        "WADDLEBOT_MODULES: cannot load module 'nowhere.mod:module': No module named 'nowhere'. "
        "Each is package.module:attribute, importable from where waddlebot starts.",
    )


def test_a_module_whose_command_a_built_in_has(tmp_path: Path) -> None:
    (tmp_path / "clash.py").write_text(
        "from waddlebot.sdk import Module\n"
        "module = Module('clash', version='1.0.0', description='x')\n"
        "@module.command('quote', description='mine')\n"
        "async def quote(ctx):\n"
        "    ctx.reply('mine')\n"
    )
    assert_refused(
        run(["chat"], tmp_path, {"WADDLEBOT_MODULES": "clash:module"}, "!ping\n"),
        "WADDLEBOT_MODULES: command 'quote' of module 'clash' is already provided by module "
        "'memories'. Give it a name and commands no built-in or other module has.",
    )


def test_a_remote_module_that_is_not_there(tmp_path: Path) -> None:
    env = {
        "WADDLEBOT_REMOTE_MODULES": "greeter=http://127.0.0.1:9",
        "WADDLEBOT_MODULE_SECRET": "a-shared-secret",
    }
    result = run(["chat"], tmp_path, env, "!ping\n")
    assert result.returncode == EX_UNAVAILABLE, result.stderr
    assert "Traceback" not in result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith("WADDLEBOT_REMOTE_MODULES: module 'http://127.0.0.1:9'")
    assert line.endswith(
        "Each is name=http://host:port of a running `waddlebot serve module:...`, started first."
    )


def test_a_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run(["up", "--port", str(port)], tmp_path)
    assert_refused(
        result,
        f"WADDLEBOT_PORT: port {port} on 127.0.0.1 is in use already. Stop what uses it, or "
        "give this process another port with --port (or WADDLEBOT_PORT); every `waddlebot "
        "serve` needs a port of its own.",
    )


def test_a_redis_that_does_not_answer(tmp_path: Path) -> None:
    env = {"WADDLEBOT_REDIS_URL": "redis://user:hunter2@127.0.0.1:9/0"}
    result = run(["serve", "router", "--port", str(free_port())], tmp_path, env)
    assert result.returncode == EX_UNAVAILABLE, result.stderr
    assert "Traceback" not in result.stderr and "hunter2" not in result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith("WADDLEBOT_REDIS_URL: Redis at redis://user:***@127.0.0.1:9/0 does ")
    assert line.endswith(
        "Start Redis, or correct the URL (unset it to run embedded, without Redis)."
    )


def test_distributed_twitch_without_a_shared_secret_key(
    fresh_postgres_url: str, redis_url: str, key_prefix: str, tmp_path: Path
) -> None:
    env = {
        "WADDLEBOT_DATABASE_URL": fresh_postgres_url,
        "WADDLEBOT_REDIS_URL": redis_url,
        "WADDLEBOT_STREAM_PREFIX": key_prefix,
        "WADDLEBOT_AUTO_MIGRATE": "true",
        "WADDLEBOT_TWITCH_CLIENT_ID": "abc",
    }
    result = run(["serve", "twitch", "--port", str(free_port())], tmp_path, env)
    assert_refused(
        result,
        "WADDLEBOT_SECRET_KEYS: is not set, and processes sharing a Redis must share the key "
        "that encrypts platform tokens. Make one with `waddlebot secret-key` and give every "
        "process the same.",
    )


def test_serving_one_service_without_redis(tmp_path: Path) -> None:
    assert_refused(
        run(["serve", "router"], tmp_path),
        "WADDLEBOT_REDIS_URL: is not set, and 'serve router' shares its bus with the other "
        "services through Redis. Set it (e.g. redis://127.0.0.1:6379/0), or run every service "
        "in one process with `waddlebot up`.",
    )


def test_serving_a_module_without_its_secret(tmp_path: Path) -> None:
    assert_refused(
        run(["serve", "module:tests.support.modules:module"], tmp_path),
        "WADDLEBOT_MODULE_SECRET: is not set; a module served over HTTP signs its answers with "
        "it. Set it to a random string, e.g. `openssl rand -hex 32`, and give the bot the same "
        "one.",
    )


def test_serving_before_the_database_was_migrated(
    fresh_postgres_url: str, redis_url: str, key_prefix: str, tmp_path: Path
) -> None:
    env = {
        "WADDLEBOT_DATABASE_URL": fresh_postgres_url,
        "WADDLEBOT_REDIS_URL": redis_url,
        "WADDLEBOT_STREAM_PREFIX": key_prefix,
    }
    assert_refused(
        run(["serve", "api", "--port", str(free_port())], tmp_path, env),
        "WADDLEBOT_DATABASE_URL: the database has no tables yet. Run `waddlebot db upgrade` "
        "once first (PostgreSQL is migrated on purpose, not when a process starts; see "
        "WADDLEBOT_AUTO_MIGRATE).",
    )


@pytest.mark.parametrize("command", [["db", "upgrade"], ["up"], ["apikey", "list"]])
def test_a_database_that_is_not_there(command: list[str], tmp_path: Path) -> None:
    url = make_url(PG_ADMIN_URL).set(password="hunter2", database="no_such_db")
    env = {
        "WADDLEBOT_DATABASE_URL": url.render_as_string(hide_password=False),
        "WADDLEBOT_AUTO_MIGRATE": "true",
        "WADDLEBOT_PORT": str(free_port()),
    }
    assert_refused(
        run(command, tmp_path, env),
        f'WADDLEBOT_DATABASE_URL: cannot use the database at {url} (database "no_such_db" '
        "does not exist). Check that it runs, and the URL's host, port, user, password and "
        "database.",
    )


@pytest.mark.parametrize("command", [["up"], ["apikey", "list"]])
def test_a_database_that_does_not_answer_is_a_service_to_start(
    command: list[str], tmp_path: Path
) -> None:
    env = {
        "WADDLEBOT_DATABASE_URL": "postgresql://postgres:hunter2@127.0.0.1:9/waddlebot",
        "WADDLEBOT_PORT": str(free_port()),
    }
    result = run(command, tmp_path, env)
    assert result.returncode == EX_UNAVAILABLE, result.stderr
    assert "Traceback" not in result.stderr and "hunter2" not in result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith(
        "WADDLEBOT_DATABASE_URL: cannot use the database at "
        "postgresql://postgres:***@127.0.0.1:9/waddlebot ("
    )
    assert line.endswith(
        "Check that it runs, and the URL's host, port, user, password and database."
    )


def test_a_database_migrated_by_an_older_waddlebot(fresh_postgres_url: str, tmp_path: Path) -> None:
    upgrade(fresh_postgres_url, "0002_identity_labels")
    env = {"WADDLEBOT_DATABASE_URL": fresh_postgres_url, "WADDLEBOT_PORT": str(free_port())}
    for command in (["apikey", "list"], ["up"]):
        assert_refused(
            run(command, tmp_path, env),
            "WADDLEBOT_DATABASE_URL: the database is at migration 0002_identity_labels, and "
            f"this WaddleBot needs {head_revision()}. Run `waddlebot db upgrade` (PostgreSQL is "
            "migrated on purpose, not when a process starts; see WADDLEBOT_AUTO_MIGRATE).",
        )
