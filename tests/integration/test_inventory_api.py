"""The inventory HTTP API (embedded on SQLite, distributed on PostgreSQL and Redis): every
endpoint, who may call which, isolation between communities, and two people checking out
the same item with concurrent requests (exactly one gets it, the other a 409 saying who)."""

from __future__ import annotations

import asyncio
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
    community: int
    other: int
    service: dict[str, str]
    moderator: dict[str, str]
    bob: dict[str, str]
    carol: dict[str, str]
    stranger: dict[str, str]  # no role in the community
    bob_id: int
    carol_id: int

    @property
    def base(self) -> str:
        return f"/api/v1/inventory/communities/{self.community}"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def person(
    runtime: Runtime, login: str, community: int, role: str | None
) -> tuple[int, dict[str, str]]:
    user_id = await runtime.directory.ensure_identity("twitch", f"id-{login}", login=login)
    if role is not None:
        await runtime.directory.set_role(community, user_id, role)
    _, key = await apikeys.create_key(runtime.db, login, kind="user", user_id=user_id)
    return user_id, bearer(key)


@pytest.fixture
async def world(settings: Settings) -> AsyncIterator[World]:
    async with serving(settings) as (url, runtime), httpx2.AsyncClient(base_url=url) as http:
        directory = runtime.directory
        community = (await directory.resolve_entity("twitch:100", "twitch")).community_id
        other = (await directory.resolve_entity("twitch:200", "twitch")).community_id
        _, moderator = await person(runtime, "mia", community, "moderator")
        bob_id, bob = await person(runtime, "bob", community, "member")
        carol_id, carol = await person(runtime, "carol", community, "member")
        _, stranger = await person(runtime, "zed", other, "admin")
        _, service = await apikeys.create_key(runtime.db, "service")
        yield World(
            http,
            runtime,
            community,
            other,
            bearer(service),
            moderator,
            bob,
            carol,
            stranger,
            bob_id,
            carol_id,
        )


