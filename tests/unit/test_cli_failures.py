"""How a ``waddlebot`` command that cannot do its work ends: one line saying what failed and
what to do, an exit status telling a setting to fix (78) from a service that does not answer
(69), the traceback only when asked for; and the root options (--version, --debug,
completion)."""

from __future__ import annotations

import errno
from importlib.metadata import version

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from tests.support.cli import invoke
from waddlebot.cli.failures import (
    EX_CONFIG,
    EX_UNAVAILABLE,
    CommandFailed,
    Failure,
    SettingsRefused,
    failure_of,
)
from waddlebot.core.errors import ConfigurationError, ServiceUnavailable

BAD_PORT = (
    "WADDLEBOT_PORT: must be a whole number (got 'eighty'). Correct it, or remove it to use "
    "the default (8000)."
)


@pytest.fixture(autouse=True)
def empty_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    """Commands run where no .env is."""
    monkeypatch.chdir(str(tmp_path))


def test_a_setting_to_fix_is_status_78_and_a_service_down_69() -> None:
    problem = ConfigurationError("must be a number", setting="WADDLEBOT_PORT", fix="Fix it.")
    down = ServiceUnavailable("does not answer", setting="WADDLEBOT_REDIS_URL", fix="Start it.")
    assert failure_of(problem) == Failure(["WADDLEBOT_PORT: must be a number. Fix it."], 78)
    assert failure_of(down) == Failure(["WADDLEBOT_REDIS_URL: does not answer. Start it."], 69)
    assert failure_of(SettingsRefused([problem, down])) == Failure(
        [problem.line(), down.line()], EX_CONFIG
    )
    assert failure_of(CommandFailed("cannot reach it", EX_UNAVAILABLE)) == Failure(
        ["cannot reach it"], 69
    )


def test_a_service_that_goes_away_mid_command_is_one_line_naming_it() -> None:
    lost = RedisConnectionError("Error 111 connecting to redis://:hunter2@10.0.0.1:6379")
    failure = failure_of(RuntimeError("the batch failed"))
    assert failure is None  # a bug keeps its traceback
    wrapped = RuntimeError("reading the bus")
    wrapped.__cause__ = lost
    failure = failure_of(wrapped)
    assert failure is not None and failure.code == EX_UNAVAILABLE
    [line] = failure.lines
    assert line.startswith("WADDLEBOT_REDIS_URL: the Redis stopped answering")
    assert "hunter2" not in line
    refused = failure_of(OSError(errno.ECONNREFUSED, "Connection refused"))
    assert refused is not None and refused.code == EX_UNAVAILABLE
    assert refused.lines[0].startswith("a connection failed (")


def test_version() -> None:
    result = invoke(["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"waddlebot {version('waddlebot')}\n"


def test_shell_completion_is_offered() -> None:
    result = invoke(["--help"])
    assert "--install-completion" in result.stdout and "--show-completion" in result.stdout
    shown = invoke(["--show-completion", "bash"])
    assert shown.exit_code == 0 and "_WADDLEBOT_COMPLETE" in shown.stdout


def test_a_bad_setting_is_one_line_and_status_78() -> None:
    result = invoke(["db", "current"], env={"WADDLEBOT_PORT": "eighty"})
    assert result.exit_code == EX_CONFIG
    assert result.stderr.splitlines() == [BAD_PORT]
    assert result.stdout == ""


def test_debug_adds_the_traceback_before_the_line() -> None:
    result = invoke(["--debug", "db", "current"], env={"WADDLEBOT_PORT": "eighty"})
    assert result.exit_code == EX_CONFIG
    assert "Traceback" in result.stderr
    assert result.stderr.splitlines()[-1] == BAD_PORT


def test_a_command_that_says_no_exits_1_and_a_usage_mistake_2() -> None:
    env = {"WADDLEBOT_TWITCH_CLIENT_ID": "abc", "WADDLEBOT_TWITCH_CLIENT_SECRET": "def"}
    neither = invoke(["twitch", "connect"], env=env)
    assert neither.exit_code == 2 and "give --bot, --community <id>, or both" in neither.stderr
    unknown = invoke(["db", "current", "--nonsense"])
    assert unknown.exit_code == 2
