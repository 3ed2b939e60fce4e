"""Real ``waddlebot serve ...`` subprocesses for tests: started with a clean environment,
logging to a file, health-checked, and always reaped (SIGTERM, then SIGKILL)."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx2
import psutil
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.harness import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]


def waddlebot_executable() -> str:
    """The ``waddlebot`` console script of the interpreter running the tests."""
    beside = Path(sys.executable).parent / "waddlebot"
    if beside.is_file():
        return str(beside)
    found = shutil.which("waddlebot")
    if found is None:
        pytest.fail("the waddlebot console script is not installed (pip install -e .)")
    return found


def _clean_environ() -> dict[str, str]:
    """The test process's environment without any WADDLEBOT_* setting of the developer's."""
    return {k: v for k, v in os.environ.items() if not k.startswith("WADDLEBOT_")}


@dataclass
class ServiceProcess:
    """One ``waddlebot serve <service>`` subprocess, listening on ``port``."""

    name: str
    port: int
    log_path: Path
    popen: subprocess.Popen[bytes]
    env: Mapping[str, str] = field(repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 30, width: int = 600) -> str:
        """The last ``lines`` lines of its log, each cut to ``width`` characters (a traceback
        logged as JSON is one very long line)."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError as exc:
            return f"(no log: {exc})"
        tail = "\n".join(
            line if len(line) <= width else line[:width] + " [...]"
            for line in text.splitlines()[-lines:]
        )
        return f"--- {self.name} (pid {self.pid}, exit {self.popen.poll()}) log tail ---\n{tail}"

    async def wait_healthy(self, timeout: float = 30.0) -> None:
        """Poll ``/healthz`` until it answers 200; fail with the log tail if it never does."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with httpx2.AsyncClient(timeout=1.0) as client:
            while loop.time() < deadline:
                if not self.alive:
                    pytest.fail(f"{self.name} exited while starting\n{self.log_tail()}")
                try:
                    if (await client.get(f"{self.url}/healthz")).status_code == 200:
                        return
                except httpx2.TransportError:
                    pass
                await asyncio.sleep(0.1)
        pytest.fail(f"{self.name} not healthy after {timeout}s\n{self.log_tail()}")

    async def metric_total(self, family: str) -> float:
        """The sum over all label sets of a counter family (e.g. ``waddlebot_events_processed``)
        from the process's ``/metrics``."""
        return await self._metric_sum(family, f"{family}_total")

    async def gauge(self, family: str) -> float:
        """The sum over all label sets of a gauge family from the process's ``/metrics``."""
        return await self._metric_sum(family, family)

    async def _metric_sum(self, family: str, sample: str) -> float:
        async with httpx2.AsyncClient(timeout=5.0) as client:
            response = await client.get(f"{self.url}/metrics")
        response.raise_for_status()
        total = 0.0
        for metric in text_string_to_metric_families(response.text):
            if metric.name == family:
                total += sum(s.value for s in metric.samples if s.name == sample)
        return total

    def freeze(self) -> None:
        """Stop running (SIGSTOP) until killed: what it holds stays as it is while a test
        reads it (its sockets, say)."""
        os.kill(self.pid, signal.SIGSTOP)

    def local_ports(self, remote_port: int) -> set[int]:
        """The local ports of the process's TCP connections to ``remote_port`` (unique among
        every process's connections to that port, which a local port alone is not: Linux
        gives one to connections to different places)."""
        connections = psutil.Process(self.pid).net_connections("tcp")
        return {c.laddr.port for c in connections if c.raddr and c.raddr.port == remote_port}

    def kill(self) -> None:
        """Die at once, like a crash: no shutdown, no acknowledgement of anything in hand."""
        if self.alive:
            os.kill(self.pid, signal.SIGKILL)
        self.popen.wait(timeout=10)

    def stop(self, timeout: float = 10.0) -> None:
        """Shut down gracefully (SIGTERM), or be killed after ``timeout`` seconds."""
        if self.alive:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
                return
            except subprocess.TimeoutExpired:
                pass
        self.kill()

    def terminate(self, timeout: float = 15.0) -> int:
        """SIGTERM and wait for the process to exit on its own; its exit code. Fails the test
        (with the log tail) when it does not exit in ``timeout`` seconds."""
        self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"{self.name} ignored SIGTERM for {timeout}s\n{self.log_tail()}")


class ServiceProcesses:
    """Starts ``waddlebot serve`` subprocesses sharing ``base_env``; :meth:`close` reaps them
    all. Each runs in its own directory under ``workdir`` (no stray ``.env`` is read)."""

    def __init__(self, workdir: Path, base_env: Mapping[str, str]) -> None:
        self._workdir = workdir
        self._base_env = dict(base_env)
        self.started: list[ServiceProcess] = []

    def start(self, service: str, name: str, **env: str) -> ServiceProcess:
        port = free_port()
        home = self._workdir / name
        home.mkdir(parents=True, exist_ok=True)
        environ = _clean_environ()
        environ.update(self._base_env)
        environ.update(
            {
                "PYTHONPATH": os.pathsep.join(
                    p for p in (str(REPO_ROOT), environ.get("PYTHONPATH", "")) if p
                ),
                "PYTHONUNBUFFERED": "1",
                "WADDLEBOT_PORT": str(port),
                "WADDLEBOT_DATA_DIR": str(home / "var"),
                "WADDLEBOT_LOG_JSON": "true",
            }
        )
        environ.update(env)
        return self._spawn(service, name, port, environ)

    def restart(self, process: ServiceProcess, service: str) -> ServiceProcess:
        """Start ``service`` again as ``process`` was (same name, port, directory and
        settings) once it has exited; its log goes on in the same file."""
        assert not process.alive, f"{process.name} is still running"
        return self._spawn(service, process.name, process.port, dict(process.env))

    def _spawn(self, service: str, name: str, port: int, environ: dict[str, str]) -> ServiceProcess:
        home = self._workdir / name
        log_path = home / "stderr.log"
        with log_path.open("ab") as log:
            popen = subprocess.Popen(
                [waddlebot_executable(), "serve", service],
                cwd=home,
                env=environ,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        process = ServiceProcess(name, port, log_path, popen, environ)
        self.started.append(process)
        return process

    def log_tails(self, lines: int = 30) -> str:
        return "\n".join(p.log_tail(lines) for p in self.started)

    def close(self) -> None:
        """SIGTERM every process still running, then wait for each (SIGKILL when it hangs)."""
        for process in self.started:
            if process.alive:
                process.popen.send_signal(signal.SIGTERM)
        for process in self.started:
            process.stop()
