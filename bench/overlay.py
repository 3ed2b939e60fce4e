"""Overlay fan-out benchmark: many open overlay pages of one community, one browser-source
process feeding them.

    python -m bench.overlay [--pages 1000] [--rounds 200] [--updates 1000] [--only distributed]

distributed: one ``waddlebot serve browser_source`` process (PostgreSQL for the token, Redis
for the fan-out). The benchmark opens ``--pages`` WebSockets to it, like that many OBS
browser sources, and publishes updates on Redis exactly as a router process does
(``OverlayPublisher``): the time is from the publish to the moment the last page has it.

embedded: ``waddlebot up`` (SQLite, in-process ports), the pages on its ticker. Each update
is a chat line typed on the console WebSocket (a custom command), so the time is from typing
it to the last page showing the bot's answer: router included.

Prints, for each mode: the time until the last page has one update (p50/p99 over
``--rounds`` updates sent one at a time), and updates/s sustained with every page keeping up
(at most ``--window`` updates in flight; any page dropped as too slow is reported), and the
peak RSS of the server process. The pages' clients run in this process, on the other core:
reading 1,000 WebSocket frames in Python is part of every figure. Figures, not pass/fail.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx2
import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from bench.router import PG_ADMIN, REDIS, _free_port, _peak_rss_mb
from waddlebot.infra.secretbox import SecretBox

EXE = str(Path(sys.executable).parent / "waddlebot")
CONNECT_AT_ONCE = 50


class Pages:
    """The open pages: when each update reached all of them."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.sockets: list[ClientConnection] = []
        self.readers: list[asyncio.Task[None]] = []
        self._seen: dict[int, int] = {}
        self._all: dict[int, asyncio.Future[float]] = {}
        self.dropped = 0

    def all_have(self, seq: int) -> asyncio.Future[float]:
        """Resolves with the time the last page got update ``seq``."""
        future = self._all.get(seq)
        if future is None:
            future = self._all[seq] = asyncio.get_running_loop().create_future()
        return future

    def _arrived(self, seq: int) -> None:
        seen = self._seen[seq] = self._seen.get(seq, 0) + 1
        if seen == self.count:
            del self._seen[seq]
            future = self.all_have(seq)
            if not future.done():
                future.set_result(time.perf_counter())

    async def open(self, url: str) -> None:
        async def one() -> None:
            socket = await connect(url, max_queue=None)
            hello = orjson.loads(await socket.recv())
            assert hello["type"] == "hello", hello
            self.sockets.append(socket)
            self.readers.append(asyncio.create_task(self._read(socket)))

        for start in range(0, self.count, CONNECT_AT_ONCE):
            await asyncio.gather(*(one() for _ in range(min(CONNECT_AT_ONCE, self.count - start))))

    async def _read(self, socket: ClientConnection) -> None:
        try:
            async for raw in socket:
                message = orjson.loads(raw)
                if message["type"] == "update":
                    data = message["data"]
                    text = data.get("title") or data.get("text") or ""
                    self._arrived(int(text.rsplit(" ", 1)[-1]))
                elif message["type"] == "ping":
                    await socket.send('{"type":"pong"}')
        except ConnectionClosed:
            pass
        self.dropped += 1

    async def close(self) -> None:
        for task in self.readers:
            task.cancel()
        await asyncio.gather(*self.readers, return_exceptions=True)
        await asyncio.gather(*(s.close() for s in self.sockets), return_exceptions=True)


Send = Callable[[int], Awaitable[None]]


async def latency(pages: Pages, send: Send, first: int, rounds: int) -> list[float]:
    """One update at a time: publish to the last page having it, in seconds."""
    took = []
    for seq in range(first, first + rounds):
        started = time.perf_counter()
        await send(seq)
        took.append(await asyncio.wait_for(pages.all_have(seq), 30) - started)
    return took


async def sustained(pages: Pages, send: Send, first: int, count: int, window: int) -> float:
    """Updates/s with at most ``window`` in flight, every page getting every one."""
    started = time.perf_counter()
    for seq in range(first, first + count):
        if seq - first >= window:
            await asyncio.wait_for(pages.all_have(seq - window), 30)
        await send(seq)
    await asyncio.wait_for(pages.all_have(first + count - 1), 30)
    return count / (time.perf_counter() - started)


async def measure(pages: Pages, send: Send, args: argparse.Namespace) -> tuple[list[float], float]:
    await latency(pages, send, 0, 20)  # warm-up
    lat = await latency(pages, send, 1_000, args.rounds)
    rate = await sustained(pages, send, 100_000, args.updates, args.window)
    return lat, rate


def report(mode: str, pages: Pages, lat: list[float], rate: float, rss: float) -> None:
    ms = sorted(x * 1000 for x in lat)
    p50 = statistics.median(ms)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    print(f"\n== {mode} ==")
    print(f"pages                          : {pages.count:,}")
    print(
        f"one update, to the last page   : p50 {p50:.1f} ms, p99 {p99:.1f} ms ({len(ms)} updates)"
    )
    messages = rate * pages.count
    print(f"sustained, all pages keeping up: {rate:,.0f} updates/s ({messages:,.0f} messages/s)")
    print(f"pages dropped                  : {pages.dropped}")
    print(f"peak RSS (server)              : {rss:.0f} MiB")
    sys.stdout.flush()


