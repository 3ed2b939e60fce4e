"""The portal over plain HTTP, embedded and distributed: where it is served (``waddlebot up``
and ``serve portal``), the page seam features contribute through, and the sessions and
sign-in links behind it (tests/browser/test_portal.py drives it in a browser)."""

from __future__ import annotations

import asyncio
import re

import httpx2
import pytest
from fastapi import APIRouter, Request
from fastapi.responses import Response

from tests.support.harness import serving
from waddlebot import app as app_module
from waddlebot.features import builtin_features
from waddlebot.features.feature import Feature, PortalPage
from waddlebot.portal.deps import InCommunity
from waddlebot.portal.rendering import render
from waddlebot.portal.security import safe_next
from waddlebot.runtime import Runtime
from waddlebot.settings import Settings

PASSWORD = "a long enough password"


async def csrf_of(http: httpx2.AsyncClient) -> str:
    page = await http.get("/login")
    return re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]


async def signed_in(http: httpx2.AsyncClient, runtime: Runtime, login: str) -> int:
    user = await runtime.directory.ensure_identity("console", login, login)
    await runtime.accounts.set_login(user, f"{login}@example.org", PASSWORD)
    token = await csrf_of(http)
    data = {"csrf_token": token, "email": f"{login}@example.org", "password": PASSWORD}
    assert (await http.post("/login", data=data)).status_code == 303
    return user


async def test_up_serves_the_portal_beside_the_api(settings: Settings) -> None:
    async with serving(settings) as (url, _), httpx2.AsyncClient(base_url=url) as http:
        start = await http.get("/")
        assert start.status_code == 303 and start.headers["location"] == "/login?next=%2F"
        login = await http.get("/login")
        assert login.status_code == 200 and "<h1>Sign in</h1>" in login.text
        assert "default-src 'self'" in login.headers["content-security-policy"]
        for path in ("/docs", "/healthz", "/openapi.json"):
            assert (await http.get(path)).status_code == 200, path
        assert (await http.get("/api/v1/identity/me")).status_code == 401
        for path in ("/static/portal.css", "/static/portal.js", "/static/htmx/htmx.min.js"):
            static = await http.get(path)
            assert static.status_code == 200, path
            assert static.headers["cache-control"] == "public, max-age=86400"


async def test_serve_portal_runs_the_portal_alone(settings: Settings) -> None:
    async with (
        serving(settings, services={"portal"}) as (url, runtime),
        httpx2.AsyncClient(base_url=url) as http,
    ):
        await signed_in(http, runtime, "pat")
        assert (await http.get("/account")).status_code == 200
        assert (await http.get("/api/v1/identity/me")).status_code == 404  # the api's


@pytest.fixture
def with_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """A feature with a moderator's page and an admin's, as a feature would add them (a
    router each: the page's role guards its whole router)."""

    async def shown(request: Request, community: InCommunity) -> Response:
        return render(request, "error.html", {"title": request.url.path, "message": "hi"})

    pages = []
    for path, role in (("/queue", "moderator"), ("/settings", "admin")):
        router = APIRouter()
        router.add_api_route(f"/c/{{community_id}}{path}", shown, methods=["GET", "POST"])
        pages.append(PortalPage(path, path[1:].title(), router, role))  # type: ignore[arg-type]
    extra = Feature("pages", pages=tuple(pages))
    monkeypatch.setattr(app_module, "builtin_features", lambda: (*builtin_features(), extra))


@pytest.mark.parametrize("mode", ["embedded"])
async def test_a_page_shows_to_the_roles_it_names(settings: Settings, with_pages: None) -> None:
    async with serving(settings) as (url, runtime), httpx2.AsyncClient(base_url=url) as http:
        user = await signed_in(http, runtime, "mo")
        home = await runtime.directory.resolve_entity("console:local", "console", name="Home")
        await runtime.directory.set_role(home.community_id, user, "moderator")
        base = f"/c/{home.community_id}"
        page = await http.get(f"{base}/")
        assert page.status_code == 200
        assert f'href="{base}/queue"' in page.text and "/settings" not in page.text
        assert (await http.get(f"{base}/queue")).status_code == 200
        refused = await http.get(f"{base}/settings")
        assert refused.status_code == 403 and "needs the admin role" in refused.text
        no_token = await http.post(f"{base}/queue")  # a feature's page is guarded too
        assert no_token.status_code == 403 and "security token" in no_token.text
        await runtime.directory.set_role(home.community_id, user, "admin")
        assert f'href="{base}/settings"' in (await http.get(f"{base}/")).text
        assert (await http.get(f"{base}/settings")).status_code == 200


async def test_sign_out_everywhere_ends_every_session(runtime: Runtime) -> None:
    user = await runtime.directory.ensure_identity("console", "sam")
    first, second = [await runtime.accounts.start_session(user) for _ in range(2)]
    assert await runtime.accounts.session_count(user) == 2
    await runtime.accounts.sign_out_everywhere(user, "user:test")
    assert [await runtime.accounts.session_user(t) for t in (first, second)] == [None, None]
    fresh = await runtime.accounts.start_session(user)
    assert await runtime.accounts.session_user(fresh) == user
    assert await runtime.accounts.session_count(user) == 1


async def test_a_sign_in_link_is_spent_once(runtime: Runtime) -> None:
    user = await runtime.directory.ensure_identity("console", "lee")
    token = await runtime.signin_links.issue(user)
    assert await runtime.signin_links.holder(token) == user
    won = await asyncio.gather(*(runtime.signin_links.redeem(token) for _ in range(4)))
    assert won.count(user) == 1 and won.count(None) == 3
    assert await runtime.signin_links.holder(token) is None
    assert await runtime.signin_links.redeem("wbl_unknown") is None


def test_only_same_site_paths_are_followed_after_sign_in() -> None:
    assert safe_next("/c/1/?x=1") == "/c/1/?x=1"
    for target in ("//evil.example", "https://evil.example/", "/\\evil.example", "", "x", None):
        assert safe_next(target) == "/"
