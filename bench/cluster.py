"""Cluster benchmark: N ``waddlebot serve api`` and M ``waddlebot serve router`` processes on
PostgreSQL and Redis (the distributed mode) on this machine, for M = 1 and M = 2 routers.

    python -m bench.cluster [--apis 2] [--routers 1,2] [--seconds 10] [--batch 10]

For each number of routers:

- **commands/s**: ``!ping`` commands posted to ``POST /api/v1/events`` (one wrk per API
  process, closed loop, ``--batch`` commands a request, each with an id of its own) for
  ``--seconds``; the rate is the commands the routers answered over the time from the first
  post to the last answer (the router group's progress on the stream), so whichever side is
  slower sets it. The APIs' own accept rate is printed beside it.
- **latency**: one command a request with ``?wait=true`` (the API answers once a router has
  replied) offered at ``--rate`` commands/s over all APIs (300 by default, the same for
  every M), p50 and p99 of the whole round trip (``bench/paced.py``).
- **CPU per command** of the routers and of the APIs (from ``/proc``), what a busy machine
  changes least, and what sizing for more cores rests on.

Then the Twitch EventSub webhook ingest of one ``serve twitch`` process, as a ratio of the bare
Starlette endpoint (``bench/bare.py``) measured before and after it in the same run (the runs
of ``bench.ingest``). Prints a table. Figures, not pass/fail: needs ``wrk``, PostgreSQL and
Redis (``WADDLEBOT_BENCH_PG_ADMIN``, ``WADDLEBOT_BENCH_REDIS_URL``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson

from bench import ingest, paced, wrk
from bench.router import REDIS, USERS, _cpu_seconds, _free_port, _RedisProgress
from waddlebot.infra import keys
from waddlebot.infra.factory import build_ports
from waddlebot.infra.ports import Ports

HOST = ingest.HOST
CHANNELS = 50


@dataclass(frozen=True)
class Row:
    routers: int
    commands: float  # answered per second, end to end
    accepted: float  # taken by the APIs per second while posting
    p50_ms: float
    p99_ms: float
    offered: float
    router_cpu_us: float  # per command, all routers together
    api_cpu_us: float  # per command, all APIs together
    problems: str


def command(n: int) -> dict[str, object]:
    user = str(n % USERS)
    return {
        "platform": "twitch",
        "entity_id": f"twitch:{n % CHANNELS}",
        "message_id": uuid.uuid4().hex,
        "author": {"user_id": user, "login": f"user{user}"},
        "text": "!ping",
    }


def events_requests(host: str, batch: int, *, wait: bool = False) -> Iterator[bytes]:
    headers = [("Content-Type", "application/json"), ("Authorization", f"Bearer {ingest.API_KEY}")]
    path = "/api/v1/events?wait=true&timeout=30" if wait else "/api/v1/events"
    n = 0
    while True:
        body = orjson.dumps([command(n + i) for i in range(batch)])
        n += batch
        yield wrk.raw_request("POST", host, path, headers, body)


def build(path: Path, host: str, batch: int, count: int) -> Path:
    requests = events_requests(host, batch)
    wrk.write_requests(path, (next(requests) for _ in range(count)))
    return path


class Cluster:
    """The API processes of one deployment, and its routers of the moment."""

    def __init__(self, deployment: dict[str, str], work: Path) -> None:
        self.env = ingest.waddlebot_env(**deployment)
        self.prefix = deployment["stream_prefix"]
        self.work = work
        self.apis: list[ingest.Server] = []
        self.routers: list[ingest.Server] = []

    async def start_apis(self, count: int) -> None:
        self.apis = [await self._start("api", f"api-{n}") for n in range(count)]

    async def start_routers(self, count: int) -> None:
        self.routers = [await self._start("router", f"router-{n}") for n in range(count)]

    async def _start(self, service: str, name: str) -> ingest.Server:
        port = _free_port()
        env = dict(self.env, WADDLEBOT_ROUTER_CONSUMER=name)
        return await ingest.start(
            [ingest.EXE, "serve", service, "--port", str(port)], env, port, "/healthz"
        )

    def stop_routers(self) -> None:
        for server in self.routers:
            server.stop()
        self.routers = []

    def stop(self) -> None:
        self.stop_routers()
        for server in self.apis:
            server.stop()


def cpu(servers: list[ingest.Server]) -> float:
    return sum(_cpu_seconds(s.process.pid) for s in servers)


async def drained(progress: _RedisProgress, target: int, started: float) -> float:
    """Wait until the routers have answered ``target`` more commands; when that was."""
    while await progress.done() < target:
        if time.perf_counter() - started > 600:
            raise TimeoutError("the routers did not keep up within 10 minutes")
        await asyncio.sleep(0.01)
    return time.perf_counter()


async def throughput(
    cluster: Cluster, ports: Ports, args: argparse.Namespace, name: str
) -> tuple[float, float, float, float, str]:
    """Commands/s answered, accepted/s, router and API CPU microseconds per command."""
    progress = _RedisProgress(ports)
    files = []
    for n, api in enumerate(cluster.apis):
        host = api.url.removeprefix("http://")
        path = cluster.work / f"{name}-{n}.requests"
        files.append(build(path, host, args.batch, args.requests))
    start = await progress.done()
    cpu_r, cpu_a = cpu(cluster.routers), cpu(cluster.apis)
    started = time.perf_counter()
    results = await asyncio.gather(
        *(
            asyncio.to_thread(
                wrk.run, api.url, path, seconds=args.seconds, connections=args.connections
            )
            for api, path in zip(cluster.apis, files, strict=True)
        )
    )
    posting = time.perf_counter() - started
    accepted = sum((r.requests - r.non_2xx) * args.batch for r in results)
    finished = await drained(progress, start + accepted, started)
    cpu_r, cpu_a = cpu(cluster.routers) - cpu_r, cpu(cluster.apis) - cpu_a
    problems = []
    if any(r.non_2xx or r.socket_errors for r in results):
        problems.append(f"{sum(r.non_2xx + r.socket_errors for r in results)} requests failed")
    if any(r.wrapped for r in results):
        problems.append("ran out of unique requests: raise --requests")
    per = 1e6 / max(accepted, 1)
    return (
        accepted / (finished - started),
        accepted / posting,
        cpu_r * per,
        cpu_a * per,
        "; ".join(problems),
    )


async def latency(cluster: Cluster, rate: float, seconds: float) -> paced.Paced:
    """Single ``?wait=true`` commands at ``rate`` over all APIs, pooled."""
    share = rate / len(cluster.apis)
    runs = await asyncio.gather(
        *(
            paced.run(
                HOST,
                int(api.url.rsplit(":", 1)[1]),
                events_requests(api.url.removeprefix("http://"), 1, wait=True),
                rate=share,
                seconds=seconds,
                connections=64,
            )
            for api in cluster.apis
        )
    )
    pooled = sorted(x for run in runs for x in run.latencies_ms)
    return paced.Paced(
        offered=rate,
        done=sum(r.done for r in runs),
        p50_ms=pooled[len(pooled) // 2],
        p99_ms=pooled[min(len(pooled) - 1, int(len(pooled) * 0.99))],
        failed=sum(r.failed for r in runs),
    )


async def run_cluster(args: argparse.Namespace, work: Path) -> list[Row]:
    rows: list[Row] = []
    async with ingest.distributed_deployment() as deployment:
        cluster = Cluster(deployment, work)
        ports = await build_ports(REDIS, deployment["stream_prefix"])
        try:
            await ports.bus.ensure_group(keys.EVENTS_STREAM, keys.ROUTER_GROUP)
            await cluster.start_apis(args.apis)
            offered = args.rate
            for routers in args.routers:
                await cluster.start_routers(routers)
                print(f"-- {args.apis} API + {routers} router processes", flush=True)
                await warm_up(cluster, ports)
                commands, accepted, router_us, api_us, problems = await throughput(
                    cluster, ports, args, f"m{routers}"
                )
                print(f"   {commands:,.0f} commands/s answered ({accepted:,.0f}/s accepted)")
                lat = await latency(cluster, offered, args.seconds)
                if lat.failed:
                    problems = "; ".join(filter(None, [problems, f"{lat.failed} waits failed"]))
                print(f"   at {offered:,.0f}/s: p50 {lat.p50_ms:.2f} ms, p99 {lat.p99_ms:.2f} ms")
                rows.append(
                    Row(
                        routers,
                        commands,
                        accepted,
                        lat.p50_ms,
                        lat.p99_ms,
                        offered,
                        router_us,
                        api_us,
                        problems,
                    )
                )
                cluster.stop_routers()
        finally:
            cluster.stop()
            await ports.close()
    return rows


async def warm_up(cluster: Cluster, ports: Ports) -> None:
    """A few thousand commands through every API, answered: caches and pools are warm."""
    args = argparse.Namespace(batch=10, requests=2000, seconds=1, connections=8)
    await throughput(cluster, ports, args, "warm")


async def run_ingest(args: argparse.Namespace, work: Path) -> tuple[float, float]:
    """The Twitch webhook of one process and the bare endpoint around it: both req/s."""
    options = argparse.Namespace(seconds=args.seconds, connections=32, requests=150_000)
    bench = ingest.Bench(options, work)
    async with ingest.slack_world() as slack:
        await ingest.run_bare(bench)
        await ingest.run_distributed(bench, {"twitch"}, slack)
        await ingest.run_bare(bench)
    bare = bench.bare_rate() or float("nan")
    twitch = next(f.result.rate for f in bench.figures if f.name.startswith("serve twitch"))
    return twitch, bare


def table(args: argparse.Namespace, rows: list[Row], twitch: float, bare: float) -> None:
    print(
        f"\n== {args.apis} API + M router processes, PostgreSQL + Redis, {os.cpu_count()} cores =="
    )
    print(
        f"{'routers':>7} {'commands/s':>11} {'accepted/s':>11} {'offered/s':>10} "
        f"{'p50 ms':>7} {'p99 ms':>7} {'router CPU us/cmd':>18} {'API CPU us/cmd':>15}"
    )
    for r in rows:
        print(
            f"{r.routers:>7} {r.commands:>11,.0f} {r.accepted:>11,.0f} {r.offered:>10,.0f} "
            f"{r.p50_ms:>7.2f} {r.p99_ms:>7.2f} {r.router_cpu_us:>18,.0f} {r.api_cpu_us:>15,.0f}"
            + (f"  ({r.problems})" if r.problems else "")
        )
    if len(rows) >= 2:
        print(
            f"scaling {rows[0].routers} -> {rows[-1].routers} routers: "
            f"x{rows[-1].commands / rows[0].commands:.2f} commands/s"
        )
    print("\n== Twitch EventSub webhook ingest, one `serve twitch` process ==")
    print(f"bare Starlette endpoint : {bare:9,.0f} req/s")
    print(f"serve twitch            : {twitch:9,.0f} req/s  ({twitch / bare:.0%} of bare)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--apis", type=int, default=2, help="API processes (N)")
    parser.add_argument(
        "--routers", default="1,2", help="router processes (M), one run each, comma-separated"
    )
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--batch", type=int, default=10, help="commands per request (throughput)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections per API")
    parser.add_argument("--rate", type=float, default=300, help="offered commands/s for latency")
    parser.add_argument(
        "--requests", type=int, default=20_000, help="requests built per API and run"
    )
    parser.add_argument("--skip-ingest", action="store_true")
    args = parser.parse_args()
    args.routers = [int(m) for m in args.routers.split(",") if m.strip()]
    if not wrk.available():
        sys.exit("wrk is needed: apt-get install wrk")
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}", flush=True)
    with tempfile.TemporaryDirectory() as work:
        rows = asyncio.run(run_cluster(args, Path(work)))
        twitch, bare = (
            (float("nan"), float("nan"))
            if args.skip_ingest
            else asyncio.run(run_ingest(args, Path(work)))
        )
    table(args, rows, twitch, bare)


if __name__ == "__main__":
    main()
