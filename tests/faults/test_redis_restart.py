"""Redis stopped and started again under load, with its append-only file on (fsync always):
the streams, consumer groups and pending entries come back, so nothing accepted is lost."""

from __future__ import annotations

import asyncio

from tests.faults.conftest import MakeRig
from tests.faults.traffic import Users


async def test_redis_restarted_with_aof_under_load_loses_nothing(make_rig: MakeRig) -> None:
    rig = await make_rig(own_redis=True)
    assert rig.redis is not None
    pids = rig.living()
    traffic = rig.traffic(Users(new=True))
    traffic.start()
    await traffic.until("accepted", 20)

    await asyncio.to_thread(rig.redis.stop)  # SIGTERM: Redis flushes its append-only file
    await traffic.until("refused", 4)  # the API answers 503 while Redis is away
    await asyncio.to_thread(rig.redis.start)
    await traffic.until("accepted", 20)
    await traffic.stop()

    tally = await rig.account(traffic, "Redis restarted (append-only file on)")
    assert tally.refused > 0
    await rig.assert_recovered(pids)
