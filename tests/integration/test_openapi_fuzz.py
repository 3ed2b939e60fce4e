"""Schemathesis over the app's whole OpenAPI document: every operation, with generated valid
and invalid input, as a global service account and as a person with the admin role in a
community, never answers 5xx, and answers only what the document says: a documented status,
with a documented content type and a body that fits its schema (every error a problem,
``application/problem+json``).

The app runs over real loopback HTTP (``waddlebot up``'s app and server configuration, in a
thread), embedded (SQLite, in-process ports) and distributed (PostgreSQL, Redis), one server per
mode for all operations. Generation is derandomized with a fixed seed and bounded per
operation, so a run is repeatable: about 45 s per mode on a 2-core machine. The document is
loaded when the module is collected (from the app, built but not started): schemathesis' lazy
``from_fixture`` schemas do not work with pytest 9.2.

Nothing is excluded. Two inputs are steered, not removed:

- half of the generated cases use the community the two callers have roles in (drawn by
  Hypothesis), so the endpoints get past their role check and reach the services; the other
  half keep the generated community id (unknown communities, bounds);
- ``POST /api/v1/events?wait=true`` waits at most one second for the router (``timeout``
  below 1 s is kept), so an event the router takes its time over costs a second, not thirty.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import hypothesis.strategies as st
import pytest
import requests
import schemathesis
from pydantic import SecretStr
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.harness import make_settings
from tests.support.threaded import ServedApp, served_in_thread
from waddlebot.app import create_app
from waddlebot.features.identity import apikeys
from waddlebot.infra.secretbox import SecretBox
from waddlebot.runtime import Runtime
from waddlebot.settings import Settings

SEED = 20_240_601
MAX_EXAMPLES = 25
WAIT_AT_MOST = 1.0  # seconds, for POST /api/v1/events?wait=true


@dataclass(frozen=True)
class World:
    app: ServedApp
    community: int
    callers: dict[str, dict[str, str]]  # who -> Authorization header


async def _callers(runtime: Runtime) -> tuple[int, dict[str, dict[str, str]]]:
    """A community with a place, a person with the admin role there, and both keys."""
    community = (await runtime.directory.resolve_entity("twitch:4242", "twitch")).community_id
    person = await runtime.directory.ensure_identity("twitch", "id-pat", login="pat")
    await runtime.directory.set_role(community, person, "admin")
    _, service_key = await apikeys.create_key(runtime.db, "schemathesis")
    _, person_key = await apikeys.create_key(runtime.db, "pat", kind="user", user_id=person)
    return community, {
        "service": {"Authorization": f"Bearer {service_key}"},
        "person": {"Authorization": f"Bearer {person_key}"},
    }


def _populate(url: str, community: int, headers: dict[str, str]) -> None:
    """One of each thing the paths name (number 1 of each, the lowest id schemathesis tries
    first), so generated requests reach them, not only a 404."""
    next_year = f"{datetime.now(UTC).year + 1}-06-01T20:00:00Z"
    made = [
        ("memories", "quotes", {"text": "hello there", "said_by": "pat"}),
        ("memories", "urls", {"url": "https://example.org/", "title": "example"}),
        ("memories", "notes", {"text": "a note", "labels": ["todo"]}),
        ("memories", "reminders", {"place": "twitch:4242", "text": "hi", "when": "in 10m"}),
        ("inventory", "items", {"name": "camera", "labels": ["video"]}),
        ("calendar", "events", {"title": "stream", "starts_at": next_year}),
        ("labels", "labels", {"name": "helper"}),
        ("calendar", "feed", None),
    ]
    with requests.Session() as session:
        for api, what, body in made:
            answer = session.post(
                f"{url}/api/v1/{api}/communities/{community}/{what}", json=body, headers=headers
            )
            assert answer.status_code == 201, (what, answer.text)


CONFIG = schemathesis.Config.from_dict(
    {
        "seed": SEED,
        "generation": {
            "max-examples": MAX_EXAMPLES,
            "deterministic": True,
            "database": "none",
            "mode": "all",
        },
    }
)


def _document() -> dict[str, Any]:
    """The OpenAPI document of ``waddlebot up``'s app (built, not started: the operations
    are known when the tests are collected)."""
    settings = Settings(_env_file=None, database_url="sqlite+aiosqlite:///unused.db")
    return create_app(settings).openapi()


schema = schemathesis.openapi.from_dict(_document(), config=CONFIG)


@pytest.fixture(scope="module", params=["embedded", "distributed"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """One running WaddleBot for all the operations of a mode."""
    data_dir = tmp_path_factory.mktemp(request.param)
    if request.param == "embedded":
        settings = make_settings(
            database_url=f"sqlite+aiosqlite:///{data_dir}/waddlebot.db", data_dir=str(data_dir)
        )
    else:
        settings = make_settings(
            database_url=request.getfixturevalue("module_postgres_url"),
            redis_url=request.getfixturevalue("redis_url"),
            stream_prefix=request.getfixturevalue("module_key_prefix"),
            auto_migrate=True,
            data_dir=str(data_dir),
            # as a distributed deployment must have (without it, sealing anything is a 503
            # naming the setting: test_music_spotify.py)
            secret_keys=[SecretStr(SecretBox.generate_key())],
        )
    with served_in_thread(settings) as app:
        community, callers = app.run(_callers(app.runtime))
        _populate(app.url, community, callers["service"])
        yield World(app, community, callers)


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@schema.given(data=st.data())
@schema.parametrize()
def test_no_operation_answers_5xx_or_anything_undocumented(
    case: schemathesis.Case, data: st.DataObject, world: World, http: requests.Session
) -> None:
    if "community_id" in (case.path_parameters or {}) and data.draw(st.booleans()):
        case.path_parameters = {**(case.path_parameters or {}), "community_id": world.community}
    query = case.query if isinstance(case.query, dict) else None
    if query and "timeout" in query:
        try:
            query["timeout"] = min(float(query["timeout"]), WAIT_AT_MOST)
        except (TypeError, ValueError):
            pass  # not a number: the API says so with a 422
    for headers in world.callers.values():
        response = case.call(base_url=world.app.url, session=http, headers=headers, timeout=30)
        case.validate_response(response, checks=CHECKS, headers=headers)
