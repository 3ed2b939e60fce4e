"""Three ``waddlebot serve discord`` processes share the bot's gateway shards through Redis
(as many as Discord recommended to the first of them: the later ones read that count, even
once Discord recommends another); one killed with SIGKILL loses its shards to the others,
which IDENTIFY them again within seconds; and never do two connections serve one shard at
the same time, the starts and the hand-overs included. What the portal reads of their
connections follows: every shard ready, and the killed replica's report gone with it."""

from __future__ import annotations

import asyncio
import time
from itertools import combinations
from pathlib import Path
from urllib.parse import urlsplit

from tests.fakes.discord import FakeDiscord
from tests.fakes.discord.gateway import Span
from tests.support.connections import reported
from tests.support.processes import ServiceProcess, ServiceProcesses
from waddlebot.infra.connections import Report
from waddlebot.infra.factory import build_ports

SHARDS = 4


def open_shards(fake: FakeDiscord) -> list[int]:
    return sorted(span.shard[0] for span in fake.spans if span.ended is None)


def assert_never_served_twice(spans: list[Span]) -> None:
    for one, other in combinations(spans, 2):
        if one.shard == other.shard:
            assert not one.overlaps(other), f"shard {one.shard} served twice: {one}, {other}"


async def held(processes: list[ServiceProcess]) -> list[float]:
    return sorted([await p.gauge("waddlebot_assigned_items") for p in processes])


async def settled(fake: FakeDiscord, processes: list[ServiceProcess], want: list[float]) -> bool:
    return open_shards(fake) == list(range(SHARDS)) and await held(processes) == want


async def wait_settled(
    fake: FakeDiscord, processes: list[ServiceProcess], want: list[float], what: str
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while not await settled(fake, processes, want):
        assert loop.time() < deadline, f"never {what}: {await held(processes)}"
        await asyncio.sleep(0.1)


def shards_by_process(found: list[Report]) -> dict[str, list[tuple[str, str]]]:
    return {r.process: [(k.name, k.state) for k in r.links] for r in found}


def all_ready_in(found: list[Report], processes: int) -> bool:
    by_process = shards_by_process(found)
    shards = sorted(shard for shards in by_process.values() for shard in shards)
    return len(by_process) == processes and shards == [
        (f"shard {n}", "ready") for n in range(SHARDS)
    ]


async def test_a_killed_replicas_shards_are_identified_again_by_the_others(
    migrated_postgres_url: str, redis_url: str, key_prefix: str, tmp_path: Path
) -> None:
    async with FakeDiscord(recommended_shards=SHARDS) as fake:
        processes = ServiceProcesses(
            tmp_path / "processes",
            {
                "WADDLEBOT_REDIS_URL": redis_url,
                "WADDLEBOT_DATABASE_URL": migrated_postgres_url,
                "WADDLEBOT_STREAM_PREFIX": key_prefix,
                "WADDLEBOT_DISCORD_TOKEN": fake.token,
                "WADDLEBOT_DISCORD_API_URL": fake.api_url,
                "WADDLEBOT_DISCORD_GUILD_READY_TIMEOUT": "0.05",
                "WADDLEBOT_ASSIGNMENT_HEARTBEAT_SECONDS": "0.3",
                "WADDLEBOT_ASSIGNMENT_LEASE_TTL_SECONDS": "1.5",
            },
        )
        ports = await build_ports(redis_url, key_prefix)  # as a portal process reads them
        try:
            first = processes.start("discord", "discord-0")
            await first.wait_healthy()
            await wait_settled(fake, [first], [SHARDS], "served by the first replica")
            # Discord recommends more shards now: the replicas still agree on the first count
            fake.recommended_shards = SHARDS + 2
            replicas = [first, *(processes.start("discord", f"discord-{n}") for n in (1, 2))]
            for replica in replicas:
                await replica.wait_healthy()
            await wait_settled(fake, replicas, [1, 1, 2], "shared three ways")
            assert_never_served_twice(fake.spans)
            reported_before = await reported(ports, "discord", lambda r: all_ready_in(r, 3))

            counts = [await r.gauge("waddlebot_assigned_items") for r in replicas]
            victim = replicas[counts.index(2)]
            # frozen, it opens and closes nothing while its connections are told from the rest
            victim.freeze()
            sockets = victim.local_ports(urlsplit(fake.gateway_url).port or 0)
            victims = [s for s in fake.spans if s.ended is None and s.client_port in sockets]
            lost = {s.shard for s in victims}
            assert lost, "the victim served no shard"
            killed_at = time.monotonic()
            await asyncio.to_thread(victim.kill)  # SIGKILL: it releases nothing
            await fake.wait_until(
                lambda: all(s.ended is not None for s in victims), what="the kill seen"
            )
            survivors = [r for r in replicas if r is not victim]
            await wait_settled(fake, survivors, [2, 2], "took the killed replica's shards over")
            found = await reported(ports, "discord", lambda r: all_ready_in(r, 2))
            # the killed process is gone from the reports, the survivors carry every shard
            assert set(shards_by_process(found)) < set(shards_by_process(reported_before))

            retaken = [s for s in fake.spans if s.started > killed_at and s.shard in lost]
            assert {s.shard for s in retaken if s.ended is None} == lost
            assert {s.how for s in retaken} == {"identify"}  # a new session, not the dead one's
            assert_never_served_twice(fake.spans)
        except BaseException:
            print(processes.log_tails())
            raise
        finally:
            await asyncio.to_thread(processes.close)
            await ports.close()
