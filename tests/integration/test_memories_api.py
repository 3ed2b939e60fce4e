"""The memories HTTP API over real HTTP, embedded and distributed: every endpoint, who may call
what (the same rules as in chat, with community roles for levels), clear 404/409/422s, and one
community's callers never reaching another's memories."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx2
import pytest

from tests.support.harness import serving
from waddlebot.core.clock import ManualClock
from waddlebot.core.language import When
from waddlebot.core.permissions import Level
from waddlebot.features.identity import apikeys
from waddlebot.features.memories.service import Author, Place
from waddlebot.runtime import Runtime
from waddlebot.settings import Settings

START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)  # a Thursday


@dataclass
class World:
    http: httpx2.AsyncClient
    runtime: Runtime
    service: dict[str, str]  # a global service key
    a: int
    b: int
    admin_a: dict[str, str]
    moderator_a: dict[str, str]
    member_a: dict[str, str]  # bob, with the member role in A
    other_member_a: dict[str, str]  # carol, also a member of A
    reader_a: dict[str, str]  # the moderator's key with the read scope only
    bob: int
    carol: int

    def base(self, community: int | None = None) -> str:
        return f"/api/v1/memories/communities/{community or self.a}"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def user_key(runtime: Runtime, user_id: int, scopes: str = "*") -> dict[str, str]:
    _, key = await apikeys.create_key(
        runtime.db, f"user-{user_id}-{scopes}", scopes, kind="user", user_id=user_id
    )
    return bearer(key)


@pytest.fixture
async def world(settings: Settings) -> AsyncIterator[World]:
    async with serving(settings) as (url, runtime), httpx2.AsyncClient(base_url=url) as http:
        runtime.memories.reminders.clock = ManualClock(START)
        directory = runtime.directory
        a = (await directory.resolve_entity("twitch:100", "twitch", channel_id="100")).community_id
        b = (await directory.resolve_entity("twitch:200", "twitch", channel_id="200")).community_id
        admin = await directory.ensure_identity("twitch", "1", login="ada")
        moderator = await directory.ensure_identity("twitch", "2", login="mo")
        bob = await directory.ensure_identity("twitch", "3", login="bob", display_name="Bob")
        carol = await directory.ensure_identity("twitch", "4", login="carol")
        for user, role in ((admin, "admin"), (moderator, "moderator"), (bob, "member")):
            await directory.set_role(a, user, role)
        await directory.set_role(a, carol, "member")
        _, service = await apikeys.create_key(runtime.db, "service")
        yield World(
            http,
            runtime,
            bearer(service),
            a,
            b,
            await user_key(runtime, admin),
            await user_key(runtime, moderator),
            await user_key(runtime, bob),
            await user_key(runtime, carol),
            await user_key(runtime, moderator, "read"),
            bob,
            carol,
        )


async def test_quotes(world: World) -> None:
    http, base = world.http, world.base()
    created = await http.post(
        f"{base}/quotes",
        headers=world.moderator_a,
        json={"text": "I never lose", "said_by": "@bob", "game": "Chess"},
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert {k: body[k] for k in ("number", "text", "said_by", "game", "added_by")} == {
        "number": 1,
        "text": "I never lose",
        "said_by": "bob",
        "game": "Chess",
        "added_by": "mo",
    }
    await http.post(f"{base}/quotes", headers=world.admin_a, json={"text": "pizza time"})
    listed = await http.get(f"{base}/quotes", headers=world.member_a)
    assert ([q["number"] for q in listed.json()["items"]], listed.json()["next"]) == ([1, 2], None)
    first = await http.get(f"{base}/quotes?limit=1", headers=world.member_a)
    assert [q["text"] for q in first.json()["items"]] == ["I never lose"]
    cursor = first.json()["next"]
    paged = await http.get(
        f"{base}/quotes", params={"limit": 1, "cursor": cursor}, headers=world.member_a
    )
    assert [q["text"] for q in paged.json()["items"]] == ["pizza time"]
    assert paged.json()["next"] is None
    found = await http.get(f"{base}/quotes", params={"search": "PIZZA"}, headers=world.reader_a)
    assert [q["number"] for q in found.json()["items"]] == [2]
    one = await http.get(f"{base}/quotes/1", headers=world.member_a)
    assert one.json()["said_by"] == "bob"
    edited = await http.patch(
        f"{base}/quotes/1", headers=world.moderator_a, json={"text": "I rarely lose"}
    )
    assert (edited.json()["text"], edited.json()["said_by"]) == ("I rarely lose", "bob")
    assert (await http.delete(f"{base}/quotes/2", headers=world.admin_a)).status_code == 204
    missing = await http.get(f"{base}/quotes/2", headers=world.member_a)
    assert (missing.status_code, missing.json()["detail"]) == (404, "there is no quote #2 here")
    assert (await http.delete(f"{base}/quotes/2", headers=world.admin_a)).status_code == 404
    assert (await http.patch(f"{base}/quotes/9", headers=world.admin_a, json={})).status_code == 404
    bad = {
        "empty text": await http.post(f"{base}/quotes", headers=world.admin_a, json={"text": ""}),
        "only left out": await http.get(f"{base}/quotes?search=-pizza", headers=world.member_a),
        "number 0": await http.get(f"{base}/quotes/0", headers=world.member_a),
        "blank text": await http.post(f"{base}/quotes", headers=world.admin_a, json={"text": " "}),
    }
    assert {name: r.status_code for name, r in bad.items()} == dict.fromkeys(bad, 422)
    assert bad["only left out"].json()["detail"] == (
        "say what to look for, not only what to leave out"
    )


async def test_levels_over_the_api_follow_chat(world: World) -> None:
    http, base = world.http, world.base()
    refused = await http.post(f"{base}/quotes", headers=world.member_a, json={"text": "hi"})
    assert (refused.status_code, refused.json()["detail"]) == (
        403,
        "only VIPs and up can add quotes",
    )
    read_only = await http.post(f"{base}/quotes", headers=world.reader_a, json={"text": "hi"})
    assert read_only.status_code == 403  # a key with the read scope only
    # bob added this one in chat (as a VIP): he may change it over the API, carol may not
    quotes = world.runtime.memories.quotes
    vip_bob = Author(name="Bob", user_id=world.bob, level=int(Level.VIP), actor="3")
    await quotes.add(world.a, "from chat", author=vip_bob)
    by_carol = await http.patch(
        f"{base}/quotes/1", headers=world.other_member_a, json={"text": "mine now"}
    )
    assert by_carol.status_code == 403
    by_bob = await http.patch(f"{base}/quotes/1", headers=world.member_a, json={"text": "fixed"})
    assert (by_bob.status_code, by_bob.json()["text"]) == (200, "fixed")
    assert (await http.delete(f"{base}/quotes/1", headers=world.member_a)).status_code == 204


async def test_urls(world: World) -> None:
    http, base = world.http, world.base()
    created = await http.post(
        f"{base}/urls",
        headers=world.moderator_a,
        json={"url": "Example.com/Rules", "title": "The rules"},
    )
    assert created.status_code == 201, created.text
    assert {k: created.json()[k] for k in ("number", "url", "title", "added_by")} == {
        "number": 1,
        "url": "https://example.com/Rules",
        "title": "The rules",
        "added_by": "mo",
    }
    duplicate = await http.post(
        f"{base}/urls", headers=world.admin_a, json={"url": "https://example.com/Rules"}
    )
    assert (duplicate.status_code, duplicate.json()["detail"]) == (
        409,
        "that link is saved already, as #1",
    )
    await http.post(f"{base}/urls", headers=world.admin_a, json={"url": "https://docs.example.org"})
    assert [
        u["number"]
        for u in (await http.get(f"{base}/urls", headers=world.member_a)).json()["items"]
    ] == [
        1,
        2,
    ]
    found = await http.get(f"{base}/urls", params={"search": "rules"}, headers=world.member_a)
    assert [u["number"] for u in found.json()["items"]] == [1]
    assert (await http.get(f"{base}/urls/2", headers=world.member_a)).json()["title"] == ""
    not_web = await http.post(f"{base}/urls", headers=world.admin_a, json={"url": "mailto:x@y"})
    assert not_web.status_code == 422
    assert (await http.delete(f"{base}/urls/1", headers=world.member_a)).status_code == 403
    assert (await http.delete(f"{base}/urls/1", headers=world.moderator_a)).status_code == 204
    assert (await http.get(f"{base}/urls/1", headers=world.member_a)).status_code == 404


async def test_notes(world: World) -> None:
    http, base = world.http, world.base()
    created = await http.post(
        f"{base}/notes",
        headers=world.moderator_a,
        json={"text": "buy a mic", "labels": ["Todo", "#gear", "todo"]},
    )
    assert created.status_code == 201, created.text
    assert (created.json()["number"], created.json()["labels"]) == (1, ["gear", "todo"])
    await http.post(f"{base}/notes", headers=world.moderator_a, json={"text": "plain"})
    todo = await http.get(f"{base}/notes", params={"label": "#todo"}, headers=world.member_a)
    assert [n["number"] for n in todo.json()["items"]] == [1]
    edited = await http.patch(
        f"{base}/notes/1", headers=world.moderator_a, json={"labels": ["done"]}
    )
    assert (edited.json()["text"], edited.json()["labels"]) == ("buy a mic", ["done"])
    untagged = await http.get(f"{base}/notes?label=todo", headers=world.member_a)
    assert untagged.json() == {"items": [], "next": None}
    eleven = [f"l{n}" for n in range(11)]
    too_many = await http.post(
        f"{base}/notes", headers=world.admin_a, json={"text": "x", "labels": eleven}
    )
    assert too_many.status_code == 422
    bad_label = await http.post(
        f"{base}/notes", headers=world.admin_a, json={"text": "x", "labels": ["a b"]}
    )
    assert (bad_label.status_code, bad_label.json()["detail"]) == (
        422,
        "'a b' is not a label: use 1 to 32 letters, digits, - or _ after the #",
    )
    assert (await http.get(f"{base}/notes/2", headers=world.member_a)).json()["labels"] == []
    assert (await http.delete(f"{base}/notes/2", headers=world.moderator_a)).status_code == 204
    assert (await http.get(f"{base}/notes/2", headers=world.member_a)).status_code == 404


async def test_reminders(world: World) -> None:
    http, base = world.http, world.base()
    weekly = await http.post(
        f"{base}/reminders",
        headers=world.moderator_a,
        json={"place": "twitch:100", "when": "every monday 20:00", "text": "raid night"},
    )
    assert weekly.status_code == 201, weekly.text
    assert {k: weekly.json()[k] for k in ("number", "place", "private", "repeat", "due_at")} == {
        "number": 1,
        "place": "twitch:100",
        "private": False,
        "repeat": "weekly",
        "due_at": "2026-01-05T20:00:00Z",
    }
    later = START + timedelta(days=2)
    once = await http.post(
        f"{base}/reminders",
        headers=world.admin_a,
        json={"place": "twitch:100", "due_at": later.isoformat(), "text": "tidy up"},
    )
    assert (once.status_code, once.json()["repeat"]) == (201, "once")
    # a private one, set by bob in chat: only he (and service accounts) see it
    bob = Author(name="Bob", user_id=world.bob, level=int(Level.EVERYONE), actor="3")
    await world.runtime.memories.reminders.add(
        world.a,
        Place("twitch:100", "twitch", "100"),
        When("once", delay=timedelta(hours=1)),
        "stretch",
        author=bob,
        to_user="3",
    )
    seen_by = {}
    for name, headers in (("bob", world.member_a), ("carol", world.other_member_a)):
        listed = await http.get(f"{base}/reminders", headers=headers)
        seen_by[name] = [r["number"] for r in listed.json()["items"]]
    assert seen_by == {"bob": [3, 2, 1], "carol": [2, 1]}
    assert (await http.get(f"{base}/reminders/3", headers=world.other_member_a)).status_code == 404
    assert (await http.get(f"{base}/reminders/3", headers=world.service)).json()["private"]
    problems = {
        "both": {"place": "twitch:100", "when": "in 1h", "due_at": later.isoformat()},
        "neither": {"place": "twitch:100"},
        "past": {"place": "twitch:100", "due_at": (START - timedelta(hours=1)).isoformat()},
        "no zone": {"place": "twitch:100", "due_at": "2026-01-02T10:00:00"},
        "unreadable": {"place": "twitch:100", "when": "soonish"},
        "more than a time": {"place": "twitch:100", "when": "in 1h and then"},
        "another community's place": {"place": "twitch:200", "when": "in 1h"},
    }
    for name, fields in problems.items():
        answer = await http.post(
            f"{base}/reminders", headers=world.admin_a, json={"text": "x", **fields}
        )
        assert answer.status_code == 422, (name, answer.text)
    member = await http.post(
        f"{base}/reminders",
        headers=world.member_a,
        json={"place": "twitch:100", "when": "in 1h", "text": "everyone look"},
    )
    assert member.status_code == 403
    assert (await http.delete(f"{base}/reminders/1", headers=world.member_a)).status_code == 403
    assert (await http.delete(f"{base}/reminders/1", headers=world.moderator_a)).status_code == 204
    assert (await http.delete(f"{base}/reminders/3", headers=world.admin_a)).status_code == 404
    assert (await http.delete(f"{base}/reminders/3", headers=world.member_a)).status_code == 204


async def test_another_communitys_callers_get_nothing(world: World) -> None:
    """Every memories endpoint refuses someone without a role in the community, whatever
    they send; and a service key tied to community B cannot reach A's memories."""
    http = world.http
    await http.post(f"{world.base()}/quotes", headers=world.admin_a, json={"text": "ours"})
    spec = (await http.get("/openapi.json")).json()
    routes = [
        (method.upper(), path)
        for path, methods in spec["paths"].items()
        if path.startswith("/api/v1/memories/")
        for method in methods
    ]
    assert len(routes) == 18
    _, scoped = await apikeys.create_key(world.runtime.db, "portal-b", community_id=world.b)
    for method, path in routes:
        url = path.replace("{community_id}", str(world.a)).replace("{number}", "1")
        refused = await http.request(method, url, headers=bearer(scoped), json={"text": "x"})
        assert refused.status_code == 403, (method, url, refused.text)
        assert (await http.request(method, url, json={})).status_code == 401
        foreign = path.replace("{community_id}", str(world.b)).replace("{number}", "x")
        refused = await http.request(method, foreign, headers=world.admin_a, json={})
        assert refused.status_code == 403, (method, foreign, refused.text)
    # and B's own list is empty: A's quote is A's alone
    listed = await http.get(f"{world.base(world.b)}/quotes", headers=bearer(scoped))
    assert listed.json()["items"] == []
