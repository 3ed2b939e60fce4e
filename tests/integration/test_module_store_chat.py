"""``ctx.store`` and ``ctx.config`` from chat: a module loaded in-process, and the same module
served on its own over HTTP reaching the store through the bot's API with the grant each call
carries (embedded on SQLite and distributed on PostgreSQL and Redis); and the store endpoint's
refusals."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx2
import orjson
import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from tests.support.harness import TEST_MODULE, free_port, say, serving, serving_app
from waddlebot.core.contract import ModuleRequest
from waddlebot.features.modulestore.grants import GrantRefused, StoreGrants
from waddlebot.infra.secretbox import SecretBox
from waddlebot.runtime import Runtime
from waddlebot.sdk import Context, Module
from waddlebot.sdk.server import create_module_app
from waddlebot.sdk.store import Bucket, StoreFull
from waddlebot.settings import Settings

SECRET = "module-secret-for-store-tests"

module = Module(
    "counter",
    version="1.0.0",
    config_schema={
        "type": "object",
        "properties": {"unit": {"type": "string", "default": "points"}},
    },
)


@module.command("count")
async def count(ctx: Context) -> str:
    mine = await ctx.store.person.increment("count")
    everyone = await ctx.store.community.increment("total")
    return f"{ctx.caller_name}: {mine} {ctx.config['unit']}, {everyone} in all"


@module.command("topic")
async def topic(ctx: Context) -> str:
    if ctx.args:
        await ctx.store.channel.set("topic", " ".join(ctx.args))
    return f"Topic: {await ctx.store.channel.get('topic', 'none')}"


@module.command("hoard")
async def hoard(ctx: Context) -> str:
    try:
        await ctx.store.community.set("hoard", "x" * 60_000)
        await ctx.store.community.set("hoard2", "x" * 60_000)
    except StoreFull:
        return "full, as expected"
    return "kept it all"


async def conversation(runtime: Runtime) -> None:
    assert await say(runtime, "!count") == ["alice: 1 points, 1 in all"]
    assert await say(runtime, "!count") == ["alice: 2 points, 2 in all"]
    assert await say(runtime, "!count", user="bob") == ["bob: 1 points, 3 in all"]
    assert await say(runtime, "!topic") == ["Topic: none"]
    assert await say(runtime, "!topic speedruns all day") == ["Topic: speedruns all day"]
    assert await say(runtime, "!topic", user="bob") == ["Topic: speedruns all day"]
    assert await say(runtime, "!topic", channel="elsewhere") == ["Topic: none"]
    assert await say(runtime, "!hoard") == ["full, as expected"]


@pytest.fixture
def store_settings(settings: Settings) -> Settings:
    # a small quota, so that !hoard fills it; processes sharing a Redis share a secret key
    key = SecretStr(SecretBox.generate_key())
    return settings.model_copy(update={"module_store_total_bytes": 100_000, "secret_keys": [key]})


async def test_an_in_process_module_remembers(store_settings: Settings) -> None:
    configured = store_settings.model_copy(update={"modules": [TEST_MODULE, f"{__name__}:module"]})
    runtime = await Runtime.start(configured)
    try:
        await conversation(runtime)
    finally:
        await runtime.stop()


@pytest.fixture
async def served_remotely(store_settings: Settings) -> AsyncIterator[tuple[str, Runtime]]:
    async with serving_app(create_module_app(module, SECRET.encode())) as module_url:
        port = free_port()
        configured = store_settings.model_copy(
            update={
                "port": port,
                "remote_modules": [f"counter={module_url}"],
                "module_secret": SecretStr(SECRET),
            }
        )
        async with serving(configured, port=port) as (url, runtime):
            yield url, runtime


async def test_a_module_served_over_http_remembers_through_the_api(
    served_remotely: tuple[str, Runtime],
) -> None:
    _, runtime = served_remotely
    await conversation(runtime)
    # what it kept is in the bot's database, under its own name
    (community,) = {b.community_id for b in [await _console_bucket(runtime)]}
    store = runtime.module_store
    assert await store.keys(Bucket("counter", community, "community", ""), "") == [
        "hoard",
        "total",
    ]
    assert await store.keys(Bucket("testkit", community, "community", ""), "") == []


async def _console_bucket(runtime: Runtime) -> Bucket:
    """The community the console's place belongs to (``say`` made it)."""
    from sqlalchemy import select

    from waddlebot.features.modulestore.models import ModuleStoreEntry

    async with runtime.db.session() as session:
        community = await session.scalar(select(ModuleStoreEntry.community_id).limit(1))
    assert community is not None
    return Bucket("counter", community, "community", "")


