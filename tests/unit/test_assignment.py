"""Work shared by replicas (infra/assignment.py) on the in-process lease with a hand-driven
clock: the split is balanced and stable, and through any sequence of joins, kills and clean
stops no item is served by two replicas at once, and none stays unserved longer than the
lease TTL and two heartbeats while a replica is alive (counted from the last kill: the live
ones cannot tell a dead replica from one waiting for a lease until its membership runs out,
so a second kill while an item waits for the first one's lease makes it wait for both)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.assignment import serving_hooks
from waddlebot.infra.assignment import Assignment, assign, fixed
from waddlebot.infra.memory import MemoryLease

TTL = 3.0
BEAT = 1.0


def test_the_split_is_balanced_and_ignores_order() -> None:
    items = [str(n) for n in range(10)]
    split = assign(["b", "a", "c"], items)
    assert sorted(len(mine) for mine in split.values()) == [3, 3, 4]
    assert sorted(i for mine in split.values() for i in mine) == sorted(items)
    assert assign(["c", "a", "b"], reversed(items)) == split


def test_a_leaver_moves_its_own_items_and_few_others() -> None:
    """Each move is a reconnection, so a leave must not reshuffle everything (the bound on
    the load moves a few besides the leaver's)."""
    items = [str(n) for n in range(100)]
    members = [f"host-{n}-discord" for n in range(5)]
    before = assign(members, items)
    after = assign(members[:-1], items)
    moved = [i for m in members[:-1] for i in before[m] if i not in after[m]]
    assert set(before[members[-1]]) <= {i for m in members[:-1] for i in after[m]}
    assert len(moved) <= 10


@given(st.integers(1, 8), st.integers(0, 40))
def test_the_shares_differ_by_one_at_most(members: int, items: int) -> None:
    split = assign([f"m{n}" for n in range(members)], [str(n) for n in range(items)])
    sizes = [len(mine) for mine in split.values()]
    assert max(sizes) - min(sizes) <= 1 and sum(sizes) == items


def test_no_members_get_nothing() -> None:
    assert assign([], ["0", "1"]) == {}


@dataclass
class Replica:
    name: str
    assignment: Assignment
    next_step: float


@dataclass
class World:
    items: list[str]
    now: float = 0.0
    lease: MemoryLease = field(init=False)
    replicas: dict[str, Replica] = field(default_factory=dict)
    serving: dict[str, str] = field(default_factory=dict)  # item -> the replica serving it
    last_served: dict[str, float] = field(default_factory=dict)
    last_kill: float = 0.0
    joined: int = 0

    def __post_init__(self) -> None:
        self.lease = MemoryLease(clock=lambda: self.now)

    async def join(self) -> None:
        self.joined += 1
        name = f"replica-{self.joined}"

        take, drop = serving_hooks(self, name)

        assignment = Assignment(
            self.lease,
            "test",
            name,
            items=fixed(self.items),
            on_take=take,
            on_drop=drop,
            ttl=TTL,
            interval=BEAT,
        )
        self.replicas[name] = Replica(name, assignment, self.now + BEAT)
        await assignment.step()
        self.check()

    def kill(self, index: int) -> None:
        """Gone at once: its sessions die with it, its leases run out by themselves."""
        if self.replicas:
            name = sorted(self.replicas)[index % len(self.replicas)]
            del self.replicas[name]
            self.serving = {i: r for i, r in self.serving.items() if r != name}
            self.last_kill = self.now

    async def stop(self, index: int) -> None:
        if self.replicas:
            name = sorted(self.replicas)[index % len(self.replicas)]
            await self.replicas.pop(name).assignment.stop()
            self.check()

    async def wait(self, seconds: float) -> None:
        until = self.now + seconds
        while self.replicas:
            replica = min(self.replicas.values(), key=lambda r: r.next_step)
            if replica.next_step > until:
                break
            self.now = replica.next_step
            replica.next_step += BEAT
            await replica.assignment.step()
            self.check()
        self.now = until
        self.check()

    def check(self) -> None:
        for item in self.items:
            if item in self.serving or not self.replicas:
                self.last_served[item] = self.now
            since = max(self.last_served.setdefault(item, self.now), self.last_kill)
            unserved = self.now - since
            assert unserved <= TTL + 2 * BEAT, f"{item} unserved for {unserved}s"


Op = tuple[str, float]
ops = st.lists(
    st.one_of(
        st.tuples(st.just("join"), st.just(0.0)),
        st.tuples(st.just("kill"), st.integers(0, 5).map(float)),
        st.tuples(st.just("stop"), st.integers(0, 5).map(float)),
        st.tuples(st.just("wait"), st.floats(0.1, 6.0)),
    ),
    max_size=25,
)


@settings(max_examples=150, deadline=None)
@given(items=st.integers(1, 9), steps=ops)
def test_no_item_is_served_twice_or_left_unserved(items: int, steps: list[Op]) -> None:
    async def run() -> None:
        world = World([str(n) for n in range(items)])
        await world.join()
        for op, arg in steps:
            if op == "join":
                await world.join()
            elif op == "kill":
                world.kill(int(arg))
            elif op == "stop":
                await world.stop(int(arg))
            else:
                await world.wait(arg)
        if not world.replicas:
            await world.join()
        await world.wait(TTL + 2 * BEAT)  # settled: the live replicas' split, all served
        expected = assign(world.replicas, world.items)
        held = {name: sorted(r.assignment.held) for name, r in world.replicas.items()}
        assert held == {name: sorted(mine) for name, mine in expected.items()}
        assert sorted(world.serving) == sorted(world.items)

    asyncio.run(run())


def test_one_replica_alone_serves_everything_at_once() -> None:
    async def run() -> None:
        world = World(["0", "1", "2"])
        await world.join()
        assert world.serving == dict.fromkeys(("0", "1", "2"), "replica-1")

    asyncio.run(run())


def test_an_item_waiting_for_two_dead_replicas_is_served_once_both_are_gone() -> None:
    """The first holder killed, then the member its items were meant for: they are served
    within the TTL and two heartbeats of the second death (found by the property above)."""

    async def run() -> None:
        world = World([str(n) for n in range(4)])
        await world.join()
        await world.join()
        world.kill(0)  # replica-1, holding everything
        await world.wait(2.5)
        await world.join()
        await world.join()
        world.kill(0)  # replica-2, a member that held nothing yet
        await world.wait(TTL + 2 * BEAT)
        assert sorted(world.serving) == world.items
        assert set(world.serving.values()) == {"replica-3", "replica-4"}

    asyncio.run(run())
