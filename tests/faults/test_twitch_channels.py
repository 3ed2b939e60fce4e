"""Three ``waddlebot serve twitch`` processes on the EventSub WebSocket transport share the
connected channels through Redis, each subscribing its share on sessions of its own; one
killed with SIGKILL loses its channels to the others within seconds; every channel's chat
reaches the bus (what the routers read) exactly once before the kill and after it, and no
subscription is ever live on two sessions at once."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import httpx2

from tests.fakes.twitch import FakeTwitch, payloads
from tests.support.processes import ServiceProcess, ServiceProcesses
from tests.support.twitch_channels import not_served_once
from waddlebot.infra import keys
from waddlebot.infra.codec import decode_envelope
from waddlebot.infra.db.engine import Database
from waddlebot.infra.factory import build_ports
from waddlebot.infra.ports import Bus
from waddlebot.infra.secretbox import SecretBox
from waddlebot.platforms.twitch.auth import Grant, TwitchAuth, Validation
from waddlebot.platforms.twitch.tokens import SCOPES, TokenStore

BOT = "9001"
CHANNELS = [f"70{n}" for n in range(5)]  # with the bot's whispers: 6 items, 2 per replica
VIEWER = "4242"
GROUP = "channels-fault-test"


async def connect_accounts(fake: FakeTwitch, database_url: str, key: str, client_id: str) -> None:
    """The bot and the channels, stored as the OAuth flow would have stored them."""
    db = Database(database_url)
    try:
        async with httpx2.AsyncClient() as http:
            auth = TwitchAuth(http, base_url=fake.auth_url, client_id=client_id, client_secret="")
            store = TokenStore(db, SecretBox([key]), auth)
            for user, purpose in [(BOT, "bot"), *((c, "broadcaster") for c in CHANNELS)]:
                token = fake.issue_user_token(client_id, user, *SCOPES[purpose])
                grant = Grant(token.access_token, token.refresh_token or "", 14400, token.scopes)
                who = Validation(client_id, user, f"user{user}", token.scopes, 14400)
                await store.save(grant, who, purpose=purpose)
    finally:
        await db.close()


async def held(processes: list[ServiceProcess]) -> list[float]:
    return sorted([await p.gauge("waddlebot_assigned_items") for p in processes])


async def wait_settled(
    fake: FakeTwitch, processes: list[ServiceProcess], want: list[float], what: str
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while not_served_once(fake, BOT, CHANNELS) or await held(processes) != want:
        assert loop.time() < deadline, (
            f"never {what}: {await held(processes)}, {not_served_once(fake, BOT, CHANNELS)}"
        )
        await asyncio.sleep(0.1)


async def chat_everywhere(fake: FakeTwitch, tag: str) -> list[str]:
    """One line in every channel; each is delivered to exactly one session."""
    texts = []
    for channel in CHANNELS:
        text = f"{tag} in {channel}"
        chat = payloads.chat_message(broadcaster=channel, chatter=VIEWER, text=text)
        deliveries = await fake.emit("channel.chat.message", chat)
        assert [d.delivered for d in deliveries] == [True], (text, deliveries)
        texts.append(text)
    return texts


async def on_the_bus(bus: Bus, texts: list[str]) -> Counter[str]:
    """How often each of ``texts`` was put on the events stream, once all of them were."""
    seen: Counter[str] = Counter()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while not all(seen[t] for t in texts):
        assert loop.time() < deadline, f"never on the bus: {set(texts) - set(seen)}"
        for message in await bus.read(keys.EVENTS_STREAM, GROUP, "test", 100, 200):
            seen[decode_envelope(message.data).event.text or ""] += 1
    for message in await bus.read(keys.EVENTS_STREAM, GROUP, "test", 100, 500):
        seen[decode_envelope(message.data).event.text or ""] += 1  # a late twin
    return seen


async def test_a_killed_replicas_channels_are_subscribed_again_by_the_others(
    migrated_postgres_url: str, redis_url: str, key_prefix: str, tmp_path: Path
) -> None:
    key = SecretBox.generate_key()
    async with FakeTwitch(ws_keepalive_bounds=(1, 600)) as fake:
        client = fake.register_client()
        for user in (BOT, VIEWER, *CHANNELS):
            fake.add_user(user, f"user{user}")
        await connect_accounts(fake, migrated_postgres_url, key, client.client_id)
        ports = await build_ports(redis_url, key_prefix)
        await ports.bus.ensure_group(keys.EVENTS_STREAM, GROUP)
        processes = ServiceProcesses(
            tmp_path / "processes",
            {
                "WADDLEBOT_REDIS_URL": redis_url,
                "WADDLEBOT_DATABASE_URL": migrated_postgres_url,
                "WADDLEBOT_STREAM_PREFIX": key_prefix,
                "WADDLEBOT_SECRET_KEYS": key,
                "WADDLEBOT_TWITCH_CLIENT_ID": client.client_id,
                "WADDLEBOT_TWITCH_CLIENT_SECRET": client.secret,
                "WADDLEBOT_TWITCH_TRANSPORT": "websocket",
                "WADDLEBOT_TWITCH_HELIX_URL": fake.helix_url,
                "WADDLEBOT_TWITCH_AUTH_URL": fake.auth_url,
                "WADDLEBOT_TWITCH_EVENTSUB_WS_URL": fake.eventsub_ws_url,
                "WADDLEBOT_ASSIGNMENT_HEARTBEAT_SECONDS": "0.3",
                "WADDLEBOT_ASSIGNMENT_LEASE_TTL_SECONDS": "1.5",
            },
        )
        try:
            replicas = [
                processes.start("twitch", f"twitch-{n}", WADDLEBOT_ROUTER_CONSUMER=f"twitch-{n}")
                for n in range(3)
            ]
            for replica in replicas:
                await replica.wait_healthy(timeout=90)  # a loaded machine starts slowly
            await wait_settled(fake, replicas, [2, 2, 2], "shared three ways")
            before = await chat_everywhere(fake, "before")
            assert await on_the_bus(ports.bus, before) == Counter(dict.fromkeys(before, 1))

            victim = replicas[0]
            await asyncio.to_thread(victim.kill)  # SIGKILL: it deletes and releases nothing
            survivors = replicas[1:]
            await wait_settled(fake, survivors, [3, 3], "took the killed replica's channels")
            after = await chat_everywhere(fake, "after")
            assert await on_the_bus(ports.bus, after) == Counter(dict.fromkeys(after, 1))
            assert fake.twin_subscriptions == []
        except BaseException:
            print(processes.log_tails())
            raise
        finally:
            await asyncio.to_thread(processes.close)
            await ports.close()
