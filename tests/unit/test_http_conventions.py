"""What every HTTP answer shares, on a small app with the same handlers and middleware as
WaddleBot's (``web/errors.py``, ``web/request_ids.py``, ``web/request_metrics.py``): errors
are problems, every answer carries ``X-Request-ID``, log lines carry it and their logger's
name, and requests are counted by route template.

The OpenAPI document of the real app is checked too: how keys are sent, which operations take
one, that every error is documented as a problem and that every list is a page."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Annotated, Any

import httpx2
import pytest
import structlog
from fastapi import FastAPI, Query
from prometheus_client import REGISTRY
from pydantic import BaseModel, ConfigDict

from waddlebot.app import create_app
from waddlebot.core.errors import NotFound
from waddlebot.infra.logging import configure_logging
from waddlebot.settings import Settings
from waddlebot.web import errors
from waddlebot.web.problems import problem_response
from waddlebot.web.request_ids import RequestIds
from waddlebot.web.request_metrics import RequestMetrics

log = structlog.get_logger("waddlebot.test")


def _app() -> FastAPI:
    app = FastAPI()
    errors.install(app)
    app.add_middleware(RequestMetrics)
    app.add_middleware(RequestIds)

    @app.get("/things/{number}")
    async def thing(number: int, size: Annotated[int, Query(le=10)] = 1) -> dict[str, int]:
        log.info("looking", number=number)
        if number == 7:
            raise NotFound("there is no thing #7 here")
        if number == 13:
            raise RuntimeError("secret internals")
        return {"number": number, "size": size}

    @app.post("/things")
    async def add(thing: Thing) -> Thing:
        return thing

    return app


class Thing(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str


@pytest.fixture
async def http() -> AsyncIterator[httpx2.AsyncClient]:
    # raise_app_exceptions off: a bug is answered 500, as a server answers it
    transport = httpx2.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx2.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


@pytest.fixture
def restore_logging() -> Iterator[None]:
    yield
    structlog.reset_defaults()


def _problem(answer: httpx2.Response, status: int, code: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = answer.json()
    assert (body["status"], body["code"], body["type"]) == (
        status,
        code,
        f"urn:waddlebot:problem:{code}",
    )
    assert body["request_id"] == answer.headers["x-request-id"]
    assert body["title"] and body["detail"]
    return body


async def test_every_error_is_a_problem_saying_what_to_fix(http: httpx2.AsyncClient) -> None:
    refused = _problem(await http.get("/things/7"), 404, "not_found")
    assert (refused["detail"], refused["instance"]) == ("there is no thing #7 here", "/things/7")
    nowhere = _problem(await http.get("/nowhere"), 404, "not_found")
    assert "nothing is served at /nowhere" in nowhere["detail"]
    wrong_method = _problem(await http.delete("/things/1"), 405, "method_not_allowed")
    assert wrong_method["detail"] == "DELETE is not taken at /things/1; use GET"
    invalid = _problem(await http.get("/things/x?size=11"), 422, "validation_failed")
    assert [e["loc"] for e in invalid["errors"]] == [["path", "number"], ["query", "size"]]
    assert invalid["detail"].startswith("path.number: ") and "(and 1 more" in invalid["detail"]
    bug = _problem(await http.get("/things/13"), 500, "internal_error")
    assert "secret" not in bug["detail"]  # what failed inside is for the log, not the caller


async def test_a_field_json_can_carry_but_utf_8_cannot_is_refused_not_a_500(
    http: httpx2.AsyncClient,
) -> None:
    body = b'{"name": "x", "\\udc89": 1}'  # a lone surrogate, escaped as JSON allows
    refused = await http.post("/things", content=body, headers={"content-type": "application/json"})
    problem = _problem(refused, 422, "validation_failed")
    assert problem["errors"][0]["loc"][0] == "body"
    assert "input" not in problem["errors"][0]  # what was sent is not echoed
    named = problem_response(422, "bad", errors=[{"loc": ["body", "\udc89"], "msg": "extra"}])
    assert json.loads(bytes(named.body))["errors"][0]["loc"] == ["body", "\udc89"]


async def test_a_request_keeps_a_sane_id_and_gets_one_otherwise(http: httpx2.AsyncClient) -> None:
    kept = await http.get("/things/1", headers={"X-Request-ID": "edge-42.a:b"})
    assert kept.headers["x-request-id"] == "edge-42.a:b"
    for unfit in ("", "a b", "x" * 129, "line\nbreak"):
        given = await http.get("/things/1", headers={"X-Request-ID": unfit})
        assert len(given.headers["x-request-id"]) == 32, unfit  # a new one, not theirs
    one, other = await http.get("/things/1"), await http.get("/things/1")
    assert one.headers["x-request-id"] != other.headers["x-request-id"]


async def test_log_lines_carry_the_request_id_and_their_logger(
    http: httpx2.AsyncClient, restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("INFO", json=True)  # in the test: to the stderr capsys put in place
    await http.get("/things/2", headers={"X-Request-ID": "trace-me"})
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    (looking,) = [line for line in lines if line["event"] == "looking"]
    assert (looking["request_id"], looking["logger"]) == ("trace-me", "waddlebot.test")
    log.info("after")
    (after,) = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert "request_id" not in after  # unbound once the request is answered


def _count(route: str, status: str, method: str = "GET") -> float:
    labels = {"method": method, "route": route, "status": status}
    return REGISTRY.get_sample_value("waddlebot_http_requests_total", labels) or 0.0


async def test_requests_are_counted_by_route_template(http: httpx2.AsyncClient) -> None:
    before = {
        "ok": _count("/things/{number}", "2xx"),
        "refused": _count("/things/{number}", "4xx"),
        "bug": _count("/things/{number}", "5xx"),
        "unmatched": _count("unmatched", "4xx"),
    }
    for number in (1, 2, 3):
        await http.get(f"/things/{number}")
    await http.get("/things/7")
    await http.get("/things/13")
    await http.get("/nowhere/at/all")
    assert {
        "ok": _count("/things/{number}", "2xx") - before["ok"],
        "refused": _count("/things/{number}", "4xx") - before["refused"],
        "bug": _count("/things/{number}", "5xx") - before["bug"],
        "unmatched": _count("unmatched", "4xx") - before["unmatched"],
    } == {"ok": 3, "refused": 1, "bug": 1, "unmatched": 1}
    assert _count("/things/1", "2xx") == 0  # never the path asked for
    timed = REGISTRY.get_sample_value(
        "waddlebot_http_request_seconds_count",
        {"method": "GET", "route": "/things/{number}", "status": "2xx"},
    )
    assert timed is not None and timed >= 3


# ----- the real app's OpenAPI document ---------------------------------------------------------


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    where: Path = tmp_path_factory.mktemp("openapi")
    settings = Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{where}/x.db")
    return create_app(settings).openapi()


PUBLIC = {
    "/healthz",
    "/readyz",
    "/api/v1/identity/login",
    "/api/v1/identity/logout",
    "/api/v1/calendar/{community}/feed.ics",
    # the browser on its way to Spotify and back: the sealed ticket and state are the proof
    "/api/v1/music/spotify/oauth/start",
    "/api/v1/music/spotify/oauth/callback",
}


STORE_GRANT = "/api/v1/module-store/"


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            yield path, method, operation


def test_keys_are_declared_where_they_are_taken(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schemes["bearer"]["description"],
    }
    assert (schemes["apiKey"]["in"], schemes["apiKey"]["name"]) == ("header", "X-API-Key")
    assert (schemes["session"]["in"], schemes["session"]["name"]) == (
        "cookie",
        "waddlebot_session",
    )
    for path, method, operation in _operations(document):
        keyed = path.startswith("/api/v1/") and path not in PUBLIC
        expected = [{"bearer": []}, {"apiKey": []}, {"session": []}] if keyed else None
        if path.startswith(STORE_GRANT):
            expected = [{"storeGrant": []}]  # the grant of a module call, no API key
        assert operation.get("security") == expected, (method, path)


def test_every_error_is_documented_as_a_problem(document: dict[str, Any]) -> None:
    problem = {"$ref": "#/components/schemas/Problem"}
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for path, method, operation in _operations(document):
        errors_ = {s: r for s, r in operation["responses"].items() if s[0] in "45"}
        assert {"4XX", "5XX"} <= set(errors_), (method, path)
        for status, response in errors_.items():
            schema = response["content"]["application/problem+json"]["schema"]
            assert schema == problem, (method, path, status)
        if operation.get("security"):
            assert {"401", "403"} <= set(errors_), (method, path)


def test_every_list_is_a_page(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    lists = 0
    for path, method, operation in _operations(document):
        for status, response in operation["responses"].items():
            for content in response.get("content", {}).values():
                schema = content.get("schema", {})
                assert schema.get("type") != "array", (method, path, status)
                ref = schema.get("$ref", "").rsplit("/", 1)[-1]
                if ref and {"items", "next"} <= set(schemas[ref].get("properties", {})):
                    names = {p["name"] for p in operation["parameters"]}
                    assert {"limit", "cursor"} <= names, (method, path)
                    lists += 1
    assert lists >= 13, "the walk over the lists is broken"
