"""SingleFlight: callers asking for a key while its lookup runs share that lookup."""

from __future__ import annotations

import asyncio

import pytest

from waddlebot.infra.single_flight import SingleFlight


class Lookups:
    """A lookup that waits until released, counting how often it was started."""

    def __init__(self) -> None:
        self.started = 0
        self.release = asyncio.Event()

    async def __call__(self) -> str:
        self.started += 1
        await self.release.wait()
        return f"found #{self.started}"


async def test_callers_during_a_lookup_share_it_and_later_ones_start_anew() -> None:
    flight: SingleFlight[str, str] = SingleFlight()
    lookup = Lookups()
    callers = [asyncio.create_task(flight.run("alice", lookup)) for _ in range(5)]
    await asyncio.sleep(0)
    lookup.release.set()
    assert await asyncio.gather(*callers) == ["found #1"] * 5
    assert await flight.run("alice", lookup) == "found #2"  # done: not kept
    assert await flight.run("bob", lookup) == "found #3"  # another key, its own


async def test_an_error_reaches_every_caller_and_the_next_call_tries_again() -> None:
    flight: SingleFlight[str, str] = SingleFlight()
    release = asyncio.Event()

    async def failing() -> str:
        await release.wait()
        raise ConnectionError("slack is down")

    callers = [asyncio.create_task(flight.run("k", failing)) for _ in range(3)]
    await asyncio.sleep(0)
    release.set()
    results = await asyncio.gather(*callers, return_exceptions=True)
    assert [type(r) for r in results] == [ConnectionError] * 3
    lookup = Lookups()
    lookup.release.set()
    assert await flight.run("k", lookup) == "found #1"


async def test_a_caller_gone_leaves_the_lookup_to_the_others() -> None:
    flight: SingleFlight[str, str] = SingleFlight()
    lookup = Lookups()
    first = asyncio.create_task(flight.run("k", lookup))
    second = asyncio.create_task(flight.run("k", lookup))
    await asyncio.sleep(0)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    lookup.release.set()
    assert await second == "found #1"
    assert lookup.started == 1


async def test_after_a_change_callers_start_a_lookup_of_their_own() -> None:
    flight: SingleFlight[str, str] = SingleFlight()
    before, after = Lookups(), Lookups()
    old = asyncio.create_task(flight.run("team", before))
    await asyncio.sleep(0)
    flight.forget("team")  # the install changed while the lookup was under way
    new = asyncio.create_task(flight.run("team", after))
    await asyncio.sleep(0)
    before.release.set()
    after.release.set()
    assert (await old, await new) == ("found #1", "found #1")
    assert (before.started, after.started) == (1, 1)
    flight.forget()  # every key: nothing under way, nothing to do
