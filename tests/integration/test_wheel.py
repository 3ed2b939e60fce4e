"""The package as a user installs it: the sdist and the wheel built from a copy of the source,
the wheel installed into a fresh venv (the versions uv.lock pins, from uv's cache), and
``waddlebot up`` from that venv answering ``/healthz`` with a temporary data directory.

This is what an editable install cannot show: a migration, a page or a static file missing
from the package data, a dependency imported but not declared, a licence field setuptools
warns about. uv (a test dependency) does the building and installing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.harness import free_port
from tests.support.processes import ServiceProcess

REPO = Path(__file__).resolve().parents[2]
SOURCE_FILES = ("pyproject.toml", "uv.lock", "README.md", "LICENSE")


def _uv() -> str:
    uv = Path(sys.executable).parent / "uv"
    if not uv.is_file():
        pytest.fail("uv is not installed beside the tests' Python: run `make install`")
    return str(uv)


def _run(*args: str, cwd: Path) -> str:
    done = subprocess.run(
        args,
        cwd=cwd,
        env={k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "UV_"))},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{output[-4000:]}"
    return output


def _copy_source(to: Path) -> None:
    """Builds write build/ and *.egg-info beside the sources: never in the checkout."""
    for name in SOURCE_FILES:
        shutil.copy2(REPO / name, to / name)
    shutil.copytree(
        REPO / "src", to / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )


async def test_the_built_wheel_installs_and_serves(tmp_path: Path) -> None:
    uv = _uv()
    source, dist, venv, run = (tmp_path / name for name in ("source", "dist", "venv", "run"))
    for folder in (source, run):
        folder.mkdir()
    _copy_source(source)

    # the sdist, then the wheel built from it: what a user's pip would do with the sdist
    built = _run(uv, "build", "--quiet", "--out-dir", str(dist), cwd=source)
    assert "Warning:" not in built, f"the build warns:\n{built}"
    (wheel,) = dist.glob("waddlebot-*.whl")

    constraints = tmp_path / "constraints.txt"
    _run(
        uv, "export", "--frozen", "--no-emit-project", "--no-hashes", "--quiet",
        "--output-file", str(constraints), cwd=source,
    )  # fmt: skip
    _run(uv, "venv", "--quiet", "--python", sys.executable, str(venv), cwd=tmp_path)
    python = str(venv / "bin" / "python")
    _run(uv, "pip", "install", "--quiet", "--python", python, str(wheel), "-c", str(constraints),
         cwd=tmp_path)  # fmt: skip

    installed = _run(uv, "pip", "list", "--python", python, "--format", "freeze", cwd=tmp_path)
    names = {line.split("==")[0].lower() for line in installed.splitlines()}
    assert "httpx2" in names and "httpx" not in names, "one HTTP stack, httpx2"

    port = free_port()
    # nothing of the checkout or of the developer's settings: the wheel's code alone
    drop = ("WADDLEBOT_", "VIRTUAL_ENV", "PYTHONPATH")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env["WADDLEBOT_DATA_DIR"] = str(run / "var")
    log = tmp_path / "up.log"
    with log.open("wb") as out:
        popen = subprocess.Popen(
            [str(venv / "bin" / "waddlebot"), "up", "--port", str(port)],
            cwd=run,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    process = ServiceProcess("up (from the wheel)", port, log, popen, env)
    try:
        await process.wait_healthy(timeout=30)
        assert (run / "var" / "waddlebot.db").is_file(), "migrated on start into the data dir"
    finally:
        process.stop()
