"""What one webhook delivery costs a WaddleBot process, in Python calls and CPU time,
independent of how busy the machine is.

    python -m bench.ingest_cpu [--deliveries 2000] [--turns 5] [--concurrency 32]
                               [--only twitch,slack,api,bare] [--profile twitch]

``bench.ingest`` measures requests/s with wrk, which on a shared machine moves more with the
load than with the code. This drives the deliveries straight into the ASGI app instead, in
this process: each delivery's scope, body and ``receive``/``send`` are built before the clock
starts, and the app is the one ``waddlebot serve <service>`` runs (the same uvicorn
configuration's middleware around it, the runtime started with PostgreSQL and Redis, ingest
only: no router), so what is counted is the server's own work from the ASGI call on (not
uvicorn's HTTP parsing and socket writes, which the bare endpoint pays too). Every delivery is
validly signed and has an id of its own; each must be answered with its success status, or
the run stops.

- ``twitch``: EventSub ``channel.chat.message`` notifications to ``serve twitch``;
- ``slack``: Events API ``message`` events to ``serve slack`` (the fake Slack, in this
  process, answers ``users.info``; the warm-up puts every speaker in the people cache);
- ``api``: ``POST /api/v1/events`` (one event, the service key) to ``serve api``;
- ``bare``: ``bench/bare.py``'s endpoint (reads the body, answers 204) under the same
  middleware: the floor, the harness's own share included.

Deliveries go ``--concurrency`` at a time (as wrk's connections would have them in flight, so
Redis calls are batched as under load). Printed per target:

- **calls/delivery**: Python function calls per delivery, counted by ``cProfile`` over one
  pass of ``--deliveries`` (deterministic up to how deliveries fall into Redis batches);
- **CPU µs/delivery**: this process's CPU time (``time.process_time``: every thread) per
  delivery, one figure per turn, turns alternating the targets, and their median. Redis and
  PostgreSQL run in processes of their own and are not counted.

``--profile <target>`` prints that target's 30 costliest functions (own time) under cProfile
(``--profile-out <file>``: and writes its stats, for ``pstats``).
To compare two versions of the code, run this module against each in turns (for instance
with ``PYTHONPATH=<other checkout>/src``) and compare the medians and the call counts.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import gc
import io
import os
import pstats
import statistics
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bench import bare
from bench.ingest import (
    HOST,
    Delivery,
    SlackWorld,
    _slack_settings,
    distributed_deployment,
    events_delivery,
    slack_delivery,
    slack_world,
    twitch_delivery,
    waddlebot_env,
)

TARGETS = ("twitch", "slack", "api", "bare")
PORT = 8000  # only what the scope says; nothing listens

App = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


@dataclass
class Target:
    name: str
    app: App
    build: Callable[[int], Delivery]
    ok: int  # the status a delivery must get
    cpu: list[float]
    calls: float = 0.0


class Prepared:
    """One delivery ready to be called: its scope, and ``receive``/``send`` that hand over
    the body in one message and keep the response's status."""

    __slots__ = ("_sent", "body", "scope", "status")

    def __init__(self, delivery: Delivery) -> None:
        headers = [(b"host", f"{HOST}:{PORT}".encode())]
        headers.append((b"content-length", str(len(delivery.body)).encode()))
        headers += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in delivery.headers]
        path = delivery.path
        self.scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": "1.1",
            "server": (HOST, PORT),
            "client": (HOST, 50_000),
            "scheme": "http",
            "method": "POST",
            "root_path": "",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "headers": headers,
            "state": {},
        }
        self.body = delivery.body
        self.status = 0
        self._sent = False

    async def receive(self) -> dict[str, Any]:
        if not self._sent:
            self._sent = True
            return {"type": "http.request", "body": self.body, "more_body": False}
        await asyncio.Event().wait()  # the client stays connected; nothing reads this far
        raise AssertionError("unreachable")

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]


async def deliver(target: Target, count: int, concurrency: int, offset: int) -> None:
    """``count`` fresh deliveries, ``concurrency`` at a time, each checked for its status."""
    prepared = [Prepared(target.build(offset + i)) for i in range(count)]
    app = target.app
    await _run(app, prepared, concurrency)
    wrong = [p.status for p in prepared if p.status != target.ok]
    if wrong:
        raise SystemExit(f"{target.name}: {len(wrong)} deliveries answered {sorted(set(wrong))}")


async def _run(app: App, prepared: list[Prepared], concurrency: int) -> None:
    for at in range(0, len(prepared), concurrency):
        batch = prepared[at : at + concurrency]
        await asyncio.gather(*(app(p.scope, p.receive, p.send) for p in batch))


