"""A person's API keys (from chat and over HTTP), portal logins and sessions, and the
community roles API, embedded and distributed, over real HTTP."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx2
import pytest

from tests.support.harness import say, serving
from waddlebot.features.identity import apikeys
from waddlebot.runtime import Runtime
from waddlebot.settings import Settings


@dataclass
class Site:
    http: httpx2.AsyncClient
    runtime: Runtime


@pytest.fixture
async def site(settings: Settings) -> AsyncIterator[Site]:
    async with serving(settings) as (url, runtime), httpx2.AsyncClient(base_url=url) as http:
        yield Site(http, runtime)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_a_key_made_in_chat_works_over_http(site: Site) -> None:
    (dm, notice) = await say(site.runtime, "!identity apikey create laptop")
    assert (notice, dm[:37]) == (
        "I sent you the new key by private message.",
        "(private) Your API key 'laptop': wbk_",
    )
    key = re.search(r"(wbk_\S+)", dm).group(1)  # type: ignore[union-attr]
    me = await site.http.get("/api/v1/identity/me", headers=bearer(key))
    assert me.status_code == 200
    assert [a["platform_user_id"] for a in me.json()["accounts"]] == ["alice"]
    (listed,) = await say(site.runtime, "!identity apikey list")
    assert listed.startswith("Your API keys: laptop (until ")
    assert await say(site.runtime, "!identity apikey revoke laptop") == [
        "Revoked your key 'laptop'."
    ]
    site.runtime.keys.forget()  # this process's verifier cache; other processes expire in 30 s
    assert (await site.http.get("/api/v1/identity/me", headers=bearer(key))).status_code == 401


async def test_a_person_holds_at_most_five_keys(site: Site) -> None:
    user = await site.runtime.directory.ensure_identity("console", "kim")
    _, key = await apikeys.create_key(site.runtime.db, "first", kind="user", user_id=user)
    for n in range(4):
        made = await site.http.post(
            "/api/v1/identity/me/apikeys", headers=bearer(key), json={"name": f"k{n}"}
        )
        assert made.status_code == 201 and made.json()["key"].startswith("wbk_")
    sixth = await site.http.post(
        "/api/v1/identity/me/apikeys", headers=bearer(key), json={"name": "k9"}
    )
    assert sixth.status_code == 409 and "at most 5" in sixth.json()["detail"]
    listing = await site.http.get("/api/v1/identity/me/apikeys", headers=bearer(key))
    assert [k["name"] for k in listing.json()["items"]] == ["first", "k0", "k1", "k2", "k3"]
    assert all("key" not in k for k in listing.json()["items"])  # secrets are never shown again
    gone = await site.http.delete("/api/v1/identity/me/apikeys/k0", headers=bearer(key))
    assert gone.status_code == 204


async def test_portal_login_and_session(site: Site) -> None:
    user = await site.runtime.directory.ensure_identity("console", "pat")
    _, key = await apikeys.create_key(site.runtime.db, "k", kind="user", user_id=user)
    short = await site.http.put(
        "/api/v1/identity/me/login",
        headers=bearer(key),
        json={"email": "pat@example.org", "password": "short"},
    )
    assert short.status_code == 422
    ok = await site.http.put(
        "/api/v1/identity/me/login",
        headers=bearer(key),
        json={"email": "Pat@Example.org", "password": "correct horse battery"},
    )
    assert ok.status_code == 204
    wrong = await site.http.post(
        "/api/v1/identity/login", json={"email": "pat@example.org", "password": "nope nope nope"}
    )
    unknown = await site.http.post(
        "/api/v1/identity/login", json={"email": "who@example.org", "password": "nope nope nope"}
    )
    assert wrong.status_code == unknown.status_code == 401
    same = [{**r.json(), "request_id": ""} for r in (wrong, unknown)]  # ids differ, always
    assert same[0] == same[1]  # nothing tells whether the account exists
    session = await site.http.post(
        "/api/v1/identity/login",
        json={"email": "pat@example.org", "password": "correct horse battery"},
    )
    assert session.status_code == 200
    token = session.json()["token"]
    assert (await site.http.get("/api/v1/identity/me", headers=bearer(token))).json()[
        "user_id"
    ] == user
    # the cookie works as well, and logging out ends the session
    assert (await site.http.get("/api/v1/identity/me")).status_code == 200
    await site.http.post("/api/v1/identity/logout", headers=bearer(token))
    site.http.cookies.clear()
    assert (await site.http.get("/api/v1/identity/me", headers=bearer(token))).status_code == 401
    from sqlalchemy import select

    from waddlebot.features.identity.models import Account

    async with site.runtime.db.session() as db_session:
        stored = (await db_session.scalars(select(Account))).one()
    assert stored.password_hash.startswith("$argon2") and "horse" not in stored.password_hash


async def test_roles_over_http(site: Site) -> None:
    runtime = site.runtime
    community = (await runtime.directory.resolve_entity("twitch:5", "twitch")).community_id
    owner = await runtime.directory.ensure_identity("twitch", "50", login="olive")
    admin = await runtime.directory.ensure_identity("twitch", "51", login="ada")
    bob = await runtime.directory.ensure_identity("twitch", "52", login="bob")
    await runtime.directory.set_role(community, owner, "owner")
    await runtime.directory.set_role(community, admin, "admin")
    _, owner_key = await apikeys.create_key(runtime.db, "o", kind="user", user_id=owner)
    _, admin_key = await apikeys.create_key(runtime.db, "a", kind="user", user_id=admin)
    base = f"/api/v1/identity/communities/{community}"
    made = await site.http.put(
        f"{base}/roles/{bob}", headers=bearer(admin_key), json={"role": "moderator"}
    )
    assert made.status_code == 204
    refused = await site.http.put(
        f"{base}/roles/{bob}", headers=bearer(admin_key), json={"role": "admin"}
    )
    assert refused.status_code == 403  # only the owner makes admins
    promoted = await site.http.put(
        f"{base}/roles/{bob}", headers=bearer(owner_key), json={"role": "admin"}
    )
    assert promoted.status_code == 204
    roles = (await site.http.get(f"{base}/roles", headers=bearer(admin_key))).json()["items"]
    assert {r["name"]: r["role"] for r in roles} == {
        "olive": "owner",
        "ada": "admin",
        "bob": "admin",
    }
    info = (await site.http.get(base, headers=bearer(admin_key))).json()
    assert info["places"] == ["twitch:5"] and info["owners"] == ["olive"]
    await runtime.audit.flush()
    changes = [e for e in await runtime.audit.recent(limit=20) if e.action.startswith("role.")]
    assert changes and all(
        e.actor.startswith(f"user:{owner}@") or e.actor.startswith(f"user:{admin}@")
        for e in changes
    )
    assert all("@127.0.0.1" in e.actor for e in changes)  # from where


async def test_service_keys_are_not_people(site: Site) -> None:
    _, service = await apikeys.create_key(site.runtime.db, "svc")
    assert (await site.http.get("/api/v1/identity/me", headers=bearer(service))).status_code == 403


async def test_missing_communities_and_people_are_404_not_500(site: Site) -> None:
    _, service = await apikeys.create_key(site.runtime.db, "svc")
    headers = bearer(service)
    community = (await site.runtime.directory.resolve_entity("twitch:77", "twitch")).community_id
    http = site.http
    assert (await http.get("/api/v1/identity/communities/999", headers=headers)).status_code == 404
    label = await http.post(
        "/api/v1/labels/communities/999/labels", headers=headers, json={"name": "x"}
    )
    assert label.status_code == 404
    nobody = await http.put(
        f"/api/v1/identity/communities/{community}/roles/99999",
        headers=headers,
        json={"role": "moderator"},
    )
    assert nobody.status_code == 404
    user = await site.runtime.directory.ensure_identity("console", "sam")
    _, key = await apikeys.create_key(site.runtime.db, "k", kind="user", user_id=user)
    blank = await http.post("/api/v1/identity/me/apikeys", headers=bearer(key), json={"name": "  "})
    assert blank.status_code == 422


async def test_a_session_ends_when_its_person_is_merged_into_another(site: Site) -> None:
    runtime = site.runtime
    gone = await runtime.directory.ensure_identity("twitch", "900", login="old")
    _, key = await apikeys.create_key(runtime.db, "k", kind="user", user_id=gone)
    await site.http.put(
        "/api/v1/identity/me/login",
        headers=bearer(key),
        json={"email": "old@example.org", "password": "long enough password"},
    )
    token = (
        await site.http.post(
            "/api/v1/identity/login",
            json={"email": "old@example.org", "password": "long enough password"},
        )
    ).json()["token"]
    site.http.cookies.clear()
    keeper = await runtime.directory.ensure_identity("console", "keeper")
    pending = await runtime.identity.start_link(keeper, "twitch", "900")
    assert await runtime.identity.verify("twitch", "900", pending.code) == keeper
    me = await site.http.get("/api/v1/identity/me", headers=bearer(token))
    assert me.status_code == 401


async def test_read_only_keys_cannot_change_anything(site: Site) -> None:
    user = await site.runtime.directory.ensure_identity("console", "reader")
    _, key = await apikeys.create_key(site.runtime.db, "full", kind="user", user_id=user)
    made = await site.http.post(
        "/api/v1/identity/me/apikeys", headers=bearer(key), json={"name": "ro", "scopes": ["read"]}
    )
    assert made.status_code == 201 and made.json()["scopes"] == ["read"]
    read_only = bearer(made.json()["key"])
    assert (await site.http.get("/api/v1/identity/me", headers=read_only)).status_code == 200
    refused = await site.http.post(
        "/api/v1/identity/me/apikeys", headers=read_only, json={"name": "escalate"}
    )
    assert refused.status_code == 403 and "only read" in refused.json()["detail"]
