"""Processes that die or are stopped under load: nothing accepted is lost or answered twice."""

from __future__ import annotations

import asyncio
import signal

from tests.faults.conftest import MakeRig
from tests.faults.traffic import Users
from tests.support.processes import ServiceProcess


async def busy(router: ServiceProcess, timeout: float = 30) -> None:
    """Wait until the router has answered some of the traffic: it has work in hand."""
    async with asyncio.timeout(timeout):
        while await router.metric_total("waddlebot_events_processed") == 0:
            await asyncio.sleep(0.05)


async def test_a_router_killed_under_load_loses_nothing(make_rig: MakeRig) -> None:
    rig = await make_rig()
    victim, survivor = rig.routers
    traffic = rig.traffic(Users(new=True))
    traffic.start()
    await traffic.until("accepted", 20)
    await busy(victim)

    await asyncio.to_thread(victim.kill)  # SIGKILL: it acknowledges nothing it holds
    rig.routers.remove(victim)
    pids = rig.living()
    await traffic.until("accepted", 40)
    await traffic.stop()

    await rig.account(traffic, "router killed (SIGKILL)")
    await rig.assert_recovered(pids)
    assert survivor.alive


async def test_the_api_killed_under_load_loses_nothing(make_rig: MakeRig) -> None:
    """While the API is down its clients' connections are refused (they know nothing was
    taken); requests in flight when it died are cut off, and those events are answered at
    most once; everything it answered 202 is answered."""
    rig = await make_rig()
    traffic = rig.traffic(Users(new=True))
    traffic.start()
    await traffic.until("accepted", 20)

    await asyncio.to_thread(rig.api.kill)
    await traffic.until("refused", 4)
    rig.restart_api()
    await rig.api.wait_healthy()
    pids = rig.living()
    await traffic.until("accepted", 20)
    await traffic.stop()

    await rig.account(traffic, "API killed (SIGKILL) and restarted")
    await rig.assert_recovered(pids)


async def test_a_router_stopped_under_load_finishes_its_batch_and_loses_nothing(
    make_rig: MakeRig,
) -> None:
    rig = await make_rig()
    victim, _ = rig.routers
    traffic = rig.traffic(Users(new=True))
    traffic.start()
    await traffic.until("accepted", 20)
    await busy(victim)

    code = await asyncio.to_thread(victim.terminate)  # SIGTERM, as an orchestrator stops it
    rig.routers.remove(victim)
    pids = rig.living()
    await traffic.until("accepted", 20)
    await traffic.stop()

    # uvicorn ends by raising the signal it handled again: a clean stop exits "killed by
    # SIGTERM" after shutting down
    assert code in (0, -signal.SIGTERM), victim.log_tail()
    log = victim.log_path.read_text()
    assert "router worker stopped" in log and "Application shutdown complete" in log, log
    redis = rig.ports.redis  # type: ignore[attr-defined]
    consumers = await redis.xinfo_consumers(f"{rig.prefix}:events", "router")
    left = {c["name"].decode(): c["pending"] for c in consumers}
    assert left.get(f"{victim.name}-0", 0) == 0, f"it left entries behind: {left}"
    await rig.account(traffic, "router stopped (SIGTERM)")
    await rig.assert_recovered(pids)
