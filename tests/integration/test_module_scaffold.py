"""``waddlebot module new``: the scaffolded module's own test passes as generated, and a name
or place it cannot use is refused in one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import invoke


def test_a_scaffolded_module_passes_its_own_test(tmp_path: Path) -> None:
    result = invoke(["module", "new", "hug", "--in", str(tmp_path)])
    assert result.exit_code == 0, result.output
    made = tmp_path / "hug"
    assert sorted(p.name for p in made.iterdir()) == ["README.md", "hug.py", "test_hug.py"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(made)],
        cwd=made,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 passed" in run.stdout
    readme = (made / "README.md").read_text()
    assert "WADDLEBOT_MODULES=hug:module" in readme
    assert "waddlebot serve module:hug:module" in readme


@pytest.mark.parametrize(
    ("name", "problem", "code"),
    [
        ("Hug", "cannot be a module name", 2),
        ("9lives", "cannot be a module name", 2),
        ("my-module", "cannot be a module name", 2),
        ("json", "a Python package the module would hide", 2),
    ],
)
def test_a_name_that_cannot_be_a_module_is_refused(
    tmp_path: Path, name: str, problem: str, code: int
) -> None:
    result = invoke(["module", "new", name, "--in", str(tmp_path)])
    assert result.exit_code == code
    assert problem in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_an_existing_directory_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / "hug").mkdir()
    (tmp_path / "hug" / "mine.txt").write_text("keep")
    result = invoke(["module", "new", "hug", "--in", str(tmp_path)])
    assert result.exit_code == 1
    assert (
        result.output.strip()
        == f"{tmp_path / 'hug'} exists already; choose another name or move it away"
    )
    assert [p.name for p in (tmp_path / "hug").iterdir()] == ["mine.txt"]
