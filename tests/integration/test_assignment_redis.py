"""Three replicas sharing six items through real Redis, each with its own client as separate
processes would: they split the items evenly, a replica that stops renewing (as after
kill -9) loses its items to the others once its leases run out, one that stops cleanly hands
them over at once, and no item is ever served by two."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from tests.support.assignment import serving_hooks
from waddlebot.infra.assignment import Assignment, assign, fixed
from waddlebot.infra.factory import build_ports
from waddlebot.infra.ports import Ports

TTL = 0.6
BEAT = 0.1
ITEMS = [str(n) for n in range(6)]


class Replicas:
    def __init__(self) -> None:
        self.serving: dict[str, str] = {}
        self.live: dict[str, Assignment] = {}

    def add(self, ports: Ports, name: str) -> Assignment:
        take, drop = serving_hooks(self, name)

        assignment = Assignment(
            ports.lease,
            "test",
            name,
            items=fixed(ITEMS),
            on_take=take,
            on_drop=drop,
            ttl=TTL,
            interval=BEAT,
        )
        self.live[name] = assignment
        return assignment

    def kill(self, name: str) -> None:
        del self.live[name]
        self.serving = {i: r for i, r in self.serving.items() if r != name}

    def split(self) -> dict[str, list[str]]:
        return {name: sorted(a.held) for name, a in self.live.items()}

    async def step_until(self, settled: Callable[[], bool], what: str) -> None:
        """Every live replica steps each heartbeat (as their loops would) until ``settled``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10 * TTL
        while not settled():
            assert loop.time() < deadline, f"never {what}: {self.split()}"
            for assignment in list(self.live.values()):
                await assignment.step()
            await asyncio.sleep(BEAT)

    def balanced(self) -> bool:
        return self.split() == assign(self.live, ITEMS) and len(self.serving) == len(ITEMS)


@pytest.fixture
async def ports(redis_url: str, key_prefix: str) -> AsyncIterator[list[Ports]]:
    built = [await build_ports(redis_url, key_prefix) for _ in range(3)]
    yield built
    for one in built:
        await one.close()


async def test_replicas_share_the_items_and_take_over_a_dead_ones(ports: list[Ports]) -> None:
    replicas = Replicas()
    first = replicas.add(ports[0], "first")
    await first.step()
    assert replicas.serving == dict.fromkeys(ITEMS, "first")  # alone: everything at once

    replicas.add(ports[1], "second")
    replicas.add(ports[2], "third")
    await replicas.step_until(replicas.balanced, "split three ways")
    assert sorted(len(held) for held in replicas.split().values()) == [2, 2, 2]

    lost = replicas.split()["third"]
    replicas.kill("third")  # stops renewing, releases nothing
    await replicas.step_until(replicas.balanced, "took the dead replica's items over")
    assert set(lost) <= set(replicas.serving)
    assert sorted(len(held) for held in replicas.split().values()) == [3, 3]

    await replicas.live.pop("second").stop()  # cleanly: handed over at the next step
    await first.step()
    assert replicas.serving == dict.fromkeys(ITEMS, "first")
