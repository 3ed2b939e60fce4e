"""Router benchmark: synthetic events through the real pipeline, embedded and distributed.

    python -m bench.router [--events 20000] [--rate 500] [--seconds 10] [--only embedded]
                           [--no-module-check]

Prints, for each mode: plain chat messages/s, commands/s (``!ping``), latency p50/p99 from
event accepted to reply on the reply stream at a fixed offered load, and peak RSS of the
router process; distributed, also the router process's CPU time per message and per command,
which a busy machine changes least. Embedded runs everything in this process (that is what
embedded means); distributed starts one ``waddlebot serve router`` process against PostgreSQL
and Redis and drives it from here. Figures, not pass/fail.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from waddlebot.core.events import Author, Event
from waddlebot.infra import keys
from waddlebot.infra.codec import decode_outbound, encode_envelope
from waddlebot.infra.factory import build_ports
from waddlebot.infra.ports import Ports
from waddlebot.settings import Settings

PG_ADMIN = os.environ.get(
    "WADDLEBOT_BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS = os.environ.get("WADDLEBOT_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
REPLIES = keys.replies_stream("twitch")
USERS = 2000  # distinct chatters, so per-user rate limits do not throttle the run
CHANNELS = 20


def make_event(i: int, text: str) -> Event:
    user = str(i % USERS)
    return Event(
        platform="twitch",
        entity_id=f"twitch:{i % CHANNELS}",
        message_id=uuid.uuid4().hex,
        author=Author(user_id=user, login=f"user{user}", display_name=f"User{user}"),
        text=text,
    )


def bench_settings(**overrides: object) -> Settings:
    base: dict[str, object] = {
        "log_level": "WARNING",
        # generous limits: the benchmark measures the pipeline, not the throttle
        "rate_user_per_30s": 1_000_000,
        "rate_entity_per_30s": 1_000_000,
    }
    base.update(overrides)
    return Settings(_env_file=None, **base)  # type: ignore[call-arg]


async def publish(ports: Ports, payloads: list[bytes], chunk: int = 100) -> None:
    for start in range(0, len(payloads), chunk):
        await ports.bus.publish(keys.EVENTS_STREAM, payloads[start : start + chunk])


async def throughput(ports: Ports, count: int, text: str, processed: Callable[[], int]) -> float:
    payloads = [encode_envelope(make_event(i, text)) for i in range(count)]
    start_count = processed()
    started = time.perf_counter()
    await publish(ports, payloads)
    while processed() - start_count < count:
        if time.perf_counter() - started > 300:
            raise TimeoutError(f"only {processed() - start_count} of {count} processed")
        await asyncio.sleep(0.002)
    return count / (time.perf_counter() - started)


async def latency(ports: Ports, rate: int, seconds: float) -> list[float]:
    """Offer ``rate`` commands/s for ``seconds``; latency from publish to reply on the stream."""
    group = f"bench-{uuid.uuid4().hex[:6]}"
    await ports.bus.ensure_group(REPLIES, group)
    # skip replies from earlier phases
    while await ports.bus.read(REPLIES, group, "bench", 1000, 0):
        pass
    sent: dict[str, float] = {}
    got: list[float] = []
    total = int(rate * seconds)
    tick = 0.01
    per_tick = max(1, round(rate * tick))

    async def produce() -> None:
        started = time.perf_counter()
        i = 0
        while i < total:
            batch = []
            for _ in range(min(per_tick, total - i)):
                event = make_event(i, "!ping")
                sent[event.event_id] = time.perf_counter()
                batch.append(encode_envelope(event))
                i += 1
            await ports.bus.publish(keys.EVENTS_STREAM, batch)
            next_at = started + (i / rate)
            await asyncio.sleep(max(0, next_at - time.perf_counter()))

    async def consume() -> None:
        deadline = time.perf_counter() + seconds + 30
        acks: list[asyncio.Task[None]] = []
        while len(got) < total and time.perf_counter() < deadline:
            messages = await ports.bus.read(REPLIES, group, "bench", 500, 100)
            now = time.perf_counter()
            for message in messages:
                event_id = decode_outbound(message.data).event_id
                if event_id in sent:
                    got.append(now - sent.pop(event_id))
            if messages:  # beside the next read: this reader's round trips are not the router's
                ids = [m.id for m in messages]
                acks.append(asyncio.create_task(ports.bus.ack(REPLIES, group, ids)))
        await asyncio.gather(*acks)

    await asyncio.gather(produce(), consume())
    return got


def report(
    mode: str, chat: float, commands: float, lat: list[float], rate: int, rss_mb: float
) -> None:
    lat_ms = sorted(x * 1000 for x in lat)
    p50 = statistics.median(lat_ms) if lat_ms else float("nan")
    p99 = lat_ms[min(len(lat_ms) - 1, int(len(lat_ms) * 0.99))] if lat_ms else float("nan")
    print(f"\n== {mode} ==")
    print(f"plain chat messages/s : {chat:,.0f}")
    print(f"commands/s (!ping)    : {commands:,.0f}")
    print(f"latency at {rate}/s     : p50 {p50:.2f} ms, p99 {p99:.2f} ms ({len(lat_ms)} replies)")
    print(f"peak RSS (router)     : {rss_mb:.0f} MiB")
    sys.stdout.flush()


async def run_embedded(args: argparse.Namespace) -> None:
    from waddlebot.runtime import Runtime

    with tempfile.TemporaryDirectory() as tmp:
        settings = bench_settings(database_url=f"sqlite+aiosqlite:///{tmp}/bench.db", data_dir=tmp)
        runtime = await Runtime.start(settings, {"router"})
        if not args.module_check:
            # route as before the marketplace (every module on, nothing installed): what the
            # per-community module check costs, measured within one build
            runtime.router._views = None
        processed = [0]
        original = runtime.router.process

        async def counting(batch):  # type: ignore[no-untyped-def]
            outcomes = await original(batch)
            processed[0] += len(batch)
            return outcomes

        runtime.router.process = counting  # type: ignore[method-assign]
        try:
            await throughput(runtime.ports, 2000, "!ping", lambda: processed[0])  # warm caches
            chat = await throughput(runtime.ports, args.events, "hello chat", lambda: processed[0])
            commands = await throughput(runtime.ports, args.events, "!ping", lambda: processed[0])
            lat = await latency(runtime.ports, args.rate, args.seconds)
        finally:
            await runtime.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    report("embedded (SQLite, in-process ports, one process)", chat, commands, lat, args.rate, rss)


async def run_distributed(args: argparse.Namespace) -> None:
    import asyncpg

    db = f"waddlebot_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(PG_ADMIN)
    await admin.execute(f'CREATE DATABASE "{db}"')
    url = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + f"/{db}"
    prefix = f"bench-{uuid.uuid4().hex[:6]}"
    from waddlebot.infra.db.migrate import upgrade_async

    await upgrade_async(url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("WADDLEBOT_")}
    env |= {
        "WADDLEBOT_DATABASE_URL": url,
        "WADDLEBOT_REDIS_URL": REDIS,
        "WADDLEBOT_STREAM_PREFIX": prefix,
        "WADDLEBOT_LOG_LEVEL": "WARNING",
        "WADDLEBOT_PORT": str(_free_port()),
        "WADDLEBOT_RATE_USER_PER_30S": "1000000",
        "WADDLEBOT_RATE_ENTITY_PER_30S": "1000000",
    }
    exe = str(Path(sys.executable).parent / "waddlebot")
    router = subprocess.Popen([exe, "serve", "router"], env=env, stderr=subprocess.DEVNULL)
    ports = await build_ports(REDIS, prefix)
    try:
        await ports.bus.ensure_group(keys.EVENTS_STREAM, keys.ROUTER_GROUP)
        processed = _RedisProgress(ports)
        await asyncio.sleep(2)  # router start-up
        await throughput_remote(ports, processed, 2000, "!ping")
        cpu = _cpu_seconds(router.pid)
        chat = await throughput_remote(ports, processed, args.events, "hello chat")
        chat_cpu, cpu = _cpu_seconds(router.pid) - cpu, _cpu_seconds(router.pid)
        commands = await throughput_remote(ports, processed, args.events, "!ping")
        commands_cpu = _cpu_seconds(router.pid) - cpu
        lat = await latency(ports, args.rate, args.seconds)
        rss = _peak_rss_mb(router.pid)
    finally:
        router.terminate()
        router.wait(10)
        client = ports.cache._redis  # type: ignore[attr-defined]
        keys_left = [k async for k in client.scan_iter(match=f"{prefix}*", count=1000)]
        if keys_left:
            await client.delete(*keys_left)
        await ports.close()
        await admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        await admin.close()
    report(
        "distributed (PostgreSQL + Redis, one router process)", chat, commands, lat, args.rate, rss
    )
    # what a busy machine changes least: the router's own CPU time for each event
    per_message, per_command = (x / args.events * 1e6 for x in (chat_cpu, commands_cpu))
    print(f"router CPU per event  : {per_message:.0f} us a message, {per_command:.0f} us a command")


class _RedisProgress:
    """How far the router group has got: entries read and acknowledged."""

    def __init__(self, ports: Ports) -> None:
        self._ports = ports

    async def done(self) -> int:
        redis = self._ports.bus._redis  # type: ignore[attr-defined]
        key = self._ports.bus._key(keys.EVENTS_STREAM)  # type: ignore[attr-defined]
        groups = await redis.xinfo_groups(key)
        group = next(
            g for g in groups if g["name"] in (keys.ROUTER_GROUP, keys.ROUTER_GROUP.encode())
        )
        read = int(group.get("entries-read") or 0)
        return read - int(group["pending"])


async def throughput_remote(ports: Ports, progress: _RedisProgress, count: int, text: str) -> float:
    payloads = [encode_envelope(make_event(i, text)) for i in range(count)]
    start = await progress.done()
    started = time.perf_counter()
    await publish(ports, payloads)
    while await progress.done() - start < count:
        if time.perf_counter() - started > 300:
            raise TimeoutError("the router did not keep up")
        await asyncio.sleep(0.005)
    return count / (time.perf_counter() - started)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cpu_seconds(pid: int) -> float:
    """User and system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--events", type=int, default=20_000, help="events per throughput run")
    parser.add_argument("--rate", type=int, default=500, help="offered commands/s for latency")
    parser.add_argument("--seconds", type=float, default=10, help="length of the latency run")
    parser.add_argument("--only", choices=["embedded", "distributed"])
    parser.add_argument(
        "--no-module-check",
        dest="module_check",
        action="store_false",
        help="embedded: route without the per-community module check (to measure its cost)",
    )
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    if args.only in (None, "embedded"):
        asyncio.run(run_embedded(args))
    if args.only in (None, "distributed"):
        asyncio.run(run_distributed(args))


if __name__ == "__main__":
    main()
