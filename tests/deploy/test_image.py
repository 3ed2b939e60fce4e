"""deploy/Dockerfile: linted by hadolint, and what the image assumes proven without Docker
(which cannot run on these machines).

The install is made the way the Dockerfile makes it (its own ``uv sync`` lines, run in a
copy of the source), made read-only, and every service is started from it as the image's
unprivileged uid (when the tests run as root; otherwise as the test's own user), with the
image's settings, its working directory the read-only install, and only a data directory and
a temporary directory writable: each must start, answer ``/healthz`` and ``/readyz``, and pass
the image's ``HEALTHCHECK`` command.
"""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from cryptography.fernet import Fernet

from tests.support.dockerfile import Stage, read_stages
from tests.support.harness import free_port
from tests.support.processes import ServiceProcess
from waddlebot.runtime import SERVICES

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "deploy" / "Dockerfile"
SOURCE_FILES = ("pyproject.toml", "uv.lock", "README.md", "LICENSE")
# what each platform's collector needs to start (no platform is reached: nothing listens on
# port 9, and every collector starts and stays up without its platform)
NOWHERE = "http://127.0.0.1:9"
PLATFORM_SETTINGS = {
    "WADDLEBOT_TWITCH_CLIENT_ID": "deploy-test",
    "WADDLEBOT_TWITCH_CLIENT_SECRET": "deploy-test-secret",
    "WADDLEBOT_TWITCH_AUTH_URL": f"{NOWHERE}/oauth2",
    "WADDLEBOT_TWITCH_HELIX_URL": f"{NOWHERE}/helix",
    "WADDLEBOT_TWITCH_EVENTSUB_WS_URL": "ws://127.0.0.1:9/ws",
    "WADDLEBOT_DISCORD_TOKEN": "deploy-test-token",
    "WADDLEBOT_DISCORD_API_URL": f"{NOWHERE}/api",
    "WADDLEBOT_SLACK_SIGNING_SECRET": "deploy-test-secret",
    "WADDLEBOT_SLACK_API_URL": f"{NOWHERE}/api/",
}


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return read_stages(DOCKERFILE)