def _environment(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WADDLEBOT_")}
    env.update({f"WADDLEBOT_{k.upper()}": v for k, v in values.items()})
    return env


async def _until_up(base: str, server: subprocess.Popen[bytes]) -> None:
    async with httpx2.AsyncClient() as http:
        for _ in range(300):
            if server.poll() is not None:
                raise RuntimeError("the server did not start")
            with contextlib.suppress(httpx2.HTTPError):
                if (await http.get(f"{base}/healthz")).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise TimeoutError("the server did not start")


def _stop(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    try:
        server.wait(15)
    except subprocess.TimeoutExpired:
        server.kill()


async def run_distributed(args: argparse.Namespace) -> None:
    import asyncpg

    from waddlebot.features.overlay.tokens import OverlayTokens
    from waddlebot.infra.db.engine import Database
    from waddlebot.infra.db.migrate import upgrade_async
    from waddlebot.infra.directory import Directory
    from waddlebot.infra.factory import build_ports
    from waddlebot.router.overlays import OverlayPublisher

    db_name = f"waddlebot_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(PG_ADMIN)
    await admin.execute(f'CREATE DATABASE "{db_name}"')
    url = (
        PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + f"/{db_name}"
    )
    prefix = f"bench-{uuid.uuid4().hex[:6]}"
    key = SecretBox.generate_key()
    port = _free_port()
    server = None
    ports = await build_ports(REDIS, prefix)
    db = Database(url)
    pages = Pages(args.pages)
    try:
        await upgrade_async(url)
        community = await Directory(db).resolve_entity("console:bench", "console")
        publisher = OverlayPublisher(ports.cache, ports.broadcast)
        tokens = OverlayTokens(db, publisher, lambda: SecretBox([key]))
        token = await tokens.current(community.community_id, actor="bench")
        env = _environment(
            database_url=url,
            redis_url=REDIS,
            stream_prefix=prefix,
            secret_keys=key,
            port=str(port),
            log_level="WARNING",
            overlay_max_connections=str(args.pages * 2),
        )
        server = subprocess.Popen([EXE, "serve", "browser_source"], env=env)
        base = f"http://127.0.0.1:{port}"
        await _until_up(base, server)
        await pages.open(f"ws://127.0.0.1:{port}/overlay/{token}/alerts/ws")

        async def send(seq: int) -> None:
            update = publisher.prepare("", "alerts", {"kind": "custom", "title": f"bench {seq}"})
            await publisher.publish(community.community_id, [update])

        lat, rate = await measure(pages, send, args)
        rss = _peak_rss_mb(server.pid)
    finally:
        await pages.close()
        if server is not None:
            _stop(server)
        client = ports.cache._redis  # type: ignore[attr-defined]
        left = [k async for k in client.scan_iter(match=f"{prefix}*", count=1000)]
        if left:
            await client.delete(*left)
        await ports.close()
        await db.close()
        await admin.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        await admin.close()
    report(
        "distributed (one browser-source process on Redis; published as a router does)",
        pages,
        lat,
        rate,
        rss,
    )


async def run_embedded(args: argparse.Namespace) -> None:
    api_key = f"bench-{uuid.uuid4().hex}"
    port = _free_port()
    pages = Pages(args.pages)
    with tempfile.TemporaryDirectory() as tmp:
        env = _environment(
            data_dir=tmp,
            api_key=api_key,
            port=str(port),
            log_level="WARNING",
            overlay_max_connections=str(args.pages * 2),
            overlay_ticker_per_minute="1000000000",
            rate_user_per_30s="1000000000",
            rate_entity_per_30s="1000000000",
        )
        server = subprocess.Popen([EXE, "up"], env=env)
        chat: ClientConnection | None = None
        try:
            base = f"http://127.0.0.1:{port}"
            await _until_up(base, server)
            chat = await connect(
                f"ws://127.0.0.1:{port}/collectors/console/ws?user=streamer&role=owner",
                additional_headers={"Authorization": f"Bearer {api_key}"},
            )
            said = await _chat(chat, "!overlay url ticker")
            ticker = next(line for line in said if "ticker: " in line).rsplit("ticker: ", 1)[1]
            await _chat(chat, "!addcom !b bench $(1)")
            await pages.open(ticker.replace("http://", "ws://") + "/ws")
            drain = asyncio.create_task(_drain(chat))
            console = chat

            async def send(seq: int) -> None:
                await console.send(orjson.dumps({"text": f"!b {seq}"}).decode())

            try:
                lat, rate = await measure(pages, send, args)
            finally:
                drain.cancel()
            rss = _peak_rss_mb(server.pid)
        finally:
            await pages.close()
            if chat is not None:
                await chat.close()
            _stop(server)
    report("embedded (waddlebot up; a chat line typed to the last page)", pages, lat, rate, rss)


async def _chat(chat: ClientConnection, text: str) -> list[str]:
    """Send a line on the console; what the bot said, once it is done."""
    await chat.send(orjson.dumps({"text": text}).decode())
    said = []
    while True:
        message = orjson.loads(await asyncio.wait_for(chat.recv(), 10))
        if message["type"] == "done":
            return said
        if message["type"] == "message":
            said.append(message["text"])


async def _drain(chat: ClientConnection) -> None:
    async for _ in chat:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--pages", type=int, default=1000, help="open overlay pages")
    parser.add_argument("--rounds", type=int, default=200, help="updates timed one at a time")
    parser.add_argument("--updates", type=int, default=1000, help="updates in the sustained run")
    parser.add_argument("--window", type=int, default=8, help="updates in flight when sustained")
    parser.add_argument("--only", choices=["embedded", "distributed"])
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    if args.only in (None, "embedded"):
        asyncio.run(run_embedded(args))
    if args.only in (None, "distributed"):
        asyncio.run(run_distributed(args))


if __name__ == "__main__":
    main()