async def measure_cpu(target: Target, args: argparse.Namespace, offset: int) -> float:
    prepared = [Prepared(target.build(offset + i)) for i in range(args.deliveries)]
    gc.collect()
    started = time.process_time()
    await _run(target.app, prepared, args.concurrency)
    spent = time.process_time() - started
    wrong = [p.status for p in prepared if p.status != target.ok]
    if wrong:
        raise SystemExit(f"{target.name}: {len(wrong)} deliveries answered {sorted(set(wrong))}")
    return spent / args.deliveries * 1e6


async def measure_calls(target: Target, args: argparse.Namespace, offset: int) -> str:
    prepared = [Prepared(target.build(offset + i)) for i in range(args.deliveries)]
    profile = cProfile.Profile()
    profile.enable()
    await _run(target.app, prepared, args.concurrency)
    profile.disable()
    if target.name == args.profile and args.profile_out:
        profile.dump_stats(args.profile_out)
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    target.calls = stats.total_calls / args.deliveries  # type: ignore[attr-defined]
    stats.sort_stats("tottime").print_stats(30)
    return out.getvalue()


@contextlib.asynccontextmanager
async def served(service: str, settings: Any) -> AsyncIterator[App]:
    """The app of ``waddlebot serve <service>``, started, under the server's middleware."""
    from waddlebot.app import started_app
    from waddlebot.web.server import server_config

    async with started_app(settings, {service}) as app, app.router.lifespan_context(app):
        yield _as_served(server_config(settings, app, host=HOST, port=PORT))


def _as_served(config: Any) -> App:
    config.load()  # what uvicorn calls: the app wrapped as the server wraps it
    loaded: App = config.loaded_app
    return loaded


async def run(args: argparse.Namespace) -> None:
    from waddlebot.infra.logging import configure_logging
    from waddlebot.settings import Settings

    chosen = [t for t in TARGETS if not args.only or t in args.only.split(",")]
    async with contextlib.AsyncExitStack() as stack:
        deployment = await stack.enter_async_context(distributed_deployment())
        world: SlackWorld = await stack.enter_async_context(slack_world())
        for name in [k for k in os.environ if k.startswith("WADDLEBOT_")]:
            del os.environ[name]
        os.environ.update(waddlebot_env(**deployment, **_slack_settings(world)))
        settings = Settings(_env_file=None)  # type: ignore[call-arg]
        configure_logging("CRITICAL", json=True)  # the failed Helix sync, and nothing else
        targets: list[Target] = []
        builders: dict[str, tuple[Callable[[int], Delivery], int]] = {
            "twitch": (twitch_delivery, 204),
            "slack": (lambda i: slack_delivery(world, i), 200),
            "api": (events_delivery, 202),
        }
        for name in chosen:
            if name == "bare":
                app = _as_served(_bare_config(settings))
                targets.append(Target(name, app, twitch_delivery, 204, []))
                continue
            build, ok = builders[name]
            app = await stack.enter_async_context(served(name, settings))
            targets.append(Target(name, app, build, ok, []))
        offset = 0
        for target in targets:  # warm-up: caches filled, code paths taken once
            await deliver(target, args.deliveries // 2, args.concurrency, offset)
            offset += args.deliveries
        for target in targets:
            report = await measure_calls(target, args, offset)
            offset += args.deliveries
            if target.name == args.profile:
                print(report)
        for turn in range(args.turns):
            for target in targets if turn % 2 == 0 else reversed(targets):
                target.cpu.append(await measure_cpu(target, args, offset))
                offset += args.deliveries
        print(
            f"{args.deliveries} deliveries per turn, {args.concurrency} at a time, "
            f"{args.turns} turns; Python {sys.version.split()[0]}, {os.cpu_count()} cores, "
            f"load average {os.getloadavg()[0]:.1f}"
        )
        for target in targets:
            turns = " / ".join(f"{cpu:.0f}" for cpu in target.cpu)
            print(
                f"{target.name:<8} {target.calls:7.1f} calls/delivery  "
                f"{statistics.median(target.cpu):6.1f} CPU µs/delivery (median; turns: {turns})"
            )


def _bare_config(settings: Any) -> Any:
    from waddlebot.web.server import server_config

    return server_config(settings, bare.app(), host=HOST, port=PORT)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--deliveries", type=int, default=2000, help="per turn and target")
    parser.add_argument("--turns", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--only", default="", help=f"comma-separated: {', '.join(TARGETS)}")
    parser.add_argument("--profile", default="", help="print this target's costliest functions")
    parser.add_argument("--profile-out", default="", help="and write its cProfile stats here")
    args = parser.parse_args()
    from waddlebot.settings import Settings
    from waddlebot.web.server import server_config

    loop_factory = server_config(Settings(_env_file=None), None, host=HOST, port=PORT)  # type: ignore[call-arg]
    with asyncio.Runner(loop_factory=loop_factory.get_loop_factory()) as runner:
        runner.run(run(args))


if __name__ == "__main__":
    main()
