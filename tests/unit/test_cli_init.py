"""``waddlebot init``: the questions a new user answers (or the flags a script gives), the
``.env`` they get, and what they are told to run next. An existing ``.env`` is never changed
without a yes."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from dotenv import dotenv_values

from tests.support.cli import invoke


@pytest.fixture
def env_file(tmp_path: Path) -> Path:
    return tmp_path / ".env"


def init(env_file: Path, *args: str, answers: str | None = None) -> tuple[int, str, str]:
    result = invoke(["init", "--env-file", str(env_file), *args], input=answers)
    return result.exit_code, result.stdout, result.stderr


def test_the_interactive_wizard_writes_what_each_platform_needs(env_file: Path) -> None:
    answers = "\n".join(
        [
            "twitch, slack",  # the platforms
            "my-client-id",
            "my-client-secret",
            "xoxp-wrong-kind",  # not a bot token: asked again
            "xoxb-1-2-3",
            "",  # no signing secret
            "",  # no app token
        ]
    )
    code, out, err = init(env_file, answers=answers + "\n")
    assert code == 0, err
    assert dotenv_values(env_file) == {
        "WADDLEBOT_TWITCH_CLIENT_ID": "my-client-id",
        "WADDLEBOT_TWITCH_CLIENT_SECRET": "my-client-secret",
        "WADDLEBOT_SLACK_BOT_TOKEN": "xoxb-1-2-3",
    }
    assert "it starts with xoxb-" in out
    assert "my-client-secret" not in out  # secrets are not echoed
    assert "Next: start WaddleBot with `waddlebot up`" in out
    assert "waddlebot twitch connect --bot" in out
    assert "/invite @WaddleBot" in out
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600  # it holds secrets


def test_an_unknown_platform_is_asked_again(env_file: Path) -> None:
    code, out, err = init(env_file, answers="mastodon\ndiscord\ntok\n1234\n\n")
    assert code == 0, err
    assert "There is no platform mastodon" in out
    assert dotenv_values(env_file) == {
        "WADDLEBOT_DISCORD_TOKEN": "tok",
        "WADDLEBOT_DISCORD_APPLICATION_ID": "1234",
    }
    assert "waddlebot discord commands sync" in out


def test_scripted_with_flags_asks_nothing(env_file: Path) -> None:
    flags = ["--yes", "--platform", "twitch"]
    code, out, err = init(
        env_file, *flags, "--twitch-client-id", "abc", "--twitch-client-secret", "def"
    )
    assert code == 0, err
    assert dotenv_values(env_file) == {
        "WADDLEBOT_TWITCH_CLIENT_ID": "abc",
        "WADDLEBOT_TWITCH_CLIENT_SECRET": "def",
    }
    assert "Wrote 2 settings for twitch" in out
    missing = init(env_file, *flags, "--twitch-client-id", "abc")
    assert missing[0] == 2 and "--twitch-client-secret" in missing[2]
    no_platform = init(env_file, "--yes")
    assert no_platform[0] == 2 and "give --platform" in no_platform[2]
    bad = init(env_file, "--yes", "-p", "slack", "--slack-bot-token", "nope")
    assert bad[0] == 2 and "--slack-bot-token: it starts with xoxb-" in bad[2]


def test_an_existing_env_file_keeps_its_lines_and_is_only_changed_after_a_yes(
    env_file: Path,
) -> None:
    env_file.write_text("WADDLEBOT_PORT=8080\nWADDLEBOT_TWITCH_CLIENT_ID=old\n")
    flags = ["-p", "twitch", "--twitch-client-id", "new", "--twitch-client-secret", "s"]
    code, _, err = init(env_file, "--yes", *flags)
    assert code == 1 and "sets WADDLEBOT_TWITCH_CLIENT_ID already" in err and "--force" in err
    assert dotenv_values(env_file)["WADDLEBOT_TWITCH_CLIENT_ID"] == "old"

    code, out, err = init(env_file, *flags, answers="n\n")  # asked, and said no
    assert code == 1 and "Replace?" in out
    assert dotenv_values(env_file)["WADDLEBOT_TWITCH_CLIENT_ID"] == "old"
    assert "WADDLEBOT_TWITCH_CLIENT_SECRET" not in dotenv_values(env_file)

    code, _, err = init(env_file, *flags, answers="y\n")
    assert code == 0, err
    assert dotenv_values(env_file) == {
        "WADDLEBOT_PORT": "8080",
        "WADDLEBOT_TWITCH_CLIENT_ID": "new",
        "WADDLEBOT_TWITCH_CLIENT_SECRET": "s",
    }


def test_adding_a_platform_to_an_existing_file_asks_nothing_about_it(env_file: Path) -> None:
    env_file.write_text("WADDLEBOT_TWITCH_CLIENT_ID=abc\n")
    code, out, err = init(
        env_file, "-y", "-p", "twitch", "--twitch-client-id", "abc", "--twitch-client-secret", "s"
    )
    assert code == 0, err
    assert "Wrote 1 setting for twitch" in out
    assert dotenv_values(env_file) == {
        "WADDLEBOT_TWITCH_CLIENT_ID": "abc",
        "WADDLEBOT_TWITCH_CLIENT_SECRET": "s",
    }