async def test_items_through_the_api(world: World) -> None:
    http, base = world.http, world.base
    added = await http.post(
        f"{base}/items",
        headers=world.moderator,
        json={"name": "camera", "description": "Sony A7", "labels": ["#video", "Gear"]},
    )
    assert added.status_code == 201, added.text
    assert added.json() | {"created_at": None} == {
        "name": "camera",
        "description": "Sony A7",
        "labels": ["gear", "video"],
        "available": True,
        "holder_user_id": None,
        "holder": "",
        "checked_out_at": None,
        "created_at": None,
    }
    assert (
        await http.post(f"{base}/items", headers=world.bob, json={"name": "x"})
    ).status_code == 403
    again = await http.post(f"{base}/items", headers=world.moderator, json={"name": "Camera"})
    assert again.status_code == 409
    await http.post(f"{base}/items", headers=world.moderator, json={"name": "tripod"})

    taken = await http.post(f"{base}/items/camera/checkout", headers=world.bob)
    assert taken.status_code == 200
    assert (taken.json()["holder"], taken.json()["holder_user_id"]) == ("@bob", world.bob_id)
    refused = await http.post(f"{base}/items/camera/checkout", headers=world.carol)
    assert (refused.status_code, refused.json()["detail"]) == (409, "@bob has camera already")
    not_hers = await http.post(f"{base}/items/camera/checkin", headers=world.carol)
    assert not_hers.status_code == 403
    listed = await http.get(f"{base}/items", headers=world.carol, params={"state": "out"})
    assert [item["name"] for item in listed.json()["items"]] == ["camera"]
    found = await http.get(f"{base}/items", headers=world.carol, params={"q": "#video"})
    assert [item["name"] for item in found.json()["items"]] == ["camera"]
    available = await http.get(
        f"{base}/items", headers=world.carol, params={"q": "o", "state": "available"}
    )
    assert [item["name"] for item in available.json()["items"]] == ["tripod"]
    one = await http.get(f"{base}/items/CAMERA", headers=world.carol)
    assert one.json()["holder"] == "@bob"
    assert (await http.get(f"{base}/items/tent", headers=world.carol)).status_code == 404

    busy = await http.delete(f"{base}/items/camera", headers=world.moderator)
    assert busy.status_code == 409
    back = await http.post(f"{base}/items/camera/checkin", headers=world.bob)
    assert back.status_code == 200 and back.json()["user"] == "@bob"
    assert (await http.post(f"{base}/items/camera/checkin", headers=world.bob)).status_code == 409

    for_carol = await http.post(
        f"{base}/items/camera/checkout", headers=world.bob, json={"user_id": world.carol_id}
    )
    assert for_carol.status_code == 403  # only moderators check out for someone else
    by_mod = await http.post(
        f"{base}/items/camera/checkout", headers=world.moderator, json={"user_id": world.carol_id}
    )
    assert by_mod.json()["holder"] == "@carol"
    nobody = await http.post(f"{base}/items/tripod/checkout", headers=world.service)
    assert nobody.status_code == 422  # a service account must say for whom
    assert (
        await http.post(f"{base}/items/camera/checkin", headers=world.moderator)
    ).status_code == 200
    history = await http.get(f"{base}/items/camera/history", headers=world.bob)
    assert [(h["user"], h["in_at"] is not None) for h in history.json()["items"]] == [
        ("@carol", True),
        ("@bob", True),
    ]

    labelled = await http.put(f"{base}/items/camera/labels/4k", headers=world.moderator)
    assert labelled.json() == {"added": True}
    assert (await http.put(f"{base}/items/camera/labels/4k", headers=world.moderator)).json() == {
        "added": False
    }
    assert (await http.put(f"{base}/items/camera/labels/4k", headers=world.bob)).status_code == 403
    bad = await http.put(f"{base}/items/camera/labels/no!", headers=world.moderator)
    assert bad.status_code == 422
    gone = await http.delete(f"{base}/items/camera/labels/gear", headers=world.moderator)
    assert gone.status_code == 204
    missing = await http.delete(f"{base}/items/camera/labels/gear", headers=world.moderator)
    assert missing.status_code == 404
    assert (await http.get(f"{base}/items/camera", headers=world.bob)).json()["labels"] == [
        "4k",
        "video",
    ]
    assert (await http.delete(f"{base}/items/camera", headers=world.moderator)).status_code == 204
    assert (await http.delete(f"{base}/items/camera", headers=world.moderator)).status_code == 404


async def test_other_communities_see_nothing(world: World) -> None:
    http, base = world.http, world.base
    await http.post(f"{base}/items", headers=world.moderator, json={"name": "camera"})
    for method, path in [
        ("GET", "/items"),
        ("GET", "/items/camera"),
        ("POST", "/items/camera/checkout"),
        ("DELETE", "/items/camera"),
    ]:
        refused = await http.request(method, base + path, headers=world.stranger)
        assert refused.status_code == 403, (method, path)
        assert (await http.request(method, base + path)).status_code == 401
    theirs = f"/api/v1/inventory/communities/{world.other}"
    mine = await http.get(f"{theirs}/items", headers=world.stranger)
    assert mine.status_code == 200 and mine.json() == {"items": [], "next": None}


async def test_concurrent_checkouts_give_the_item_to_exactly_one(world: World) -> None:
    http, base = world.http, world.base
    people = [world.bob, world.carol, world.moderator]
    for n in range(4):
        await http.post(f"{base}/items", headers=world.moderator, json={"name": f"key{n}"})
        answers = await asyncio.gather(
            *(http.post(f"{base}/items/key{n}/checkout", headers=who) for who in people)
        )
        codes = sorted(answer.status_code for answer in answers)
        assert codes == [200, 409, 409], [a.text for a in answers]
        winner = next(a for a in answers if a.status_code == 200).json()["holder"]
        for answer in answers:
            if answer.status_code == 409:
                assert answer.json()["detail"] == f"{winner} has key{n} already"
