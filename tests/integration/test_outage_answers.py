"""An outage is answered 503 with ``Retry-After`` and a body that says what is away, by every
endpoint, and ``/readyz`` says which check failed and why; a bug is still a 500. Real
PostgreSQL (the test's own database made unreachable) and a ``redis-server`` of the test's own
(stopped), over real HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx2
import pytest
from pydantic import SecretStr
from sqlalchemy import exc as sa_errors

from tests.support.database_switch import DatabaseSwitch
from tests.support.harness import chat_event, make_settings, serving
from tests.support.redis_server import RedisServer
from waddlebot.features.identity import apikeys
from waddlebot.infra.db.migrate import upgrade
from waddlebot.runtime import Runtime
from waddlebot.settings import Settings

STATIC_KEY = "static-outage-key-0123456789"


def _event() -> dict[str, object]:
    return chat_event("!ping").model_dump(mode="json")


def assert_unavailable(response: httpx2.Response, what: str) -> None:
    assert response.status_code == 503, (response.status_code, response.text)
    assert response.headers["retry-after"] == "5"
    body = response.json()
    assert body["unavailable"] == what, body
    assert "unavailable" in body["detail"] and "retry" in body["detail"], body


@pytest.fixture
def database_url(fresh_postgres_url: str) -> str:
    upgrade(fresh_postgres_url)
    # trust authentication ignores the password: it is here to show it never comes out
    return fresh_postgres_url.replace("postgres@", "postgres:hunter2-secret@", 1)


@pytest.fixture
async def served(
    database_url: str, redis_url: str, key_prefix: str, tmp_path: Path
) -> AsyncIterator[tuple[httpx2.AsyncClient, Runtime, DatabaseSwitch]]:
    settings = make_settings(
        database_url=database_url,
        redis_url=redis_url,
        stream_prefix=key_prefix,
        data_dir=str(tmp_path),
        api_key=SecretStr(STATIC_KEY),
    )
    switch = DatabaseSwitch(database_url)
    try:
        async with (
            serving(settings, {"api"}) as (url, runtime),
            httpx2.AsyncClient(base_url=url, timeout=20) as http,
        ):
            yield http, runtime, switch
    finally:
        await switch.allow()


async def test_with_the_database_unreachable_endpoints_answer_503(
    served: tuple[httpx2.AsyncClient, Runtime, DatabaseSwitch],
) -> None:
    http, runtime, switch = served
    _, stored_key = await apikeys.create_key(runtime.db, "never checked yet")
    static = {"Authorization": f"Bearer {STATIC_KEY}"}
    assert (await http.get("/api/v1/labels/communities/1/labels", headers=static)).status_code in (
        200,
        404,
    )

    await switch.block()

    # a key the API has not checked (or whose 30 s in its cache ran out) cannot be checked
    stored = {"Authorization": f"Bearer {stored_key}"}
    assert_unavailable(await http.post("/api/v1/events", json=_event(), headers=stored), "database")
    assert_unavailable(await http.get("/api/v1/commands", headers=stored), "database")
    # an endpoint that reads the database, for a caller who needs no database to be known
    labels = await http.get("/api/v1/labels/communities/1/labels", headers=static)
    assert_unavailable(labels, "database")
    assert "hunter2" not in labels.text
    # events need no database once the caller is known: the bus takes them
    assert (await http.post("/api/v1/events", json=_event(), headers=static)).status_code == 202

    ready = await http.get("/readyz")
    assert ready.status_code == 503
    body = ready.json()
    assert body["checks"] == {"database": False, "cache": True}
    assert set(body["failures"]) == {"database"}
    assert body["failures"]["database"].startswith("DBAPIError: ")
    assert "not currently accepting connections" in body["failures"]["database"]
    assert "hunter2" not in ready.text

    await switch.allow()
    assert (await http.get("/readyz")).status_code == 200
    assert (await http.get("/api/v1/commands", headers=stored)).status_code == 200


async def test_with_redis_stopped_endpoints_answer_503(
    database_url: str, key_prefix: str, tmp_path: Path
) -> None:
    server = RedisServer(tmp_path / "redis")
    await asyncio.to_thread(server.start)
    settings = make_settings(
        database_url=database_url,
        redis_url=server.url,
        stream_prefix=key_prefix,
        data_dir=str(tmp_path),
        api_key=SecretStr(STATIC_KEY),
    )
    try:
        async with (
            serving(settings, {"api"}) as (url, _),
            httpx2.AsyncClient(base_url=url, timeout=30) as http,
        ):
            static = {"Authorization": f"Bearer {STATIC_KEY}"}
            assert (
                await http.post("/api/v1/events", json=_event(), headers=static)
            ).status_code == 202
            await asyncio.to_thread(server.stop)

            events = await http.post("/api/v1/events", json=_event(), headers=static)
            assert events.status_code == 503 and events.headers["retry-after"] == "5"
            assert events.json()["detail"].startswith("the event bus is unavailable")
            # a portal session lives in Redis
            session = {"Authorization": "Bearer wbs_some-session-token"}
            assert_unavailable(await http.get("/api/v1/identity/me", headers=session), "redis")
            ready = await http.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["checks"] == {"database": True, "cache": False}
            assert ready.json()["failures"]["cache"].startswith("ConnectionError: ")

            await asyncio.to_thread(server.start)
            assert (await http.get("/readyz")).status_code == 200
            assert (
                await http.post("/api/v1/events", json=_event(), headers=static)
            ).status_code == 202
    finally:
        await asyncio.to_thread(server.stop)


async def test_a_database_error_that_is_no_outage_stays_a_500(settings: Settings) -> None:
    """Only failures to reach the database are outages; a statement the database refuses is
    a bug, and must not hide behind a 503."""
    configured = settings.model_copy(update={"api_key": SecretStr(STATIC_KEY)})
    async with serving(configured) as (url, runtime), httpx2.AsyncClient(base_url=url) as http:

        def broken() -> list[object]:
            raise sa_errors.ProgrammingError("SELECT nope", {}, Exception("syntax error"))

        runtime.registry.routes = broken  # type: ignore[method-assign]
        response = await http.get("/api/v1/commands", headers={"X-API-Key": STATIC_KEY})
        assert response.status_code == 500
        assert "retry-after" not in response.headers
