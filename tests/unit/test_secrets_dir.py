"""Settings from a secrets directory (``WADDLEBOT_SECRETS_DIR``): a file per setting, as Docker
and Kubernetes mount secrets, read after the environment and ``.env``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import invoke
from waddlebot.settings import Settings


@pytest.fixture
def secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "secrets"
    directory.mkdir()
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in ("WADDLEBOT_API_KEY", "WADDLEBOT_SECRET_KEYS", "WADDLEBOT_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WADDLEBOT_SECRETS_DIR", str(directory))
    return directory


def test_each_file_is_the_setting_it_is_named_after(secrets: Path) -> None:
    (secrets / "WADDLEBOT_API_KEY").write_text("key-from-a-file\n")
    (secrets / "WADDLEBOT_SECRET_KEYS").write_text("newest-key,older-key\n")
    (secrets / "WADDLEBOT_DATABASE_URL").write_text("postgresql://bot:pw@db:5432/waddlebot")
    settings = Settings()
    assert settings.api_key.get_secret_value() == "key-from-a-file"
    assert [k.get_secret_value() for k in settings.secret_keys] == ["newest-key", "older-key"]
    assert settings.database_url == "postgresql://bot:pw@db:5432/waddlebot"


def test_a_variable_set_wins_over_the_file(secrets: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (secrets / "WADDLEBOT_API_KEY").write_text("from-the-file")
    monkeypatch.setenv("WADDLEBOT_API_KEY", "from-the-environment")
    assert Settings().api_key.get_secret_value() == "from-the-environment"


def test_without_the_variable_no_directory_is_read(
    secrets: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (secrets / "WADDLEBOT_API_KEY").write_text("from-the-file")
    monkeypatch.delenv("WADDLEBOT_SECRETS_DIR")
    assert Settings().api_key.get_secret_value() == ""


def test_a_directory_that_is_not_there_is_one_line_to_fix(tmp_path: Path) -> None:
    result = invoke(["db", "current"], env={"WADDLEBOT_SECRETS_DIR": str(tmp_path / "nowhere")})
    assert result.exit_code == 78
    assert result.stderr.startswith("WADDLEBOT_SECRETS_DIR: names ")
    assert "not a directory" in result.stderr
