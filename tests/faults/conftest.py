"""A distributed WaddleBot for the fault suite: real ``waddlebot serve api`` and two
``waddlebot serve router`` processes on a PostgreSQL database of the test's own and Redis
(the shared one under a key prefix of the test's own, or a ``redis-server`` of its own), an
API key stored in the database (so the API checks it there, and caches it for 30 s), and the
test's own handle on the bus to read replies and dead letters."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
import pytest_asyncio

from tests.conftest import temporary_database, temporary_key_prefix
from tests.faults.traffic import Ledger, Tally, Traffic, Users, ping, post_body
from tests.support.database_switch import DatabaseSwitch
from tests.support.processes import ServiceProcess, ServiceProcesses
from tests.support.redis_server import RedisServer
from waddlebot.features.identity import apikeys
from waddlebot.infra.db.engine import Database
from waddlebot.infra.db.migrate import upgrade
from waddlebot.infra.factory import build_ports
from waddlebot.infra.ports import Ports
from waddlebot.router.dead_letters import DeadLetters

RECLAIM_IDLE_MS = 2000  # a dead router's entries are taken over after this long
TALLIES: list[str] = []  # each scenario's numbers, for the summary at the end of the run


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TALLIES:
        terminalreporter.section("fault suite: what became of the traffic")
        for line in TALLIES:
            terminalreporter.write_line(line)


@dataclass
class Rig:
    processes: ServiceProcesses
    api: ServiceProcess
    routers: list[ServiceProcess]
    key: str
    ports: Ports
    ledger: Ledger
    dead_letters: DeadLetters
    database: DatabaseSwitch
    prefix: str
    redis: RedisServer | None = None

    def traffic(self, users: Users, *, pause: float = 0.05) -> Traffic:
        return Traffic(self.api.url, self.key, users, pause=pause)

    async def warm_up(self, users: Users) -> None:
        """Every known user says something once and is answered: their identities are in
        the database and the router's cache before the fault."""
        traffic = Traffic(self.api.url, self.key, users)
        for user in users.known:
            request = await traffic.post([ping(user)])
            assert request.outcome == "accepted", request
            traffic.requests.append(request)
        await self.ledger.settle(traffic)

    def restart_api(self) -> ServiceProcess:
        self.api = self.processes.restart(self.api, "api")
        return self.api

    def living(self) -> dict[str, int]:
        return {p.name: p.pid for p in (self.api, *self.routers) if p.alive}

    async def account(self, traffic: Traffic, scenario: str) -> Tally:
        """Wait until every accepted event is answered or dead-lettered; the tally, checked."""
        try:
            await self.ledger.settle(traffic)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.processes.log_tails(40)}") from exc
        tally = await self.ledger.tally(traffic)
        TALLIES.append(f"{scenario}: {tally.line()}")
        problems = tally.problems
        assert not problems, (
            f"{len(problems)} problems, e.g. {problems[:5]}\n{self.processes.log_tails(40)}"
        )
        assert tally.accepted > 0, "nothing was accepted: the scenario proved nothing"
        return tally

    async def assert_recovered(self, pids: dict[str, int]) -> None:
        """The same processes (by pid) answer fresh commands: each router answers some, and
        the API waits for an answer (completions, over pub/sub, work again too)."""
        assert self.living() == pids, (
            f"processes changed: {pids} before, {self.living()} now\n{self.processes.log_tails()}"
        )
        before = {r.name: await r.metric_total("waddlebot_events_processed") for r in self.routers}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        async with httpx2.AsyncClient(timeout=15) as client:
            while True:
                response = await client.post(
                    f"{self.api.url}/api/v1/events?wait=true&timeout=10",
                    content=post_body([ping("after-the-fault")]),
                    headers={"Authorization": f"Bearer {self.key}"},
                )
                assert response.status_code == 200, response.text
                (result,) = response.json()["results"]
                assert result["completed"], f"no answer in time\n{self.processes.log_tails()}"
                assert [r["text"] for r in result["replies"]] == ["pong"], result
                moved = [
                    r.name
                    for r in self.routers
                    if await r.metric_total("waddlebot_events_processed") > before[r.name]
                ]
                if len(moved) == len(self.routers):
                    break
                assert loop.time() < deadline, (
                    f"only {moved} answered fresh commands\n{self.processes.log_tails()}"
                )
        assert self.living() == pids


