"""How processes share a conduit's shards through leases (``platforms/twitch/shards.py``,
on ``infra/assignment.py``):
a fair share each, never one shard twice, and a dead process's shards claimed once its
leases run out, on a lease port with a clock the test moves."""

from __future__ import annotations

from tests.support.twitch import FakeClock
from waddlebot.infra.memory import MemoryLease
from waddlebot.platforms.twitch.shards import ShardClaims

CONDUIT = "c0nduit"
TTL = 10.0


def _processes(lease: MemoryLease, *names: str) -> list[ShardClaims]:
    return [ShardClaims(lease, name, ttl=TTL) for name in names]


def _disjoint(*claims: ShardClaims) -> bool:
    held = [shard for claim in claims for shard in claim.held]
    return len(held) == len(set(held))


async def test_a_newcomer_gets_a_fair_share_and_no_shard_is_held_twice() -> None:
    lease = MemoryLease(clock=FakeClock())
    first, second, third = _processes(lease, "a", "b", "c")
    change = await first.claim(CONDUIT, 5)
    assert change.gained == [0, 1, 2, 3, 4] and change.lost == []
    for _ in range(2):  # newcomers count themselves in, the first sheds, they take
        for claims in (second, third, first):
            await claims.claim(CONDUIT, 5)
            assert _disjoint(first, second, third)
    assert sorted(len(c.held) for c in (first, second, third)) == [1, 2, 2]
    assert set().union(first.held, second.held, third.held) == {0, 1, 2, 3, 4}


async def test_a_dead_process_is_replaced_once_its_leases_run_out() -> None:
    clock = FakeClock()
    lease = MemoryLease(clock=clock)
    first, second = _processes(lease, "a", "b")
    for claims in (first, second, first, second):
        await claims.claim(CONDUIT, 4)
    assert len(first.held) == len(second.held) == 2
    dead = set(first.held)  # "a" stops renewing without giving anything up

    clock.advance(TTL / 2)
    assert (await second.claim(CONDUIT, 4)).gained == []  # still held: nothing taken early
    clock.advance(TTL / 2 + 0.1)
    change = await second.claim(CONDUIT, 4)
    assert set(change.gained) == dead and second.held == {0, 1, 2, 3}


async def test_stopping_gives_the_shards_up_at_once() -> None:
    lease = MemoryLease(clock=FakeClock())
    first, second = _processes(lease, "a", "b")
    await first.claim(CONDUIT, 3)
    assert await first.release_all() == [0, 1, 2]
    assert (await second.claim(CONDUIT, 3)).gained == [0, 1, 2]


async def test_shards_beyond_a_smaller_conduit_and_of_another_conduit_are_let_go() -> None:
    lease = MemoryLease(clock=FakeClock())
    (claims,) = _processes(lease, "a")
    await claims.claim(CONDUIT, 4)
    shrunk = await claims.claim(CONDUIT, 2)
    assert shrunk.lost == [2, 3] and claims.held == {0, 1}
    moved = await claims.claim("another", 2)
    assert moved.lost == [0, 1] and moved.gained == [0, 1]
    assert (await claims.holders(CONDUIT, 2)) == {0: None, 1: None}
    assert (await claims.holders("another", 2)) == {0: "a", 1: "a"}
