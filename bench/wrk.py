"""Driving wrk (``apt-get install wrk``) with pre-built requests, each sent once.

Every request (a validly signed webhook with a unique id) is built in Python before the run
and written to a file; a Lua script hands them to wrk one after the other, so the load
generator does no per-request work of its own. A closed loop: each connection sends its next
request once it has the answer (for an offered load, see :mod:`bench.paced`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

_LUA = r"""
local source = os.getenv("BENCH_REQUESTS")
local requests, count, at = {}, 0, 0
wrapped = 0  -- a global: done() reads it with thread:get
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local f = assert(io.open(source, "rb"))
  local data = f:read("*a")
  f:close()
  local pos = 1
  while pos <= #data do
    local nl = string.find(data, "\n", pos, true)
    local len = tonumber(string.sub(data, pos, nl - 1))
    count = count + 1
    requests[count] = string.sub(data, nl + 1, nl + len)
    pos = nl + len + 1
  end
end

function request()
  at = at + 1
  if at > count then
    at = 1
    wrapped = wrapped + 1
  end
  return requests[at]
end

function done(summary, latency, requests)
  local wraps = 0
  for _, thread in ipairs(threads) do
    wraps = wraps + thread:get("wrapped")
  end
  local e = summary.errors
  io.write(string.format(
    'WRK-JSON {"requests": %d, "duration_us": %d, "non_2xx": %d, "socket_errors": %d, ' ..
    '"p50_us": %d, "p99_us": %d, "mean_us": %f, "wrapped": %d}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), latency.mean, wraps))
end
"""


@dataclass(frozen=True)
class Result:
    requests: int
    seconds: float
    non_2xx: int
    socket_errors: int
    p50_ms: float
    p99_ms: float
    mean_ms: float
    wrapped: int  # > 0: more requests were sent than were built, so some went twice

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def available() -> bool:
    return shutil.which("wrk") is not None


def raw_request(
    method: str, host: str, path: str, headers: Iterable[tuple[str, str]], body: bytes
) -> bytes:
    head = [f"{method} {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
    head += [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def write_requests(path: Path, requests: Iterable[bytes]) -> int:
    count = 0
    with path.open("wb") as out:
        for raw in requests:
            out.write(b"%d\n" % len(raw))
            out.write(raw)
            count += 1
    return count


def run(
    url: str,
    requests_file: Path,
    *,
    seconds: float,
    connections: int,
    threads: int = 1,
) -> Result:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_LUA)
    env = dict(os.environ, BENCH_REQUESTS=str(requests_file))
    try:
        done = subprocess.run(
            [
                "wrk",
                f"-t{threads}",
                f"-c{connections}",
                f"-d{max(1, round(seconds))}s",
                "--timeout",
                "10s",
                "-s",
                script.name,
                url,
            ],
            env=env,
            capture_output=True,
            text=True,
        )
    finally:
        os.unlink(script.name)
    if done.returncode != 0 or "WRK-JSON " not in done.stdout:
        raise RuntimeError(f"wrk failed: {done.stderr.strip() or done.stdout.strip()}")
    line = next(x for x in done.stdout.splitlines() if x.startswith("WRK-JSON "))
    figures = json.loads(line.removeprefix("WRK-JSON "))
    return Result(
        requests=figures["requests"],
        seconds=figures["duration_us"] / 1e6,
        non_2xx=figures["non_2xx"],
        socket_errors=figures["socket_errors"],
        p50_ms=figures["p50_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
        mean_ms=figures["mean_us"] / 1000,
        wrapped=figures["wrapped"],
    )