MakeRig = Callable[..., Awaitable[Rig]]


async def start_rig(
    database_url: str,
    redis_url: str,
    prefix: str,
    workdir: Path,
    *,
    own_redis: bool = False,
    routers: int = 2,
    settings: dict[str, str] | None = None,
) -> Rig:
    server = None
    if own_redis:
        server = RedisServer(workdir / "redis")
        await asyncio.to_thread(server.start)
        redis_url = server.url
    db = Database(database_url)
    try:
        _, key = await apikeys.create_key(db, "fault-suite")
    finally:
        await db.close()
    env = {
        "WADDLEBOT_REDIS_URL": redis_url,
        "WADDLEBOT_DATABASE_URL": database_url,
        "WADDLEBOT_STREAM_PREFIX": prefix,
        "WADDLEBOT_BUS_RECLAIM_IDLE_MS": str(RECLAIM_IDLE_MS),
        "WADDLEBOT_RATE_USER_PER_30S": "1000000",
        "WADDLEBOT_RATE_ENTITY_PER_30S": "1000000",
        "WADDLEBOT_LOG_LEVEL": "INFO",
        **(settings or {}),
    }
    processes = ServiceProcesses(workdir / "processes", env)
    api = processes.start("api", "api")
    names = [f"router-{chr(ord('a') + n)}" for n in range(routers)]
    started = [processes.start("router", name, WADDLEBOT_ROUTER_CONSUMER=name) for name in names]
    ports = await build_ports(redis_url, prefix)
    dead_letters = DeadLetters(ports.bus, ports.cache)
    rig = Rig(
        processes=processes,
        api=api,
        routers=started,
        key=key,
        ports=ports,
        ledger=await Ledger(ports.bus, dead_letters).open(),
        dead_letters=dead_letters,
        database=DatabaseSwitch(database_url),
        prefix=prefix,
        redis=server,
    )
    try:
        await asyncio.gather(*(p.wait_healthy() for p in (api, *started)))
    except BaseException:
        await stop_rig(rig)
        raise
    return rig


async def stop_rig(rig: Rig) -> None:
    try:
        await rig.database.allow()  # a failed test must not leave it blocked
        await asyncio.to_thread(rig.processes.close)
        await rig.ports.close()
    finally:
        if rig.redis is not None:
            await asyncio.to_thread(rig.redis.stop)


@pytest.fixture
async def make_rig(
    migrated_postgres_url: str, redis_url: str, key_prefix: str, tmp_path: Path
) -> AsyncIterator[MakeRig]:
    """``await make_rig()`` starts a rig of the test's own on the shared Redis;
    ``make_rig(own_redis=True)`` on a ``redis-server`` of its own (append-only file on);
    ``settings={"WADDLEBOT_...": "..."}`` for every process."""
    started: list[Rig] = []

    async def make(**options: Any) -> Rig:
        rig = await start_rig(migrated_postgres_url, redis_url, key_prefix, tmp_path, **options)
        started.append(rig)
        return rig

    try:
        yield make
    finally:
        for rig in started:
            await stop_rig(rig)


@pytest.fixture(scope="module")
def module_database() -> Iterator[str]:
    """A migrated PostgreSQL database for one test module (the module's tests share a rig)."""
    for url in temporary_database("waddlebot_t"):
        upgrade(url)
        yield url


@pytest.fixture(scope="module")
def module_prefix(redis_url: str) -> Iterator[str]:
    yield from temporary_key_prefix(redis_url)


@pytest.fixture(scope="module")
def rig_settings() -> dict[str, str]:
    """Settings for every process of the module's shared rig (a module overrides this)."""
    return {}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared_rig(
    module_database: str,
    redis_url: str,
    module_prefix: str,
    rig_settings: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Rig]:
    """One rig for the tests of a module whose faults leave every process running; each test
    ends by showing the processes recovered, which is where the next one starts."""
    workdir = tmp_path_factory.mktemp("rig")
    rig = await start_rig(module_database, redis_url, module_prefix, workdir, settings=rig_settings)
    try:
        yield rig
    finally:
        await stop_rig(rig)
