"""The WebSocket side of the ingest benchmark (``python -m bench.ingest --only ws``).

- EventSub: notifications from a fake Twitch that sends them as fast as it can, in a process
  of its own, taken by the real EventSub WebSocket client and the Twitch ingest of this
  process onto the bus: messages/s from the welcome to the last event on the bus, with the
  in-process bus and with Redis.
- Discord gateway: ``MESSAGE_CREATE`` dispatches from the fake Discord (in this process,
  sending as fast as it can) to ``waddlebot serve discord`` (Redis) and ``waddlebot up``
  (the router answering in the same process), counted on the server's ``/metrics``
  (``waddlebot_events_accepted_total``): messages/s from the first dispatch to the last event
  accepted. The fake's own sending rate is printed beside it: a figure near it means the fake
  was the limit.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx2
import orjson
from tests.fakes.discord import FakeDiscord
from tests.fakes.twitch import payloads as twitch_payloads
from websockets.asyncio.server import ServerConnection, serve

from bench.router import REDIS, _free_port
from waddlebot.infra import keys
from waddlebot.infra.factory import build_ports
from waddlebot.platforms.twitch.eventsub_ws import EventSubWebSocket
from waddlebot.platforms.twitch.ingest import EventSubIngest

CHANNELS = 20
USERS = 500


def notification(i: int) -> bytes:
    subscription = twitch_payloads.example("channel.chat.message")["subscription"]
    event = twitch_payloads.chat_message(
        broadcaster=str(1 + i % CHANNELS), chatter=str(10_000 + i % USERS), text=f"hello {i}"
    )
    stamp = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    metadata = {
        "message_id": str(uuid.uuid4()),
        "message_type": "notification",
        "message_timestamp": stamp,
        "subscription_type": "channel.chat.message",
        "subscription_version": subscription["version"],
    }
    return orjson.dumps(
        {"metadata": metadata, "payload": {"subscription": subscription, "event": event}}
    )


async def fake_eventsub(port: int, count: int) -> None:
    """Welcome each connection, then send it ``count`` notifications as fast as it can."""
    messages = [notification(i).decode() for i in range(count)]

    async def session(ws: ServerConnection) -> None:
        welcome = {
            "metadata": {"message_id": str(uuid.uuid4()), "message_type": "session_welcome"},
            "payload": {"session": {"id": uuid.uuid4().hex, "keepalive_timeout_seconds": 600}},
        }
        await ws.send(orjson.dumps(welcome).decode())
        for message in messages:
            await ws.send(message)
        await ws.wait_closed()

    async with serve(session, "127.0.0.1", port, compression=None, max_queue=None):
        print("ready", flush=True)
        await asyncio.Future()


async def take(bus_url: str, count: int) -> float:
    port = _free_port()
    fake = subprocess.Popen(
        [sys.executable, "-m", "bench.ingest_ws", "--serve", str(port), str(count)],
        stdout=subprocess.PIPE,
    )
    prefix = f"bench-ws-{uuid.uuid4().hex[:6]}"
    ports = await build_ports(bus_url, prefix, bus_maxlen=10 * count)
    try:
        assert fake.stdout is not None
        await asyncio.to_thread(fake.stdout.readline)  # "ready"
        ingest = EventSubIngest(ports.bus, None, lambda: "bot")  # type: ignore[arg-type]
        welcomed = asyncio.get_running_loop().create_future()

        async def on_welcome(_session: str) -> None:
            welcomed.set_result(time.perf_counter())

        socket = EventSubWebSocket(
            f"ws://127.0.0.1:{port}/ws",
            on_notification=ingest.notification,
            on_revocation=lambda _s: asyncio.sleep(0),
            on_welcome=on_welcome,
        )
        task = asyncio.create_task(socket.run())
        started = await welcomed
        while await ports.bus.length(keys.EVENTS_STREAM) < count:
            await asyncio.sleep(0.01)
        rate = count / (time.perf_counter() - started)
        await socket.stop()
        await task
        return rate
    finally:
        fake.terminate()
        fake.wait()
        if bus_url:
            redis: Any = ports.bus._redis  # type: ignore[attr-defined]
            left = [k async for k in redis.scan_iter(match=f"{prefix}*", count=1000)]
            if left:
                await redis.delete(*left)
        await ports.close()


async def _accepted(http: httpx2.AsyncClient, url: str) -> int:
    text = (await http.get(f"{url}/metrics")).text
    for line in text.splitlines():
        if line.startswith('waddlebot_events_accepted_total{platform="discord"}'):
            return int(float(line.rsplit(" ", 1)[1]))
    return 0


async def gateway(service: str, count: int) -> tuple[float, float]:
    """Messages/s ``waddlebot <service>`` takes from the fake Discord's gateway, and the rate
    the fake sent them at."""
    from bench.ingest import EXE, distributed_deployment, start, waddlebot_env

    async with FakeDiscord() as fake, contextlib.AsyncExitStack() as stack:
        owner = fake.add_user(username="olga")
        guild = fake.add_guild("Bench", owner=owner, channels=("general",))
        people = [fake.add_user(username=f"user{n}") for n in range(50)]
        for person in people:
            guild.add_member(person)
        general = next(c for c in guild.channels.values() if c.name == "general")
        discord = {
            "discord_token": fake.token,
            "discord_application_id": fake.application_id,
            "discord_api_url": fake.api_url,
            "discord_guild_ready_timeout": "0.05",
        }
        port = _free_port()
        if service == "up":
            data = stack.enter_context(tempfile.TemporaryDirectory())
            env = waddlebot_env(
                database_url=f"sqlite+aiosqlite:///{data}/bench.db", data_dir=data, **discord
            )
            command = [EXE, "up", "--port", str(port)]
        else:
            deployment = await stack.enter_async_context(distributed_deployment())
            env = waddlebot_env(**deployment, **discord)
            command = [EXE, "serve", "discord", "--port", str(port)]
        server = await start(command, env, port, "/healthz")
        stack.callback(server.stop)
        await fake.wait_until(lambda: fake.sessions, timeout=30, what="the gateway session")
        await asyncio.sleep(1)  # the READY and guilds, handled
        async with httpx2.AsyncClient() as http:
            before = await _accepted(http, server.url)
            started = time.perf_counter()
            for i in range(count):
                await fake.post_message(general, people[i % len(people)], f"hello chat {i}")
            sent = count / (time.perf_counter() - started)
            while await _accepted(http, server.url) - before < count:
                if time.perf_counter() - started > 300:
                    raise TimeoutError("the collector did not keep up")
                await asyncio.sleep(0.05)
            return count / (time.perf_counter() - started), sent


async def run_ws(args: argparse.Namespace) -> None:
    for round_ in range(args.rounds):
        print(f"-- round {round_ + 1} of {args.rounds}", flush=True)
        for name, url in (("in-process bus (up)", ""), ("Redis bus (serve twitch)", REDIS)):
            rate = await take(url, args.messages)
            print(f"EventSub WebSocket, {name:<26} {rate:9,.0f} messages/s", flush=True)
        for service in ("serve discord", "up"):
            rate, sent = await gateway(service, args.messages // 4)
            print(
                f"Discord gateway, {service:<29} {rate:9,.0f} messages/s "
                f"(the fake sent {sent:,.0f}/s)",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve", nargs=2, type=int, metavar=("PORT", "COUNT"), required=True)
    args = parser.parse_args()
    asyncio.run(fake_eventsub(*args.serve))


if __name__ == "__main__":
    main()
