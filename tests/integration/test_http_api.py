"""The router's HTTP API over real loopback HTTP, embedded and distributed."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import httpx2
import pytest
from pydantic import SecretStr

from tests.support.harness import chat_event, serving
from waddlebot.features.identity import apikeys
from waddlebot.infra import keys, metrics
from waddlebot.router.worker import RouterWorker
from waddlebot.runtime import Runtime
from waddlebot.settings import Settings


async def _key(runtime: Runtime) -> dict[str, str]:
    _, plaintext = await apikeys.create_key(runtime.db, "tests")
    return {"Authorization": f"Bearer {plaintext}"}


def _event_json(text: str, **kw: object) -> dict[str, object]:
    return chat_event(text, **kw).model_dump(mode="json")  # type: ignore[arg-type]


async def test_public_endpoints(settings: Settings) -> None:
    async with serving(settings) as (url, _), httpx2.AsyncClient(base_url=url) as http:
        assert (await http.get("/healthz")).json()["status"] == "ok"
        ready = await http.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["checks"] == {"database": True, "cache": True}
        assert (await http.get("/docs")).status_code == 200
        spec = (await http.get("/openapi.json")).json()
        assert "/api/v1/events" in spec["paths"] and "Event" in spec["components"]["schemas"]
        await http.post("/api/v1/events", json={})  # counted even when refused
        metrics = (await http.get("/metrics")).text
        assert "waddlebot_events_accepted_total" in metrics


async def test_readyz_reports_a_dead_database(settings: Settings) -> None:
    async with serving(settings) as (url, runtime), httpx2.AsyncClient(base_url=url) as http:

        async def down() -> None:
            raise ConnectionError("database is gone")

        runtime.db.check = down  # type: ignore[method-assign]
        ready = await http.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"] == {"database": False, "cache": True}
        assert ready.json()["failures"] == {"database": "ConnectionError: database is gone"}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wbk_nope"},
        {"X-API-Key": "garbage"},
        {"Authorization": "Basic x"},
    ],
)
async def test_api_needs_a_valid_key(settings: Settings, headers: dict[str, str]) -> None:
    async with serving(settings) as (url, _), httpx2.AsyncClient(base_url=url) as http:
        for method, path in (("GET", "/api/v1/commands"), ("POST", "/api/v1/events")):
            response = await http.request(method, path, headers=headers, json=_event_json("!ping"))
            assert response.status_code == 401, (method, path)
            assert "API key" in response.json()["detail"]


async def test_key_from_environment_and_x_api_key_header(settings: Settings) -> None:
    configured = settings.model_copy(update={"api_key": SecretStr("env-secret-key-1234567890")})
    async with serving(configured) as (url, runtime), httpx2.AsyncClient(base_url=url) as http:
        assert (
            await http.get("/api/v1/commands", headers={"X-API-Key": "env-secret-key-1234567890"})
        ).status_code == 200
        db_key = (await _key(runtime))["Authorization"].split()[1]
        assert (
            await http.get("/api/v1/commands", headers={"X-API-Key": db_key})
        ).status_code == 200


async def test_events_are_accepted_and_answered(settings: Settings) -> None:
    async with serving(settings) as (url, runtime), httpx2.AsyncClient(base_url=url) as http:
        auth = await _key(runtime)
        accepted = await http.post("/api/v1/events", headers=auth, json=_event_json("!ping"))
        assert accepted.status_code == 202
        assert accepted.json()["accepted"] == 1
        waited = await http.post(
            "/api/v1/events?wait=true",
            headers=auth,
            json=_event_json("!echo hi there", message_id="w1"),
        )
        assert waited.status_code == 200
        (result,) = waited.json()["results"]
        assert result["completed"] and not result["duplicate"]
        assert [r["text"] for r in result["replies"]] == ["hi there"]
        assert result["replies"][0]["reply_to"] == "w1"
        again = await http.post(
            "/api/v1/events?wait=true",
            headers=auth,
            json=_event_json("!echo hi there", message_id="w1"),
        )
        (repeat,) = again.json()["results"]
        assert repeat["duplicate"] and repeat["replies"] == []


async def test_a_batch_of_100_is_answered(settings: Settings) -> None:
    async with (
        serving(settings) as (url, runtime),
        httpx2.AsyncClient(base_url=url, timeout=30) as http,
    ):
        auth = await _key(runtime)
        batch = [_event_json(f"!echo n{i}", user_id=str(i)) for i in range(100)]
        response = await http.post("/api/v1/events?wait=true&timeout=20", headers=auth, json=batch)
        assert response.status_code == 200
        results = response.json()["results"]
        assert all(r["completed"] for r in results)
        assert sorted(r["replies"][0]["text"] for r in results) == sorted(
            f"n{i}" for i in range(100)
        )


async def test_malformed_events_get_422_and_change_nothing(settings: Settings) -> None:
    async with serving(settings) as (url, runtime), httpx2.AsyncClient(base_url=url) as http:
        auth = await _key(runtime)
        before = await runtime.ports.bus.length(keys.EVENTS_STREAM)
        good = _event_json("!ping")
        bad_platform = {**good, "entity_id": "discord:1"}
        no_author = {k: v for k, v in good.items() if k != "author"}
        cases = {
            "mixed batch": [good, bad_platform],
            "missing message id": {k: v for k, v in good.items() if k != "message_id"},
            "command without author": no_author,
            "unknown platform": {**good, "platform": "myspace", "entity_id": "myspace:1"},
            "too many": [good] * 101,
            "empty batch": [],
        }
        for name, body in cases.items():
            response = await http.post("/api/v1/events", headers=auth, json=body)
            assert response.status_code == 422, name
            assert response.json()["errors"][0]["msg"], name
        mixed = (await http.post("/api/v1/events", headers=auth, json=cases["mixed batch"])).json()
        assert mixed["errors"][0]["loc"][:2] == ["body", 1]
        assert "does not belong to platform" in mixed["errors"][0]["msg"]
        missing = (
            await http.post("/api/v1/events", headers=auth, json=cases["missing message id"])
        ).json()
        assert missing["errors"][0]["loc"] == ["body", "message_id"]
        too_many = (await http.post("/api/v1/events", headers=auth, json=cases["too many"])).json()
        assert "between 1 and 100" in too_many["errors"][0]["msg"]
        not_json = await http.post(
            "/api/v1/events", headers={**auth, "content-type": "application/json"}, content=b"{nope"
        )
        assert not_json.status_code == 422
        assert await runtime.ports.bus.length(keys.EVENTS_STREAM) == before


async def test_command_catalogue(settings: Settings) -> None:
    async with serving(settings) as (url, runtime), httpx2.AsyncClient(base_url=url) as http:
        answer = await http.get("/api/v1/commands", headers=await _key(runtime))
        commands = answer.json()["items"]
        by_name = {c["name"]: c for c in commands}
        assert by_name["ping"]["module"] == "core" and by_name["ping"]["invoke"] == "!ping"
        assert (
            by_name["modonly"]["level"] == 500 and by_name["modonly"]["level_name"] == "moderator"
        )
        assert by_name["cool"]["cooldown"] == 30
        assert by_name["help"]["usage"] == "!help [command | all]"
        assert by_name["addcom"]["level_name"] == "moderator"  # as the router enforces it


async def test_unencodable_oversized_and_nul_events_are_refused(settings: Settings) -> None:
    async with serving(settings) as (url, runtime), httpx2.AsyncClient(base_url=url) as http:
        auth = await _key(runtime)
        huge_number = {**_event_json("!ping"), "raw": {"n": 2**64}}
        response = await http.post("/api/v1/events", headers=auth, json=huge_number)
        assert response.status_code == 202  # read as a float, not "503, retry" forever
        before = await runtime.ports.bus.length(keys.EVENTS_STREAM)
        nul = _event_json("!ping")
        nul["author"]["user_id"] = "a\u0000b"  # type: ignore[index]
        response = await http.post("/api/v1/events", headers=auth, json=nul)
        assert response.status_code == 422
        assert "NUL" in response.json()["errors"][0]["msg"]
        big = {**_event_json("!ping"), "raw": {"blob": "x" * (5 * 1024 * 1024)}}
        response = await http.post("/api/v1/events", headers=auth, json=big)
        assert response.status_code == 413
        assert await runtime.ports.bus.length(keys.EVENTS_STREAM) == before


async def test_events_are_refused_while_the_router_is_behind_and_taken_once_it_caught_up(
    settings: Settings,
) -> None:
    """No router runs: events pile up until more than WADDLEBOT_BUS_MAXLEN wait, then every
    request is refused 503 (nothing taken); a router that comes back answers every one that
    was accepted, and new events are taken again."""
    limited = settings.model_copy(
        update={"bus_maxlen": 20, "rate_user_per_30s": 10_000, "rate_entity_per_30s": 10_000}
    )
    async with (
        serving(limited, {"api"}) as (url, runtime),
        httpx2.AsyncClient(base_url=url, timeout=20) as http,
    ):
        auth = await _key(runtime)
        refusals = metrics.EVENTS_REFUSED.labels("twitch")._value.get()
        accepted = 0
        while True:
            batch = [_event_json("!ping", user_id=f"u{accepted + i}") for i in range(5)]
            response = await http.post("/api/v1/events", headers=auth, json=batch)
            if response.status_code != 202:
                break
            accepted += 5
            assert accepted < 5000, "never refused"
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"] == "5"
        refusal = response.json()
        assert (refusal["code"], refusal["waiting"], refusal["detail"]) == (
            "backlogged",
            accepted,
            f"the router is behind: {accepted} events waiting; nothing was accepted, retry later",
        )
        assert accepted > 20
        assert metrics.EVENTS_REFUSED.labels("twitch")._value.get() == refusals + 5
        scraped = (await http.get("/metrics")).text
        assert f'waddlebot_bus_backlog{{stream="events"}} {float(accepted)}' in scraped
        assert await runtime.ports.bus.length(keys.EVENTS_STREAM) == accepted

        router = RouterWorker(
            bus=runtime.ports.bus,
            broadcast=runtime.ports.broadcast,
            router=runtime.router,
            consumer="back-again",
        )
        router.start()
        try:
            async with asyncio.timeout(30):
                while True:
                    response = await http.post(
                        "/api/v1/events?wait=true", headers=auth, json=_event_json("!ping")
                    )
                    if response.status_code != 503:
                        break
                    await asyncio.sleep(0.05)
            assert response.status_code == 200, response.text
            (result,) = response.json()["results"]
            assert result["completed"] and [r["text"] for r in result["replies"]] == ["pong"]
            replies = keys.replies_stream("twitch")
            await until_async(lambda: _answered(runtime, replies, accepted + 1))
        finally:
            await router.close()


async def _answered(runtime: Runtime, stream: str, count: int) -> bool:
    return await runtime.ports.bus.length(stream) >= count


async def until_async(condition: Callable[[], Awaitable[bool]], timeout: float = 30) -> None:
    async with asyncio.timeout(timeout):
        while not await condition():
            await asyncio.sleep(0.05)