def test_hadolint_finds_nothing() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    assert hadolint.is_file(), "hadolint is not installed beside the tests' Python: make install"
    done = subprocess.run(
        [str(hadolint), str(DOCKERFILE)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == ""


def test_the_image_installs_the_uv_that_uv_lock_pins(stages: list[Stage]) -> None:
    locked = re.search(r'name = "uv"\nversion = "([^"]+)"', (REPO / "uv.lock").read_text())
    assert locked is not None
    (argument,) = [a for a in stages[0].arguments("ARG") if a.startswith("UV_VERSION=")]
    assert argument == f"UV_VERSION={locked.group(1)}"


def test_the_final_image_has_no_build_tools_and_runs_unprivileged(stages: list[Stage]) -> None:
    build, runtime = stages
    assert "slim" in build.base and "slim" in runtime.base and ":3.12" in runtime.base
    # only the finished venv comes over from the build stage: no uv, no source, no compiler
    assert runtime.arguments("COPY") == ["--from=build /opt/waddlebot /opt/waddlebot"]
    assert not any("apt-get install" in run for run in runtime.arguments("RUN"))
    assert "pip uninstall" in " ".join(runtime.arguments("RUN"))
    (user,) = runtime.arguments("USER")
    uid, _, gid = user.partition(":")
    assert int(uid) >= 1000 and int(gid) >= 1000  # numeric: runAsNonRoot can check it
    (healthcheck,) = runtime.arguments("HEALTHCHECK")
    assert healthcheck.endswith('CMD ["python", "-m", "waddlebot.healthcheck"]')
    volumes = " ".join(runtime.arguments("VOLUME"))
    assert runtime.env()["WADDLEBOT_DATA_DIR"] in volumes and "/tmp" in volumes


# --- the install, read-only, run as the image's user


def _runnable_by_anyone(path: Path) -> bool:
    """``path`` and every directory above it can be entered and run by any uid."""
    resolved = path.resolve()
    if not resolved.is_file() or not resolved.stat().st_mode & stat.S_IXOTH:
        return False
    return all(parent.stat().st_mode & stat.S_IXOTH for parent in resolved.parents)


def _python_for_everyone() -> str:
    """A Python 3.11+ any uid can run: the image's user cannot run one under /root."""
    candidates = [Path(sys._base_executable), Path("/usr/bin/python3.12"), Path("/usr/bin/python3")]
    for candidate in candidates:
        if candidate.exists() and _runnable_by_anyone(candidate):
            version = subprocess.run(
                [str(candidate), "-c", "import sys; print(sys.version_info >= (3, 11))"],
                capture_output=True, text=True, timeout=30, check=False,
            )  # fmt: skip
            if version.stdout.strip() == "True":
                return str(candidate)
    pytest.fail(f"no Python 3.11+ that any uid can run among {[str(c) for c in candidates]}")


def _image_user(runtime: Stage) -> tuple[int, int] | None:
    """The uid and gid to run as: the image's, when the tests may switch to it (root)."""
    if os.geteuid() != 0:
        return None
    uid, _, gid = runtime.arguments("USER")[0].partition(":")
    return int(uid), int(gid)


class Install:
    def __init__(self, root: Path, stages: list[Stage]) -> None:
        self.root = root
        self.venv = root / "opt" / "waddlebot"
        self.build, self.runtime = stages
        self.user = _image_user(self.runtime)

    def make(self) -> None:
        """The Dockerfile's ``uv sync`` lines with its build settings, in a copy of the source;
        uv's cache is used and bytecode is not compiled (quicker; the image's processes never
        write bytecode either way: PYTHONDONTWRITEBYTECODE)."""
        source = self.root / "src"
        source.mkdir()
        for name in SOURCE_FILES:
            shutil.copy2(REPO / name, source / name)
        shutil.copytree(
            REPO / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "UV_"))}
        env.update(self.build.env())
        env.pop("UV_NO_CACHE", None)
        env.update(
            UV_PROJECT_ENVIRONMENT=str(self.venv),
            UV_PYTHON=_python_for_everyone(),
            UV_COMPILE_BYTECODE="0",
        )
        uv = str(Path(sys.executable).parent / "uv")
        syncs = [run for run in self.build.arguments("RUN") if run.startswith("uv sync")]
        assert len(syncs) == 2, syncs
        for line in syncs:
            done = subprocess.run(
                [uv, *shlex.split(line)[1:]], cwd=source, env=env,
                capture_output=True, text=True, timeout=300, check=False,
            )  # fmt: skip
            assert done.returncode == 0, f"{line}:\n{done.stderr[-4000:]}"
        shutil.rmtree(source)
        for path in (self.venv, *self.venv.rglob("*")):
            if not path.is_symlink():
                path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))

    def writable_dir(self, name: str) -> Path:
        path = self.root / name
        path.mkdir(mode=0o700)
        if self.user is not None:
            os.chown(path, *self.user)
        return path

    def environ(self, data_dir: Path, tmp: Path, **settings: str) -> dict[str, str]:
        """The image's environment (its runtime ``ENV``) for a process of this install."""
        env = self.runtime.env()
        env.update(
            PATH=f"{self.venv / 'bin'}:/usr/bin:/bin",
            HOME="/nonexistent",
            TMPDIR=str(tmp),
            WADDLEBOT_HOST="127.0.0.1",
            WADDLEBOT_DATA_DIR=str(data_dir),
        )
        env.update(settings)
        return env

    def run(
        self, args: list[str], env: dict[str, str], **kwargs: object
    ) -> subprocess.Popen[bytes]:
        (workdir,) = self.runtime.arguments("WORKDIR")
        assert workdir == "/opt/waddlebot"
        user = {} if self.user is None else {"user": self.user[0], "group": self.user[1]}
        return subprocess.Popen(  # type: ignore[call-overload, no-any-return]
            args, cwd=self.venv, env=env, stdin=subprocess.DEVNULL, **user, **kwargs,
            **({"extra_groups": []} if user else {}),
        )  # fmt: skip

    def remove(self) -> None:
        for path in (self.root, *self.root.rglob("*")):
            if not path.is_symlink():
                path.chmod(path.stat().st_mode | stat.S_IWUSR)
        shutil.rmtree(self.root)


