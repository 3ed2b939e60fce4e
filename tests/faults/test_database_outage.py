"""The test's own PostgreSQL database unreachable under load (connections refused and the
open ones terminated), for 2 s and for 15 s (longer than the API's key cache, set to 10 s
here instead of 30 s so the long outage need not last 35 s), while people never seen before
speak (the router must write their identities) and while known people do. The processes keep
running throughout and share one rig."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx2
import pytest

from tests.faults.conftest import Rig
from tests.faults.traffic import Users, ping
from tests.support.database_switch import DatabaseSwitch

pytestmark = pytest.mark.asyncio(loop_scope="module")

KEY_CACHE_SECONDS = 10  # the API's KeyVerifier ttl in this module's rig


@pytest.fixture(scope="module")
def rig_settings() -> dict[str, str]:
    return {"WADDLEBOT_API_KEY_CACHE_SECONDS": str(KEY_CACHE_SECONDS)}


@asynccontextmanager
async def unreachable(database: DatabaseSwitch) -> AsyncIterator[None]:
    await database.block()
    try:
        yield
    finally:
        await database.allow()


@pytest.mark.parametrize("users", ["new", "known"])
@pytest.mark.parametrize("seconds", [2, 15])
async def test_the_database_unreachable_under_load_loses_nothing(
    shared_rig: Rig, seconds: int, users: str
) -> None:
    rig = shared_rig
    pids = rig.living()
    speakers = Users(new=users == "new")
    if users == "known":
        await rig.warm_up(speakers)
    # slower traffic through the long outage, so the backlog drains quickly afterwards
    traffic = rig.traffic(speakers, pause=0.05 if seconds < 10 else 0.25)
    traffic.start()
    await traffic.until("accepted", 10)

    async with unreachable(rig.database):
        await asyncio.sleep(seconds)  # the outage itself: a span of time, nothing to await
    await traffic.until("accepted", 10)
    await traffic.stop()

    tally = await rig.account(traffic, f"database unreachable {seconds} s, {users} users")
    if seconds > KEY_CACHE_SECONDS:
        # the API could no longer check the key: 503 with Retry-After (not 500)
        assert tally.refused > 0
    await rig.assert_recovered(pids)


async def test_five_new_users_posted_while_the_database_is_unreachable_are_answered(
    shared_rig: Rig,
) -> None:
    """The issue's reproduction: the key is cached in the API, the database goes away, five
    ``!ping`` from people never seen before are accepted in one request, and the database
    comes back three seconds later: all five are answered."""
    rig = shared_rig
    async with httpx2.AsyncClient(base_url=rig.api.url, timeout=15) as client:
        headers = {"Authorization": f"Bearer {rig.key}"}
        assert (await client.get("/api/v1/commands", headers=headers)).status_code == 200
        traffic = rig.traffic(Users(new=True))
        async with unreachable(rig.database):
            events = [ping(traffic.users.next()) for _ in range(5)]
            request = await traffic.post(events)
            assert request.outcome == "accepted", request
            traffic.requests.append(request)
            await asyncio.sleep(3)

    tally = await rig.account(traffic, "reproduction: 5 new users, database away 3 s")
    assert tally.answered == 5
