"""Ids and numbers out of range, and communities that do not exist, over real HTTP, embedded
(SQLite) and distributed (PostgreSQL, Redis): each was a 500 schemathesis found (an integer
past 2**31 overflowed asyncpg, past 2**63 SQLite; a global service account writing to a
community that does not exist hit a missing row)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx2
import pytest

from tests.support.harness import serving
from waddlebot.features.calendar import events as calendar
from waddlebot.features.identity import apikeys
from waddlebot.features.inventory import service as inventory
from waddlebot.runtime import Runtime
from waddlebot.settings import Settings
from waddlebot.web.pages import offset_cursor

HUGE = (2**31, 2**63, 2**64 + 7)  # past PostgreSQL integer, past SQLite, past any int64
NOT_IDS = (0, -1)


@dataclass
class Site:
    http: httpx2.AsyncClient
    runtime: Runtime
    community: int
    service: dict[str, str]
    admin: dict[str, str]  # a person with the admin role in ``community``


@pytest.fixture
async def site(settings: Settings) -> AsyncIterator[Site]:
    async with serving(settings) as (url, runtime), httpx2.AsyncClient(base_url=url) as http:
        community = (await runtime.directory.resolve_entity("twitch:77", "twitch")).community_id
        person = await runtime.directory.ensure_identity("twitch", "id-ada", login="ada")
        await runtime.directory.set_role(community, person, "admin")
        _, service = await apikeys.create_key(runtime.db, "service")
        _, admin = await apikeys.create_key(runtime.db, "ada", kind="user", user_id=person)
        yield Site(
            http,
            runtime,
            community,
            {"Authorization": f"Bearer {service}"},
            {"Authorization": f"Bearer {admin}"},
        )


def _where(c: int) -> list[tuple[str, str, str, Any]]:
    """(parameter, method, path with ``{n}`` for the value, JSON body) in community ``c``."""
    memories = f"/api/v1/memories/communities/{c}"
    return [
        ("community_id", "GET", "/api/v1/memories/communities/{n}/quotes", None),
        ("community_id", "POST", "/api/v1/inventory/communities/{n}/items", {"name": "x"}),
        ("community_id", "GET", "/api/v1/labels/communities/{n}/labels", None),
        ("community_id", "GET", "/api/v1/identity/communities/{n}/roles", None),
        ("number", "GET", memories + "/quotes/{n}", None),
        ("number", "DELETE", memories + "/reminders/{n}", None),
        ("event_id", "GET", f"/api/v1/calendar/communities/{c}/events/{{n}}", None),
        ("event_id", "POST", f"/api/v1/calendar/communities/{c}/events/{{n}}/cancel", None),
        ("user_id", "PUT", f"/api/v1/identity/communities/{c}/roles/{{n}}", {"role": "admin"}),
        ("community", "GET", "/api/v1/calendar/{n}/feed.ics?token=t", None),
        ("user_id", "POST", f"/api/v1/inventory/communities/{c}/items/x/checkout", "user_id"),
        ("per_user", "PATCH", f"/api/v1/labels/communities/{c}/limits", "per_user"),
        ("grants_level", "POST", f"/api/v1/labels/communities/{c}/labels", "grants_level"),
    ]


async def test_a_number_out_of_range_is_a_422_naming_it(site: Site) -> None:
    for parameter, method, path, body in _where(site.community):
        for value in (*HUGE, *NOT_IDS):
            if parameter in ("grants_level", "per_user") and value == 0:
                continue  # 0 is a fine offset, level or limit
            if isinstance(body, str):  # the value goes in the body, under that name
                payload: Any = {body: value} | ({"name": "n"} if body == "grants_level" else {})
            else:
                payload = body
            response = await site.http.request(
                method, path.format(n=value), json=payload, headers=site.service
            )
            assert response.status_code == 422, (method, path, value, response.text)
            (error,) = response.json()["errors"]
            assert error["loc"][-1] == parameter, (method, path, value, error)
            assert "2147483647" in error["msg"] or "greater than" in error["msg"], error


async def test_the_largest_id_is_simply_not_found(site: Site) -> None:
    largest = 2**31 - 1
    base = f"/api/v1/memories/communities/{site.community}"
    quote = await site.http.get(f"{base}/quotes/{largest}", headers=site.admin)
    assert quote.status_code == 404 and "quote" in quote.json()["detail"], quote.text
    event = await site.http.get(
        f"/api/v1/calendar/communities/{site.community}/events/{largest}", headers=site.admin
    )
    assert event.status_code == 404, event.text
    far = {"cursor": offset_cursor(largest)}
    empty = await site.http.get(f"{base}/notes", params=far, headers=site.admin)
    assert empty.status_code == 200 and empty.json() == {"items": [], "next": None}


NEXT_YEAR = f"{datetime.now(UTC).year + 1}-06-01T20:00:00Z"
WRITES_TO_A_COMMUNITY: list[tuple[str, str, Any]] = [
    ("POST", "/api/v1/calendar/communities/{c}/feed", None),
    ("DELETE", "/api/v1/calendar/communities/{c}/feed", None),
    ("POST", "/api/v1/calendar/communities/{c}/events", {"title": "t", "starts_at": NEXT_YEAR}),
    ("POST", "/api/v1/inventory/communities/{c}/items", {"name": "camera"}),
    ("POST", "/api/v1/memories/communities/{c}/quotes", {"text": "hi"}),
    ("POST", "/api/v1/labels/communities/{c}/labels", {"name": "vip"}),
    ("PATCH", "/api/v1/labels/communities/{c}/limits", {"per_user": 3}),
    ("PUT", "/api/v1/identity/communities/{c}/roles/1", {"role": "moderator"}),
    ("POST", "/api/v1/commands/communities/{c}/import?source=nightbot", {"payload": []}),
    ("GET", "/api/v1/inventory/communities/{c}/items", None),
    ("GET", "/api/v1/calendar/communities/{c}/events", None),
]


async def test_a_community_that_does_not_exist_is_a_404_for_a_service_account(
    site: Site,
) -> None:
    missing = site.community + 1000
    for method, path, body in WRITES_TO_A_COMMUNITY:
        response = await site.http.request(
            method, path.format(c=missing), json=body, headers=site.service
        )
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["detail"] == f"there is no community {missing}"
        # a person with no role there learns nothing: the same 403 as for any community
        refused = await site.http.request(
            method, path.format(c=missing), json=body, headers=site.admin
        )
        assert refused.status_code == 403, (method, path, refused.text)


async def test_a_person_gone_since_they_were_named_is_not_found(site: Site) -> None:
    """The API checks that the person named in ``user_id`` exists, then writes; a merge can
    delete them in between. The write then says so (404) instead of failing (500)."""
    base = f"/api/v1/inventory/communities/{site.community}"
    made = await site.http.post(f"{base}/items", json={"name": "camera"}, headers=site.service)
    assert made.status_code == 201
    event = await site.http.post(
        f"/api/v1/calendar/communities/{site.community}/events",
        json={"title": "stream", "starts_at": NEXT_YEAR},
        headers=site.service,
    )
    assert event.status_code == 201
    gone = 999_999
    with pytest.raises(inventory.UnknownPerson, match=f"there is no user {gone}"):
        await site.runtime.inventory.checkout(site.community, "camera", gone, "@gone")
    item = await site.runtime.inventory.get(site.community, "camera")
    assert item is not None and not item.out
    with pytest.raises(calendar.UnknownPerson, match=f"there is no user {gone}"):
        await site.runtime.calendar.join(site.community, event.json()["id"], gone, "@gone")
    # over HTTP, the person is looked up first, with the same answer
    answer = await site.http.post(
        f"{base}/items/camera/checkout", json={"user_id": gone}, headers=site.service
    )
    assert (answer.status_code, answer.json()["detail"]) == (404, f"there is no user {gone}")
