"""The Kong broker against fake Kong nodes (tests/fakes/kong_admin.py): a key created reaches
Kong's key-auth at the next run of the job, a revoked or expired one leaves it; a node down
does not keep the others from their configuration and is reported; a busy node is asked
again after its Retry-After; a configuration Kong refuses is reported in Kong's words; and
``waddlebot kong sync`` names the keys made before the broker was on."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx2
import orjson
import pytest
from sqlalchemy import update

from tests.fakes.kong_admin import FakeKongAdmin
from tests.support.cli import invoke
from tests.support.harness import make_settings
from waddlebot.app import exposed_route_tables
from waddlebot.core.services import Key
from waddlebot.features.identity import apikeys
from waddlebot.features.identity.models import ApiKey
from waddlebot.features.kong.admin import KongAdmin
from waddlebot.features.kong.broker import KongBroker
from waddlebot.features.kong.declarative import RouteTables, declarative_config
from waddlebot.features.kong.feature import FEATURE, KONG_BROKER
from waddlebot.features.shared import ROUTE_TABLES
from waddlebot.infra.db import Database
from waddlebot.infra.db.migrate import upgrade
from waddlebot.infra.db.models import utcnow
from waddlebot.infra.secretbox import SecretBox
from waddlebot.runtime import Runtime

T = TypeVar("T")
SECRET = SecretBox.generate_key()
DOWN = "http://127.0.0.1:9"  # nothing listens on the discard port here


def tables() -> RouteTables:
    return exposed_route_tables()


def routes() -> dict[str, Any]:
    return declarative_config(tables())


@dataclass
class Services:
    """What the job finds on its host: the broker and the route tables."""

    provided: dict[Key[Any], Any] = field(default_factory=dict)

    def need(self, key: Key[T]) -> T:
        value: T = self.provided[key]
        return value

    def find(self, key: Key[T]) -> T | None:
        value: T | None = self.provided.get(key)
        return value


@dataclass
class Kong:
    db: Database
    box: SecretBox
    node: FakeKongAdmin
    http: httpx2.AsyncClient
    waits: list[float]

    def broker(self, *nodes: str, config: Any = routes) -> KongBroker:
        admin = KongAdmin(self.http, sleep=self._wait)
        return KongBroker(self.db, self.box, admin, nodes or (self.node.url,), config)

    async def _wait(self, seconds: float) -> None:
        self.waits.append(seconds)

    async def run_job(self) -> None:
        """One run of the feature's job, as the scheduler runs it."""
        host = Services({KONG_BROKER: self.broker(), ROUTE_TABLES: tables})
        [job] = FEATURE.jobs
        await job.run(host)

    async def create(self, name: str, *, sealed: bool = True) -> tuple[str, str]:
        info, key = await apikeys.create_key(
            self.db, name, sealer=self.box if sealed else None, actor="test"
        )
        return info.key_id, key


@pytest.fixture
def db_file(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path}/waddlebot.db"
    upgrade(url)
    return url


@pytest.fixture
async def kong(db_file: str) -> AsyncIterator[Kong]:
    db = Database(db_file)
    async with FakeKongAdmin() as node, httpx2.AsyncClient(timeout=5) as http:
        try:
            yield Kong(db, SecretBox([SECRET]), node, http, [])
        finally:
            await db.close()


async def test_a_created_key_is_let_through_after_one_run_and_a_revoked_one_no_more(
    kong: Kong,
) -> None:
    key_id, key = await kong.create("overlay bot")
    assert not kong.node.accepts(key)
    await kong.run_job()
    assert kong.node.accepts(key)
    assert kong.node.consumers() == [f"waddlebot-{key_id}"]

    assert await apikeys.revoke_key(kong.db, key_id)
    await kong.run_job()
    assert not kong.node.accepts(key)
    assert kong.node.consumers() == []


async def test_a_running_waddlebot_seals_a_persons_new_key_and_its_job_gives_it_to_kong(
    tmp_path: Path,
) -> None:
    async with FakeKongAdmin() as node:
        settings = make_settings(
            database_url=f"sqlite+aiosqlite:///{tmp_path}/waddlebot.db",
            data_dir=str(tmp_path),
            secret_keys=[SECRET],
            kong_admin_urls=[node.url],
        )
        runtime = await Runtime.start(settings, {"api"})
        try:
            runtime.provide(ROUTE_TABLES, tables)  # as the app does
            user_id = await runtime.directory.ensure_identity("console", "alice", login="alice")
            _, key = await runtime.identity.create_key(user_id, "my script")
            assert await runtime.scheduler.tick()
        finally:
            await runtime.stop()
    assert node.accepts(key)


async def test_an_unchanged_configuration_is_unchanged_for_kong(kong: Kong) -> None:
    await kong.create("bot")
    broker = kong.broker()
    first = await broker.sync()
    again = await broker.sync()
    assert [n.outcome for n in first.nodes] == ["loaded"]
    assert [n.outcome for n in again.nodes] == ["unchanged"]  # Kong's 304 on the same hash


