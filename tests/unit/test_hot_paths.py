"""The hot paths (web/hot_paths.py) answer like the routes they stand for: the same endpoint,
the app's own exception handlers for what it raises, and everything else left to FastAPI."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx2
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import REGISTRY
from starlette.exceptions import HTTPException

from waddlebot.app import create_app
from waddlebot.settings import Settings
from waddlebot.web import errors
from waddlebot.web.hot_paths import HotPathApp


class Outage(Exception):
    pass


async def webhook(request: Request) -> Response:
    body = await request.body()
    if body == b"outage":
        raise Outage("redis went away")
    if body == b"refuse":
        raise HTTPException(403, "not you")
    if body == b"bug":
        raise KeyError("a bug")
    return PlainTextResponse(f"took {len(body)} bytes")


def _app() -> FastAPI:
    app = HotPathApp()
    app.serve_hot({"/hook": webhook})
    app.post("/hook")(webhook)  # declared too, as the real ones are (OpenAPI)

    @app.get("/other")
    async def other() -> dict[str, str]:
        return {"served": "by fastapi"}

    @app.exception_handler(Outage)
    async def outage(_request: Request, exc: Exception) -> Response:
        return JSONResponse({"unavailable": str(exc)}, status_code=503)

    @app.exception_handler(403)
    async def forbidden(_request: Request, exc: Exception) -> Response:
        return JSONResponse({"refused": True}, status_code=403)

    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx2.AsyncClient]:
    # in-process ASGI (starlette's TestClient needs httpx, which WaddleBot does not install)
    transport = httpx2.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx2.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def test_a_hot_path_is_answered_by_its_endpoint(client: httpx2.AsyncClient) -> None:
    answer = await client.post("/hook", content=b"12345")
    assert (answer.status_code, answer.text) == (200, "took 5 bytes")


async def test_what_a_hot_endpoint_raises_goes_to_the_apps_handlers(
    client: httpx2.AsyncClient,
) -> None:
    outage = await client.post("/hook", content=b"outage")
    assert (outage.status_code, outage.json()) == (503, {"unavailable": "redis went away"})
    refused = await client.post("/hook", content=b"refuse")
    assert (refused.status_code, refused.json()) == (403, {"refused": True})


async def test_a_bug_in_a_hot_endpoint_is_a_500(client: httpx2.AsyncClient) -> None:
    assert (await client.post("/hook", content=b"bug")).status_code == 500


def _answered(status: str) -> float:
    labels = {"method": "POST", "route": "/hook", "status": status}
    return REGISTRY.get_sample_value("waddlebot_http_requests_total", labels) or 0.0


async def test_a_hot_answer_carries_a_request_id_and_is_counted_under_its_route(
    client: httpx2.AsyncClient,
) -> None:
    ok, refused = _answered("2xx"), _answered("4xx")
    kept = await client.post("/hook", content=b"1", headers={"X-Request-ID": "trace-me.1"})
    assert kept.headers["x-request-id"] == "trace-me.1"
    fresh = await client.post("/hook", content=b"1", headers={"X-Request-ID": "not sane!"})
    assert re.fullmatch("[0-9a-f]{32}", fresh.headers["x-request-id"])
    forbidden = await client.post("/hook", content=b"refuse")
    assert forbidden.status_code == 403 and forbidden.headers["x-request-id"]
    assert (_answered("2xx"), _answered("4xx")) == (ok + 2, refused + 1)


async def test_a_bug_gets_the_apps_500_answer_with_the_request_id() -> None:
    app = _app()
    errors.install(app)
    transport = httpx2.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx2.AsyncClient(transport=transport, base_url="http://test") as client:
        answer = await client.post("/hook", content=b"bug", headers={"X-Request-ID": "bug-1"})
    assert answer.status_code == 500
    assert answer.headers["x-request-id"] == "bug-1"
    assert answer.json()["request_id"] == "bug-1"


async def test_other_paths_and_methods_are_left_to_fastapi(client: httpx2.AsyncClient) -> None:
    assert (await client.get("/other")).json() == {"served": "by fastapi"}
    assert (
        await client.get("/hook")
    ).status_code == 405  # FastAPI's answer: the route is POST only
    # not the exact path: FastAPI redirects to it
    assert (await client.post("/hook/", follow_redirects=False)).status_code == 307


def test_the_webhooks_and_events_endpoint_are_hot_and_in_the_openapi_document() -> None:
    app = create_app(Settings(_env_file=None))  # type: ignore[call-arg]
    assert isinstance(app, HotPathApp)
    hot = app.hot_paths
    assert set(hot) == {
        "/api/v1/events",
        "/collectors/twitch/eventsub",
        "/collectors/slack/events",
        "/collectors/slack/commands",
        "/collectors/discord/interactions",
    }
    documented = app.openapi()["paths"]
    assert all("post" in documented[path] for path in hot)
