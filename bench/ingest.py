"""Ingest benchmark: how many platform deliveries a WaddleBot process takes, against a bare
endpoint measured in the same run with the same load generator.

    python -m bench.ingest [--seconds 10] [--connections 32] [--rounds 1] [--only twitch,...]

HTTP (wrk, 1 thread x ``--connections``, every request pre-built, validly signed and with
an id of its own, so nothing is answered as a redelivery):

- ``bare``: a Starlette endpoint that reads the body and answers 204, under the same uvicorn
  configuration WaddleBot runs with (``bench/bare.py``); ``bare-uvicorn-defaults`` is the
  same app under uvicorn's own defaults, for reference.
- ``serve <platform>`` (distributed: PostgreSQL and Redis, ingest only, no router): Twitch
  EventSub ``channel.chat.message`` notifications, Slack ``message`` events, and
  ``POST /api/v1/events``.
- ``up`` (embedded, the router answering in the same process): the same deliveries; then the
  Twitch webhook at half the rate it reached, for the latency at an offered load.

WebSocket (``--only ws``): EventSub notifications from a fake that sends as fast as it can,
taken by the real EventSub WebSocket client and the Twitch ingest, onto the bus (in-process
and Redis); messages/s.

Prints req/s, latency p50/p99 and the ratio to the bare endpoint. Figures, not pass/fail: the
machine is shared, so rounds alternate the targets (``--rounds``) and each is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2
import orjson
from cryptography.fernet import Fernet
from tests.fakes.slack import FakeSlack
from tests.fakes.slack import payloads as slack_payloads
from tests.fakes.twitch import payloads as twitch_payloads

from bench import paced, wrk
from bench.router import PG_ADMIN, REDIS, _free_port

EXE = str(Path(sys.executable).parent / "waddlebot")
HOST = "127.0.0.1"
TWITCH_SECRET = "bench-eventsub-secret"
API_KEY = "bench-" + uuid.uuid4().hex
SECRET_KEY = Fernet.generate_key().decode()
CHANNELS = 20
USERS = 500


# ----- requests ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    """One request as a platform (or a collector) sends it: its path, headers and body."""

    path: str
    headers: list[tuple[str, str]]
    body: bytes

    def raw(self, host: str) -> bytes:
        return wrk.raw_request("POST", host, self.path, self.headers, self.body)


def twitch_delivery(i: int) -> Delivery:
    subscription = twitch_payloads.example("channel.chat.message")["subscription"]
    chatter = str(10_000 + i % USERS)
    event = twitch_payloads.chat_message(
        broadcaster=str(1 + i % CHANNELS), chatter=chatter, text=f"hello chat {i}"
    )
    body = orjson.dumps({"subscription": subscription, "event": event})
    message_id = str(uuid.uuid4())
    timestamp = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    digest = hmac.new(
        TWITCH_SECRET.encode(), message_id.encode() + timestamp.encode() + body, hashlib.sha256
    ).hexdigest()
    headers = [
        ("Content-Type", "application/json"),
        ("Twitch-Eventsub-Message-Id", message_id),
        ("Twitch-Eventsub-Message-Timestamp", timestamp),
        ("Twitch-Eventsub-Message-Signature", f"sha256={digest}"),
        ("Twitch-Eventsub-Message-Type", "notification"),
        ("Twitch-Eventsub-Subscription-Type", "channel.chat.message"),
        ("Twitch-Eventsub-Subscription-Version", str(subscription["version"])),
    ]
    return Delivery("/collectors/twitch/eventsub", headers, body)


def twitch_request(i: int, host: str) -> bytes:
    return twitch_delivery(i).raw(host)


def events_delivery(i: int) -> Delivery:
    body = orjson.dumps(
        {
            "platform": "twitch",
            "entity_id": f"twitch:{i % CHANNELS}",
            "message_id": uuid.uuid4().hex,
            "author": {"user_id": str(i % USERS), "login": f"user{i % USERS}"},
            "text": f"hello chat {i}",
        }
    )
    headers = [("Content-Type", "application/json"), ("Authorization", f"Bearer {API_KEY}")]
    return Delivery("/api/v1/events", headers, body)


def events_request(i: int, host: str) -> bytes:
    return events_delivery(i).raw(host)


@dataclass
class SlackWorld:
    fake: FakeSlack
    team: Any
    channel: Any
    users: list[Any]


def slack_delivery(world: SlackWorld, i: int) -> Delivery:
    fake, team = world.fake, world.team
    user = world.users[i % len(world.users)]
    event = slack_payloads.message(world.channel, user, f"hello chat {i}", f"{1700000000 + i}.0")
    envelope = slack_payloads.event_callback(
        fake.state.app, team, event, f"Ev{uuid.uuid4().hex[:10].upper()}", int(time.time())
    )
    body = orjson.dumps(envelope)
    timestamp = str(int(time.time()))
    digest = hmac.new(
        fake.signing_secret.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256
    ).hexdigest()
    headers = [
        ("Content-Type", "application/json"),
        ("X-Slack-Request-Timestamp", timestamp),
        ("X-Slack-Signature", f"v0={digest}"),
    ]
    return Delivery("/collectors/slack/events", headers, body)


def slack_request(world: SlackWorld, i: int, host: str) -> bytes:
    return slack_delivery(world, i).raw(host)


# ----- servers -------------------------------------------------------------------------------


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


async def _ready(url: str, process: subprocess.Popen[bytes], health: str) -> None:
    deadline = time.monotonic() + 60
    async with httpx2.AsyncClient() as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited with {process.returncode}")
            with contextlib.suppress(httpx2.HTTPError):
                if (await http.get(url + health)).status_code < 500:
                    return
            await asyncio.sleep(0.1)
    raise TimeoutError(f"{url} did not come up")


async def start(command: list[str], env: dict[str, str], port: int, health: str) -> Server:
    log = open(Path(tempfile.gettempdir()) / f"bench-ingest-{port}.log", "wb")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://{HOST}:{port}"
    try:
        await _ready(url, process, health)
    except BaseException:
        process.kill()
        raise
    return Server(process, url)


def waddlebot_env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WADDLEBOT_")}
    env |= {
        "WADDLEBOT_LOG_LEVEL": "WARNING",
        "WADDLEBOT_API_KEY": API_KEY,
        "WADDLEBOT_SECRET_KEYS": SECRET_KEY,
        "WADDLEBOT_TWITCH_CLIENT_ID": "bench-client",
        "WADDLEBOT_TWITCH_CLIENT_SECRET": "bench-secret",
        "WADDLEBOT_TWITCH_TRANSPORT": "webhook",
        "WADDLEBOT_TWITCH_EVENTSUB_SECRET": TWITCH_SECRET,
        # nothing listens there: the subscription sync fails once, and is not measured
        "WADDLEBOT_TWITCH_HELIX_URL": f"http://{HOST}:9/helix",
        "WADDLEBOT_TWITCH_AUTH_URL": f"http://{HOST}:9/oauth2",
        "WADDLEBOT_BUS_MAXLEN": "10000000",
        "WADDLEBOT_RATE_USER_PER_30S": "1000000",
        "WADDLEBOT_RATE_ENTITY_PER_30S": "1000000",
    }
    env |= {f"WADDLEBOT_{k.upper()}": v for k, v in settings.items()}
    return env


@contextlib.asynccontextmanager
async def distributed_deployment() -> Any:
    """A fresh PostgreSQL database and Redis prefix; the environment of its processes."""
    import asyncpg

    from waddlebot.infra.db.migrate import upgrade_async
    from waddlebot.infra.redis_ports import redis_client

    db = f"waddlebot_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(PG_ADMIN)
    await admin.execute(f'CREATE DATABASE "{db}"')
    url = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + f"/{db}"
    prefix = f"bench-{uuid.uuid4().hex[:6]}"
    try:
        await upgrade_async(url)
        yield {"database_url": url, "redis_url": REDIS, "stream_prefix": prefix}
    finally:
        client = redis_client(REDIS)
        left = [k async for k in client.scan_iter(match=f"{prefix}*", count=1000)]
        if left:
            await client.delete(*left)
        await client.aclose()
        await admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        await admin.close()


# ----- runs ----------------------------------------------------------------------------------


@dataclass
class Figure:
    name: str
    result: wrk.Result
    round: int


class Bench:
    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args = args
        self.work = work
        self.figures: list[Figure] = []
        self.paced: list[tuple[str, paced.Paced]] = []
        self.round = 0

    def requests(
        self, name: str, build: Callable[[int, str], bytes], host: str, *, count: int = 0
    ) -> Path:
        path = self.work / f"{name.replace(' ', '-').replace(':', '')}.requests"
        if not path.exists():
            wrk.write_requests(path, (build(i, host) for i in range(count or self.args.requests)))
        return path

    async def measure(self, name: str, url: str, requests: Path) -> wrk.Result:
        # in a thread: the fake Slack in this process answers the server meanwhile
        result = await asyncio.to_thread(
            wrk.run,
            url,
            requests,
            seconds=self.args.seconds,
            connections=self.args.connections,
        )
        self.figures.append(Figure(name, result, self.round))
        self.print(name, result)
        return result

    async def latency(
        self, name: str, host: str, build: Callable[[int, str], bytes], *, rate: float
    ) -> None:
        """The latency at an offered ``rate`` (half what the closed loop reached)."""
        seconds = self.args.seconds
        path = self.requests(f"{name}-paced", build, host, count=int(rate * seconds) + 1)
        address, port = host.rsplit(":", 1)
        result = await paced.run(
            address,
            int(port),
            paced.read_requests(path),
            rate=rate,
            seconds=seconds,
            connections=self.args.connections,
        )
        self.paced.append((name, result))
        print(
            f"{name + f' at {rate:,.0f}/s offered':<40} {result.done:9,.0f} req/s  "
            f"p50 {result.p50_ms:6.2f} ms  p99 {result.p99_ms:6.2f} ms"
            + (f"  {result.failed} not 2xx" if result.failed else ""),
            flush=True,
        )

    def bare_rate(self, round_: int | None = None) -> float | None:
        """The bare endpoint's rate in a round (the mean of its runs there): what the
        figures of that round are compared with, the machine being as busy as it was then."""
        round_ = self.round if round_ is None else round_
        bare = [f.result.rate for f in self.figures if f.name == "bare" and f.round == round_]
        return sum(bare) / len(bare) if bare else None

    def print(self, name: str, result: wrk.Result) -> None:
        bare = self.bare_rate()
        ratio = f"{result.rate / bare:6.0%} of bare" if bare and name != "bare" else ""
        problems = []
        if result.non_2xx:
            problems.append(f"{result.non_2xx} non-2xx")
        if result.socket_errors:
            problems.append(f"{result.socket_errors} socket errors")
        if result.wrapped and not name.startswith("bare"):  # the bare endpoint keeps no ids
            problems.append("ran out of unique requests: raise --requests")
        print(
            f"{name:<40} {result.rate:9,.0f} req/s  p50 {result.p50_ms:6.2f} ms  "
            f"p99 {result.p99_ms:6.2f} ms  {ratio} {'; '.join(problems)}",
            flush=True,
        )


async def run_bare(bench: Bench, *, defaults: bool = False) -> None:
    port = _free_port()
    command = [sys.executable, "-m", "bench.bare", "--port", str(port)]
    if defaults:
        command.append("--uvicorn-defaults")
    server = await start(command, dict(os.environ), port, "/")
    try:
        host = f"{HOST}:{port}"
        requests = bench.requests("bare", twitch_request, host)
        name = "bare-uvicorn-defaults" if defaults else "bare"
        await bench.measure(name, server.url, requests)
    finally:
        server.stop()


async def run_distributed(bench: Bench, targets: set[str], slack: SlackWorld) -> None:
    async with distributed_deployment() as deployment:
        for service, name, build in (
            ("twitch", "serve twitch: EventSub webhook", twitch_request),
            ("slack", "serve slack: Events API", _slack_builder(slack)),
            ("api", "serve api: POST /api/v1/events", events_request),
        ):
            if service not in targets:
                continue
            port = _free_port()
            env = waddlebot_env(**deployment, **_slack_settings(slack))
            command = [EXE, "serve", service, "--port", str(port)]
            server = await start(command, env, port, "/healthz")
            try:
                requests = bench.requests(f"{service}-distributed", build, f"{HOST}:{port}")
                await bench.measure(name, server.url, requests)
            finally:
                server.stop()


async def run_embedded(bench: Bench, targets: set[str], slack: SlackWorld) -> None:
    with tempfile.TemporaryDirectory() as data:
        port = _free_port()
        env = waddlebot_env(
            database_url=f"sqlite+aiosqlite:///{data}/bench.db",
            data_dir=data,
            **_slack_settings(slack),
        )
        server = await start([EXE, "up", "--port", str(port)], env, port, "/healthz")
        host = f"{HOST}:{port}"
        try:
            for service, name, build in (
                ("twitch", "up: EventSub webhook", twitch_request),
                ("slack", "up: Events API", _slack_builder(slack)),
                ("api", "up: POST /api/v1/events", events_request),
            ):
                if service in targets:
                    requests = bench.requests(f"{service}-embedded", build, host)
                    result = await bench.measure(name, server.url, requests)
                    if service == "twitch":
                        await bench.latency(
                            "up: EventSub webhook", host, build, rate=result.rate / 2
                        )
        finally:
            server.stop()


def _slack_builder(world: SlackWorld) -> Callable[[int, str], bytes]:
    return lambda i, host: slack_request(world, i, host)


def _slack_settings(world: SlackWorld) -> dict[str, str]:
    return {
        "slack_signing_secret": world.fake.signing_secret,
        "slack_bot_token": world.team.bot_token,
        "slack_api_url": world.fake.api_url,
    }


@contextlib.asynccontextmanager
async def slack_world() -> Any:
    async with FakeSlack(echo_bot_messages=False) as fake:
        team = fake.add_team("Bench")
        channel = fake.add_channel(team, "general")
        users = [fake.add_user(team, f"user{n}") for n in range(50)]
        yield SlackWorld(fake, team, channel, users)


# ----- main ----------------------------------------------------------------------------------

HTTP_TARGETS = ("bare", "defaults", "twitch", "slack", "api", "embedded", "distributed")


def targets_of(only: str) -> set[str]:
    chosen = {t.strip() for t in only.split(",") if t.strip()} if only else set(HTTP_TARGETS)
    return chosen


async def run_http(args: argparse.Namespace) -> None:
    chosen = targets_of(args.only)
    platforms = chosen & {"twitch", "slack", "api"} or {"twitch", "slack", "api"}
    with tempfile.TemporaryDirectory() as work:
        bench = Bench(args, Path(work))
        async with slack_world() as slack:
            for round_ in range(args.rounds):
                bench.round = round_
                print(f"-- round {round_ + 1} of {args.rounds}", flush=True)
                await run_bare(bench)
                if "defaults" in chosen:
                    await run_bare(bench, defaults=True)
                if "distributed" in chosen or not chosen & {"distributed", "embedded"}:
                    await run_distributed(bench, platforms, slack)
                    await run_bare(bench)
                if "embedded" in chosen or not chosen & {"distributed", "embedded"}:
                    await run_embedded(bench, platforms, slack)
                # the requests carry timestamps checked within minutes: fresh ones each round
                for old in Path(work).glob("*.requests"):
                    old.unlink()
        summarise(bench)


def summarise(bench: Bench) -> None:
    print("\n== summary: each figure against the bare endpoint of its own round ==")
    for name in dict.fromkeys(f.name for f in bench.figures):
        mine = [f for f in bench.figures if f.name == name]
        rates = [f.result.rate for f in mine]
        ratios = [f.result.rate / bare for f in mine if (bare := bench.bare_rate(f.round))]
        ratio = f"{sum(ratios) / len(ratios):5.0%}" if ratios else "  -  "
        print(
            f"{name:<40} {sum(rates) / len(rates):9,.0f} req/s  {ratio} of bare  "
            f"p99 {max(f.result.p99_ms for f in mine):6.2f} ms  runs: "
            + ", ".join(f"{r:,.0f}" for r in rates)
        )
    for name, result in bench.paced:
        print(
            f"{name} at {result.offered:,.0f}/s offered: p50 {result.p50_ms:.2f} ms, "
            f"p99 {result.p99_ms:.2f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--requests", type=int, default=150_000, help="requests built per target and round"
    )
    parser.add_argument(
        "--only",
        default="",
        help=f"comma-separated: {', '.join(HTTP_TARGETS)}, ws (default: all HTTP targets)",
    )
    parser.add_argument("--messages", type=int, default=50_000, help="for the WebSocket run")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}", flush=True)
    if "ws" in targets_of(args.only):
        from bench.ingest_ws import run_ws

        asyncio.run(run_ws(args))
        return
    if not wrk.available():
        sys.exit("wrk is needed for the HTTP runs: apt-get install wrk")
    asyncio.run(run_http(args))


if __name__ == "__main__":
    main()
