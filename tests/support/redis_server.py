"""A ``redis-server`` of the test's own, on a free port and in a directory of its own, that a
test may stop and start again (the shared Redis on 6379 is never touched)."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest
import redis

from tests.support.harness import free_port


class RedisServer:
    """``redis-server`` with the append-only file on and fsynced on every write, so a restart
    keeps every acknowledged write (streams, consumer groups, pending entries)."""

    def __init__(self, directory: Path, *, appendonly: bool = True) -> None:
        executable = shutil.which("redis-server")
        if executable is None:
            pytest.fail("redis-server is not installed", pytrace=False)
        self._executable = executable
        self.directory = directory
        self.port = free_port()
        self._appendonly = appendonly
        self._popen: subprocess.Popen[bytes] | None = None
        directory.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    def start(self, timeout: float = 10.0) -> None:
        """Start on the same port and directory as before; returns once it answers PING
        (after loading its append-only file)."""
        assert not self.running, "redis-server is running already"
        args = [
            self._executable,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.directory),
            "--save", "",
            "--appendonly", "yes" if self._appendonly else "no",
            "--appendfsync", "always",
            "--logfile", "redis.log",
        ]  # fmt: skip
        self._popen = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + timeout
        try:
            while True:
                try:
                    if client.ping():
                        return
                except redis.exceptions.ConnectionError:  # not listening yet, or loading
                    pass
                if not self.running or time.monotonic() > deadline:
                    pytest.fail(f"redis-server did not start\n{self.log_tail()}")
                time.sleep(0.05)
        finally:
            client.close()

    def stop(self, timeout: float = 10.0) -> None:
        """Shut down as an operator would (SIGTERM: the append-only file is flushed)."""
        if self._popen is None:
            return
        if self.running:
            self._popen.terminate()
        try:
            self._popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._popen.kill()
            self._popen.wait()

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = (self.directory / "redis.log").read_text(errors="replace")
        except OSError as exc:
            return f"(no redis log: {exc})"
        return "\n".join(text.splitlines()[-lines:])