async def test_an_expired_key_is_dropped(kong: Kong) -> None:
    expired_id, expired = await kong.create("old")
    _, fresh = await kong.create("new")
    async with kong.db.session() as session:
        await session.execute(
            update(ApiKey)
            .where(ApiKey.key_id == expired_id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    report = await kong.broker().sync()
    assert report.credentials == 1
    assert kong.node.accepts(fresh)
    assert not kong.node.accepts(expired)


async def test_a_node_down_is_reported_and_the_other_synced(kong: Kong) -> None:
    _, key = await kong.create("bot")
    report = await kong.broker(DOWN, kong.node.url).sync()
    assert not report.ok
    assert [(n.node, n.outcome) for n in report.nodes] == [
        (DOWN, "unreachable"),
        (kong.node.url, "loaded"),
    ]
    assert kong.node.accepts(key)


async def test_a_busy_node_is_asked_again_after_its_retry_after(kong: Kong) -> None:
    _, key = await kong.create("bot")
    kong.node.busy(2, retry_after=3)
    report = await kong.broker().sync()
    assert [n.outcome for n in report.nodes] == ["loaded"]
    assert kong.waits == [3, 3]
    assert kong.node.accepts(key)


async def test_a_node_busy_every_time_is_reported(kong: Kong) -> None:
    kong.node.busy(5, retry_after=60)
    [node] = (await kong.broker().sync()).nodes
    assert (node.outcome, node.detail) == ("busy", "429 Currently loading previous configuration")
    assert kong.waits == [10, 10]  # a long Retry-After is cut short


async def test_a_configuration_kong_refuses_is_reported_in_its_words(kong: Kong) -> None:
    def bad_routes() -> Mapping[str, Any]:
        return {"_format_version": "3.0", "services": [{"name": "api", "url": "not a url"}]}

    _, key = await kong.create("bot")
    [node] = (await kong.broker(config=bad_routes).sync()).nodes
    assert node.outcome == "rejected"
    assert node.detail == (
        '400 declarative config is invalid: {"services": {"1": {"url": "missing host in url"}}}'
    )
    assert not kong.node.accepts(key)


async def test_a_credential_of_no_consumer_and_a_key_twice_are_refused_keys_masked(
    kong: Kong,
) -> None:
    config = {
        "_format_version": "3.0",
        "consumers": [{"username": "waddlebot-a"}],
        "keyauth_credentials": [
            {"consumer": "waddlebot-a", "key": "wbk_secret"},
            {"consumer": "waddlebot-b", "key": "wbk_secret"},
        ],
    }
    result = await KongAdmin(kong.http).push(kong.node.url, config)
    assert result.outcome == "rejected"
    # Kong quotes the key: it is masked, as the detail is logged
    assert "entity with key set to '<key>' already declared" in result.detail
    assert "wbk_secret" not in result.detail
    assert "could not find consumer with username or id 'waddlebot-b'" in result.detail


async def test_kong_sync_reports_each_node_and_the_keys_made_before_the_broker(
    kong: Kong, db_file: str
) -> None:
    old_id, old = await kong.create("made before", sealed=False)
    env = {
        "WADDLEBOT_DATABASE_URL": db_file,
        "WADDLEBOT_SECRET_KEYS": SECRET,
        "WADDLEBOT_KONG_ADMIN_URLS": f"{kong.node.url},{DOWN}",
    }
    # a key made by the CLI while the broker is on is sealed
    made = await asyncio.to_thread(invoke, ["apikey", "create", "ci"], env=env)
    assert made.exit_code == 0, made.stderr
    new = made.stdout.strip()

    result = await asyncio.to_thread(invoke, ["kong", "sync"], env=env)
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [f"{kong.node.url}: loaded", "1 API keys in Kong"]
    *logged, down, unsealed = result.stderr.splitlines()
    assert [orjson.loads(line)["event"] for line in logged] == ["kong node not synced"]
    assert down.startswith(f"{DOWN}: unreachable (ConnectError")
    assert unsealed == (
        f"key {old_id} (made before) is not in Kong: made before the broker; "
        "create a new key for its user and revoke this one"
    )
    assert kong.node.accepts(new)
    assert not kong.node.accepts(old)

    again = await asyncio.to_thread(
        invoke, ["kong", "sync", "--json"], env={**env, "WADDLEBOT_KONG_ADMIN_URLS": kong.node.url}
    )
    assert again.exit_code == 0, again.stderr
    assert orjson.loads(again.stdout) == {
        "nodes": [{"node": kong.node.url, "outcome": "unchanged", "detail": ""}],
        "credentials": 1,
        "unsealed": [{"key_id": old_id, "name": "made before", "reason": "made before the broker"}],
    }


def test_kong_sync_without_nodes_is_a_usage_error() -> None:
    result = invoke(["kong", "sync"], env={"WADDLEBOT_KONG_ADMIN_URLS": ""})
    assert result.exit_code == 2
    assert "WADDLEBOT_KONG_ADMIN_URLS is not set" in result.stderr