@pytest.fixture(scope="module")
def install(stages: list[Stage]) -> Iterator[Install]:
    # under /tmp, entered by anyone (pytest's tmp_path is under a directory only root enters)
    root = Path(tempfile.mkdtemp(prefix="waddlebot-image-"))
    root.chmod(0o755)
    made = Install(root, stages)
    try:
        made.make()
        yield made
    finally:
        made.remove()


def _finished(popen: subprocess.Popen[bytes], timeout: float = 60) -> int:
    return popen.wait(timeout=timeout)


async def test_every_service_runs_unprivileged_from_a_read_only_install(
    install: Install, fresh_postgres_url: str, redis_url: str, key_prefix: str
) -> None:
    data, tmp = install.writable_dir("data"), install.writable_dir("tmp")
    settings = {
        "WADDLEBOT_DATABASE_URL": fresh_postgres_url,
        "WADDLEBOT_REDIS_URL": redis_url,
        "WADDLEBOT_STREAM_PREFIX": key_prefix,
        "WADDLEBOT_SECRET_KEYS": Fernet.generate_key().decode(),
        **PLATFORM_SETTINGS,
    }
    # the migration Job's command, as the same user from the same install
    migrate = install.run(
        ["waddlebot", "db", "upgrade"], install.environ(data, tmp, **settings),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    output = (await asyncio.to_thread(migrate.communicate, None, 120))[0].decode()
    assert migrate.returncode == 0 and "database at" in output, output

    files = sorted(install.venv.rglob("*"))
    logs = install.writable_dir("logs")
    started: list[ServiceProcess] = []
    try:
        for service in SERVICES:
            port = free_port()
            env = install.environ(data, tmp, **settings, WADDLEBOT_PORT=str(port))
            log_path = logs / f"{service}.log"
            with log_path.open("ab") as log:
                popen = install.run(
                    ["waddlebot", "serve", service], env, stdout=log, stderr=subprocess.STDOUT
                )
            started.append(ServiceProcess(service, port, log_path, popen, env))
        # seven processes import and start at once: a loaded machine takes its time
        await asyncio.gather(*(process.wait_healthy(timeout=120) for process in started))
        async with httpx2.AsyncClient(timeout=10) as client:
            for process in started:
                ready = await client.get(f"{process.url}/readyz")
                assert ready.json()["status"] == "ready", process.log_tail()
        for process in started:  # the image's HEALTHCHECK, run as the image runs it
            check = install.run(["python", "-m", "waddlebot.healthcheck"], dict(process.env))
            assert await asyncio.to_thread(_finished, check) == 0, process.log_tail()
    finally:
        await asyncio.gather(*(asyncio.to_thread(process.stop) for process in started))

    stopped = started[0]
    check = install.run(
        ["python", "-m", "waddlebot.healthcheck"], dict(stopped.env), stderr=subprocess.PIPE
    )
    _, error = await asyncio.to_thread(check.communicate, None, 60)
    assert check.returncode == 1 and b"unhealthy" in error
    # what was written went to the data directory: the first API key (serve api)
    assert (data / "api-key").is_file()
    if install.user is not None:
        assert (data / "api-key").stat().st_uid == install.user[0]
    assert sorted(install.venv.rglob("*")) == files, "a process wrote into the install"