def _request(community_id: int, *, caller: bool = True) -> ModuleRequest:
    fields: dict[str, object] = {}
    if caller:
        fields["caller"] = {"user_id": 5, "identity": {"platform": "console", "user_id": "u5"}}
    return ModuleRequest.model_validate(
        {
            "session_id": "s",
            "community_id": community_id,
            "entity_id": "console:local",
            "platform": "console",
            "command": "counter",
            **fields,
        }
    )


async def test_the_store_endpoint_refuses_what_the_grant_does_not_open(
    served_remotely: tuple[str, Runtime],
) -> None:
    url, runtime = served_remotely
    await say(runtime, "!count")  # the console's community exists from here on
    community = (await _console_bucket(runtime)).community_id
    grants = runtime.store_grants
    endpoint = f"{url}/api/v1/module-store"
    good = grants.grant("counter", _request(community)).token
    callerless = grants.grant("counter", _request(community, caller=False)).token

    async def post(op: str, token: str | None, body: object) -> httpx2.Response:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        async with httpx2.AsyncClient(timeout=10) as http:
            return await http.post(f"{endpoint}/{op}", json=body, headers=headers)

    where = {"scope": "person", "key": "count"}
    assert (await post("get", None, where)).status_code == 401
    assert (await post("get", "not-a-grant", where)).status_code == 401
    assert (await post("get", good[:-4] + "AAAA", where)).status_code == 401
    refused = await post("get", callerless, where)
    assert refused.status_code == 403
    assert "no caller" in refused.json()["detail"]
    assert (await post("get", good, {"scope": "everyone", "key": "k"})).status_code == 422
    assert (await post("set", good, {"scope": "person", "key": ""})).status_code == 422
    too_large = await post("set", good, {"scope": "person", "key": "k", "value": "x" * 70_000})
    assert (too_large.status_code, too_large.json()["code"]) == (422, "value_too_large")
    assert (await post("set", good, {"scope": "person", "key": "n", "value": "text"})).json() == {
        "written": True,
        "version": 1,
    }
    not_number = await post("increment", good, {"scope": "person", "key": "n"})
    assert (not_number.status_code, not_number.json()["code"]) == (409, "not_a_number")
    answer = await post("get", good, {"scope": "person", "key": "n"})
    assert answer.json() == {"found": True, "value": "text", "version": 1}
    # the person of the grant is user 5: alice's count is not theirs to see
    assert (await post("get", good, where)).json()["found"] is False
    assert (await post("keys", good, {"scope": "person"})).json() == {"keys": ["n"]}


def test_a_grant_stops_working_when_it_expires() -> None:
    key = SecretBox.generate_key()
    grants = StoreGrants(lambda: SecretBox([key]), "http://bot.example", seconds=60)
    grant = grants.grant("counter", _request(3))
    assert grant is not None
    assert grant.url == "http://bot.example/api/v1/module-store"
    opened = grants.open(grant.token)
    assert (opened.module, opened.community_id, opened.person) == ("counter", 3, "user:5")
    # the same grant, sealed two minutes ago (as SecretBox.seal seals)
    payload = {"p": "module-store", "d": {"m": "counter", "c": 3, "ch": "console:local", "p": None}}
    old = Fernet(key.encode()).encrypt_at_time(orjson.dumps(payload), int(time.time()) - 120)
    with pytest.raises(GrantRefused):
        grants.open(old.decode())
    other = StoreGrants(lambda: SecretBox([SecretBox.generate_key()]), "http://x", 60)
    with pytest.raises(GrantRefused):  # sealed by another bot's key
        other.open(grant.token)
