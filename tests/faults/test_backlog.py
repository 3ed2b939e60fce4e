"""The routers stopped while clients offer three times ``WADDLEBOT_BUS_MAXLEN`` events: the API
takes what may wait and refuses the rest with a 503; nothing it took is trimmed off the bus
unread, and all of it is answered, once, when the routers are back."""

from __future__ import annotations

import asyncio

import httpx2

from tests.faults.conftest import MakeRig
from tests.faults.traffic import Users, ping
from waddlebot.infra import keys

MAXLEN = 200
BATCH = 5


async def test_events_offered_while_the_routers_are_stopped_are_answered_or_refused_503(
    make_rig: MakeRig,
) -> None:
    rig = await make_rig(settings={"WADDLEBOT_BUS_MAXLEN": str(MAXLEN)})
    stopped = list(rig.routers)
    for router in stopped:
        await asyncio.to_thread(router.terminate)

    users = Users(new=True)
    traffic = rig.traffic(users)
    while len(traffic.requests) * BATCH < 3 * MAXLEN:
        traffic.requests.append(await traffic.post([ping(users.next()) for _ in range(BATCH)]))

    accepted = traffic.count("accepted") * BATCH
    refused = [r for r in traffic.requests if r.outcome != "accepted"]
    assert MAXLEN <= accepted < 3 * MAXLEN, f"{accepted} accepted"
    odd = [(r.status, r.detail) for r in refused if r.status != 503]
    assert not odd, f"refused otherwise than with a 503: {odd[:5]}"
    assert all(r.detail.startswith("the router is behind: ") for r in refused), refused[:3]
    assert await rig.api.metric_total("waddlebot_events_refused") == len(refused) * BATCH
    async with httpx2.AsyncClient() as http:
        scraped = (await http.get(f"{rig.api.url}/metrics")).text
    assert f'waddlebot_bus_backlog{{stream="events"}} {float(accepted)}' in scraped
    # all of it still there, unread (XADD MAXLEN used to trim the oldest away)
    assert await rig.ports.bus.length(keys.EVENTS_STREAM) == accepted

    rig.routers = [rig.processes.restart(router, "router") for router in stopped]
    await asyncio.gather(*(router.wait_healthy() for router in rig.routers))
    pids = rig.living()
    tally = await rig.account(traffic, f"routers stopped, {3 * MAXLEN} events offered")
    assert tally.answered == accepted and tally.refused == len(refused) * BATCH
    await rig.assert_recovered(pids)
