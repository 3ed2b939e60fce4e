"""The connection reports collectors publish (infra/connections.py), embedded and through real
Redis: each process's report is read back by any other, a change is published at once, a
process that stops cleanly withdraws its report, and one that dies (stops refreshing) is
gone once its TTL runs out rather than shown connected."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence

import pytest

from tests.support import connections as support
from waddlebot.infra import metrics
from waddlebot.infra.connections import (
    Changed,
    ConnectionReporter,
    Link,
    Report,
    Watch,
    reports,
)
from waddlebot.infra.factory import build_ports
from waddlebot.infra.ports import Ports

TTL = 0.8
INTERVAL = 60.0  # longer than any test: only a change publishes


class Collector:
    """A collector with one gateway shard, as a platform's would keep it."""

    def __init__(self, shard: int, guilds: Sequence[str] = ()) -> None:
        self.changed = Changed()
        self.watch = Watch(f"shard {shard}", self.changed)
        self.guilds = list(guilds)

    async def connections(self) -> list[Link]:
        return [self.watch.link(latency_ms=41.5, covers=self.guilds)]


@pytest.fixture(params=["embedded", "redis"])
async def ports(
    request: pytest.FixtureRequest, redis_url: str, key_prefix: str
) -> AsyncIterator[list[Ports]]:
    """Two processes' ports (embedded: one process, so the same ports twice)."""
    if request.param == "embedded":
        one = await build_ports("")
        yield [one, one]
        await one.close()
        return
    built = [await build_ports(redis_url, key_prefix) for _ in range(2)]
    yield built
    for each in built:
        await each.close()


def reporter(ports: Ports, process: str, collector: Collector) -> ConnectionReporter:
    return ConnectionReporter(
        ports.cache, ports.lease, "discord", process, collector, interval=INTERVAL, ttl=TTL
    )


async def reported(ports: Ports, holds: Callable[[list[Report]], bool]) -> list[Report]:
    return await support.reported(ports, "discord", holds)


def states(found: list[Report]) -> dict[str, list[str]]:
    return {r.process: [link.state for link in r.links] for r in found}


async def test_each_process_report_is_read_by_the_others_and_follows_changes(
    ports: list[Ports],
) -> None:
    first, second = Collector(0, ["discord:1"]), Collector(1, ["discord:2"])
    reporters = [reporter(ports[0], "p-0", first), reporter(ports[1], "p-1", second)]
    for one in reporters:
        await one.start()
    try:
        found = await reports(ports[1].cache, ports[1].lease, "discord")
        assert states(found) == {"p-0": ["connecting"], "p-1": ["connecting"]}
        link = found[0].links[0]
        assert (link.name, link.latency_ms, link.covers) == ("shard 0", 41.5, ("discord:1",))
        assert link.serves(["discord:1:55"]) and not link.serves(["discord:2:55"])

        first.watch.enter("ready", "session-a")  # published at once, not at the interval
        found = await reported(ports[1], lambda r: states(r)["p-0"] == ["ready"])
        assert found[0].links[0].session == "session-a"
        assert metrics.CONNECTIONS.labels("discord", "ready")._value.get() >= 1

        await reporters[1].stop()  # cleanly: its report goes at once
        assert states(await reports(ports[0].cache, ports[0].lease, "discord")) == {
            "p-0": ["ready"]
        }
    finally:
        for one in reporters:
            await one.stop()


async def test_a_process_that_stops_refreshing_is_gone_after_its_ttl(ports: list[Ports]) -> None:
    lively, dying = Collector(0), Collector(1)
    alive = reporter(ports[0], "alive", lively)
    dead = reporter(ports[1], "dead", dying)
    await alive.start()
    await dead.start()
    dying.watch.enter("ready")
    await reported(ports[0], lambda r: states(r).get("dead") == ["ready"])
    await dead.publisher.halt()  # killed: it publishes nothing more, withdraws nothing
    try:
        lively.watch.enter("ready")  # the live one keeps publishing
        found = await reported(ports[0], lambda r: "dead" not in states(r))
        assert states(found) == {"alive": ["ready"]}
    finally:
        await alive.stop()


async def test_a_freed_slot_taken_by_another_process_shows_only_the_new_holder(
    ports: list[Ports],
) -> None:
    old, new = Collector(0), Collector(0)
    gone = reporter(ports[0], "old", old)
    await gone.start()
    await gone.publisher.halt()
    await ports[0].lease.release("connections:discord:slot:0", "old")  # as if it ran out
    taker = reporter(ports[1], "new", new)
    await taker.start()
    try:
        # the old report may still be in the cache: the slot's holder decides whose it is
        found = await reports(ports[1].cache, ports[1].lease, "discord")
        assert [r.process for r in found] == ["new"]
    finally:
        await taker.stop()
