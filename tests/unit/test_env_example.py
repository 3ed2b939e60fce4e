"""``.env.example`` at the top of the repository lists every setting with its default."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from waddlebot import env_example
from waddlebot.settings import Settings

EXAMPLE = Path(__file__).resolve().parents[2] / ".env.example"
RENEW = "renew it: `make env-example` (python -m waddlebot.env_example > .env.example)"
VARIABLE = re.compile(r"^# (WADDLEBOT_\w+)=(.*)$", re.MULTILINE)


def _listed() -> dict[str, str]:
    return dict(VARIABLE.findall(EXAMPLE.read_text(encoding="utf-8")))


def test_every_setting_is_listed() -> None:
    listed = _listed()
    missing = [env_example.env_name(name) for name in Settings.model_fields]
    missing = [name for name in missing if name not in listed]
    assert not missing, f".env.example lacks {missing}; {RENEW}"
    unknown = set(listed) - {env_example.env_name(name) for name in Settings.model_fields}
    assert not unknown, f".env.example lists {sorted(unknown)}, which are no settings; {RENEW}"


def test_the_file_is_what_the_settings_classes_write() -> None:
    assert EXAMPLE.read_text(encoding="utf-8") == env_example.render(), RENEW


def test_every_section_is_written() -> None:
    written = {name for section in env_example.sections() for name in section.model_fields}
    assert written == set(Settings.model_fields)


def test_uncommented_the_values_are_the_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A user who uncomments a line and keeps its value gets what they had without it."""
    monkeypatch.chdir(tmp_path)
    for name in Settings.model_fields:
        monkeypatch.delenv(env_example.env_name(name), raising=False)
    set_lines = [f"{name}={value}" for name, value in _listed().items() if value]
    (tmp_path / ".env").write_text("\n".join(set_lines) + "\n", encoding="utf-8")
    assert Settings().model_dump() == Settings(_env_file=None).model_dump()
