"""The labels HTTP API, and per-community access control on every community endpoint:
an admin of one community can neither read nor change anything of another."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx2
import pytest

from tests.support.harness import serving
from waddlebot.features.identity import apikeys
from waddlebot.runtime import Runtime
from waddlebot.settings import Settings


@dataclass
class World:
    http: httpx2.AsyncClient
    runtime: Runtime
    service: dict[str, str]  # a global service key
    community_a: int
    community_b: int
    admin_a: dict[str, str]  # a user key of the admin of community A
    moderator_a: dict[str, str]
    bob: int  # a user in community A


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def user_key(runtime: Runtime, user_id: int) -> dict[str, str]:
    _, key = await apikeys.create_key(runtime.db, f"user-{user_id}", kind="user", user_id=user_id)
    return bearer(key)


@pytest.fixture
async def world(settings: Settings) -> AsyncIterator[World]:
    async with serving(settings) as (url, runtime), httpx2.AsyncClient(base_url=url) as http:
        directory = runtime.directory
        a = (await directory.resolve_entity("twitch:100", "twitch")).community_id
        b = (await directory.resolve_entity("twitch:200", "twitch")).community_id
        admin = await directory.ensure_identity("twitch", "1", login="ada")
        moderator = await directory.ensure_identity("twitch", "2", login="mo")
        bob = await directory.ensure_identity("twitch", "3", login="bob")
        await directory.set_role(a, admin, "admin")
        await directory.set_role(a, moderator, "moderator")
        _, service = await apikeys.create_key(runtime.db, "service")
        yield World(
            http,
            runtime,
            bearer(service),
            a,
            b,
            await user_key(runtime, admin),
            await user_key(runtime, moderator),
            bob,
        )


async def test_labels_through_the_api(world: World) -> None:
    http, a = world.http, world.community_a
    base = f"/api/v1/labels/communities/{a}"
    created = await http.post(
        f"{base}/labels",
        headers=world.admin_a,
        json={"name": "helper", "colour": "#00ff00", "description": "helps out"},
    )
    assert created.status_code == 201, created.text
    assert created.json() == {
        "name": "helper",
        "colour": "#00ff00",
        "description": "helps out",
        "grants_level": None,
    }
    duplicate = await http.post(f"{base}/labels", headers=world.admin_a, json={"name": "helper"})
    assert duplicate.status_code == 409
    listing = await http.get(f"{base}/labels", headers=world.moderator_a)
    assert [label["name"] for label in listing.json()["items"]] == ["helper"]

    many = [str(world.bob), *(str(1000 + i) for i in range(999))]
    applied = await http.post(
        f"{base}/labels/helper/targets",
        headers=world.moderator_a,
        json={"target_type": "user", "target_ids": many},
    )
    assert applied.status_code == 200 and applied.json() == {"applied": 1000}
    too_many = await http.post(
        f"{base}/labels/helper/targets",
        headers=world.moderator_a,
        json={"target_type": "user", "target_ids": [str(i) for i in range(1001)]},
    )
    assert too_many.status_code == 422
    held = await http.get(f"{base}/targets/user/{world.bob}", headers=world.moderator_a)
    assert [h["label"]["name"] for h in held.json()["items"]] == ["helper"]
    removed = await http.delete(
        f"{base}/labels/helper/targets/user/{world.bob}", headers=world.moderator_a
    )
    assert removed.status_code == 204
    again = await http.delete(
        f"{base}/labels/helper/targets/user/{world.bob}", headers=world.moderator_a
    )
    assert again.status_code == 404
    deleted = await http.delete(f"{base}/labels/helper", headers=world.admin_a)
    assert deleted.json() == {"removed_from": 999}


async def test_people_cannot_hand_out_levels_they_do_not_hold(world: World) -> None:
    base = f"/api/v1/labels/communities/{world.community_a}"
    moderator_only = await http_post(world, f"{base}/labels", world.moderator_a, {"name": "x"})
    assert moderator_only.status_code == 403  # defining labels needs the admin role
    escalation = await http_post(
        world, f"{base}/labels", world.admin_a, {"name": "boss", "grants_level": 1000}
    )
    assert escalation.status_code == 422
    ok = await http_post(
        world, f"{base}/labels", world.admin_a, {"name": "vip", "grants_level": 300}
    )
    assert ok.status_code == 201
    by_moderator = await http_post(
        world,
        f"{base}/labels/vip/targets",
        world.moderator_a,
        {"target_type": "user", "target_ids": [str(world.bob)]},
    )
    assert by_moderator.status_code == 200  # vip (300) is below moderator (500)


async def http_post(
    world: World, path: str, headers: dict[str, str], body: dict[str, object]
) -> httpx2.Response:
    return await world.http.post(path, headers=headers, json=body)


def _community_routes(spec: dict[str, object]) -> list[tuple[str, str]]:
    paths = spec["paths"]
    assert isinstance(paths, dict)
    return [
        (method.upper(), path)
        for path, methods in paths.items()
        if "{community_id}" in path
        for method in methods
    ]


def _fill(path: str, community_id: int) -> str:
    path = path.replace("{community_id}", str(community_id))
    fillers = {"{target_type}": "user", "{user_id}": "1"}
    return re.sub(r"\{[a-z_]+\}", lambda m: fillers.get(m.group(), "x"), path)


async def test_every_community_endpoint_refuses_another_communitys_admin(world: World) -> None:
    spec = (await world.http.get("/openapi.json")).json()
    routes = _community_routes(spec)
    assert len(routes) >= 10  # labels and roles; new endpoints join automatically
    body = {"name": "x", "target_type": "user", "target_ids": ["1"], "role": "moderator"}
    for method, path in routes:
        foreign = _fill(path, world.community_b)
        refused = await world.http.request(method, foreign, headers=world.admin_a, json=body)
        assert refused.status_code == 403, (method, foreign, refused.text)
        missing = await world.http.request(method, foreign, json=body)
        assert missing.status_code == 401, (method, foreign)
        own = _fill(path, world.community_a)
        allowed = await world.http.request(method, own, headers=world.service, json=body)
        assert allowed.status_code != 403, (method, own, allowed.text)


async def test_person_keys_cannot_post_events(world: World) -> None:
    event = {
        "platform": "twitch",
        "entity_id": "twitch:100",
        "message_id": "m",
        "author": {"user_id": "1", "roles": ["owner"]},
        "text": "!ping",
    }
    refused = await world.http.post("/api/v1/events", headers=world.admin_a, json=event)
    assert refused.status_code == 403  # or anyone could speak as anyone
    accepted = await world.http.post("/api/v1/events", headers=world.service, json=event)
    assert accepted.status_code == 202


async def test_service_accounts_scoped_to_a_community_or_to_collecting(world: World) -> None:
    runtime, a, b = world.runtime, world.community_a, world.community_b
    _, scoped = await apikeys.create_key(runtime.db, "portal-a", community_id=a)
    _, collector = await apikeys.create_key(runtime.db, "twitch-collector", role="collector")
    own = await world.http.get(f"/api/v1/labels/communities/{a}/labels", headers=bearer(scoped))
    other = await world.http.get(f"/api/v1/labels/communities/{b}/labels", headers=bearer(scoped))
    assert (own.status_code, other.status_code) == (200, 403)
    managing = await world.http.get(
        f"/api/v1/labels/communities/{a}/labels", headers=bearer(collector)
    )
    assert managing.status_code == 403  # a collector delivers events and manages nothing
    event = {
        "platform": "twitch",
        "entity_id": "twitch:100",
        "message_id": "c1",
        "author": {"user_id": "9"},
        "text": "hi",
    }
    delivered = await world.http.post("/api/v1/events", headers=bearer(collector), json=event)
    assert delivered.status_code == 202
    scoped_events = await world.http.post("/api/v1/events", headers=bearer(scoped), json=event)
    assert scoped_events.status_code == 403
    with pytest.raises(ValueError, match="role"):
        await apikeys.create_key(runtime.db, "bad", role="emperor")


async def test_label_limits_are_configured_per_community(world: World) -> None:
    base = f"/api/v1/labels/communities/{world.community_a}"
    limits = await world.http.get(f"{base}/limits", headers=world.moderator_a)
    assert limits.json() == {"per_user": 5, "per_community": 5, "per_item": 10, "definitions": 100}
    refused = await world.http.patch(
        f"{base}/limits", headers=world.moderator_a, json={"per_user": 1}
    )
    assert refused.status_code == 403
    changed = await world.http.patch(f"{base}/limits", headers=world.admin_a, json={"per_user": 1})
    assert changed.json()["per_user"] == 1 and changed.json()["per_item"] == 10
    for name in ("one", "two"):
        await world.http.post(f"{base}/labels", headers=world.admin_a, json={"name": name})
    first = await world.http.post(
        f"{base}/labels/one/targets",
        headers=world.moderator_a,
        json={"target_type": "user", "target_ids": [str(world.bob)]},
    )
    second = await world.http.post(
        f"{base}/labels/two/targets",
        headers=world.moderator_a,
        json={"target_type": "user", "target_ids": [str(world.bob)]},
    )
    assert (first.status_code, second.status_code) == (200, 422)
    negative = await world.http.patch(
        f"{base}/limits", headers=world.admin_a, json={"per_user": -1}
    )
    assert negative.status_code == 422
