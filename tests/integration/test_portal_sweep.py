"""Every route of the portal, walked from the portal app's own route table (no list of pages
here: a feature's new page is swept the day it is added), over HTTP: signed out, from another
community, as a moderator at an admin's page, without the CSRF token, with junk in the path,
and with markup in every record a page shows (docs/portal.md, "Security")."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import httpx2
import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import SecretStr

from tests.integration.test_portal import csrf_of, signed_in
from tests.support.harness import serving_app
from waddlebot.app import create_app
from waddlebot.features.calendar.events import NewEvent
from waddlebot.features.commands.service import Changes
from waddlebot.features.memories.common import Author
from waddlebot.infra.secretbox import SecretBox
from waddlebot.portal import deps
from waddlebot.portal.pages import PREFIX
from waddlebot.runtime import Runtime
from waddlebot.settings import Settings
from waddlebot.web.access import ROLE_RANK, Role
from waddlebot.web.route_table import Access, flat_routes, route_table

XSS = '<img src=x onerror="alert(1)">'
JUNK = ("0", "-1", "99999999999", "abc")
PARAM = re.compile(r"\{(\w+)\}")
# who may do what is checked in both modes (sessions and roles come from Redis and PostgreSQL
# in the distributed one); what a page does with its input is the same code in both
BOTH = pytest.mark.parametrize("mode", ["embedded", "distributed"])
EMBEDDED = pytest.mark.parametrize("mode", ["embedded"])


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # the template, e.g. /c/{community_id}/people/{user_id}
    role: Role | None  # the least role that opens it, in a community; None outside one
    session: bool  # whether it needs a signed-in person
    query: tuple[str, ...] = ()  # the query parameters it reads

    @property
    def params(self) -> list[str]:
        return PARAM.findall(self.path)

    def at(self, values: dict[str, str]) -> str:
        return PARAM.sub(lambda found: quote(values.get(found[1], "1"), safe=""), self.path)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def _needs(dependant: Dependant, call: Any) -> bool:
    return any(d.call is call or _needs(d, call) for d in dependant.dependencies)


def _query(dependant: Dependant) -> Iterator[str]:
    yield from (param.alias for param in dependant.query_params)
    for sub in dependant.dependencies:
        yield from _query(sub)


def endpoints(app: FastAPI) -> list[Endpoint]:
    """The portal's routes from its route table, each with the role its page asks for."""
    roles: dict[tuple[str, str], Role] = {
        (method, route.path): page.role
        for page in app.state.portal_pages
        for route in page.router.routes
        if isinstance(route, APIRoute)
        for method in route.methods
    }
    routes = {
        (method, route.path): route
        for route in flat_routes(app.routes)
        if isinstance(route, APIRoute)
        for method in route.methods
    }
    found = []
    for entry in route_table(app):
        if entry.access is Access.INTERNAL or entry.prefix or entry.websocket:
            continue  # health checks; the static files
        if entry.path in ("/docs", app.openapi_url):
            continue  # the API's documentation, beside every service
        for method in entry.methods:
            route = routes[(method, entry.path)]
            in_community = entry.path.startswith(PREFIX)
            role = roles.get((method, entry.path), deps.FLOOR) if in_community else None
            session = in_community or _needs(route.dependant, deps.signed_in)
            query = tuple(_query(route.dependant))
            found.append(Endpoint(method, entry.path, role, session, query))
    return found


@dataclass
class Sweep:
    url: str
    runtime: Runtime
    routes: list[Endpoint]
    home: int  # community A
    away: int  # community B
    values: dict[int, dict[str, str]]  # a real value for each path parameter, by community

    def community_routes(self, method: str | None = None) -> Iterator[Endpoint]:
        for endpoint in self.routes:
            if endpoint.role is not None and method in (None, endpoint.method):
                yield endpoint

    def path(self, endpoint: Endpoint, community: int, **junk: str) -> str:
        return endpoint.at({**self.values[community], **junk})

    async def changes(self) -> list[str]:
        """What the audit log holds: every change a page makes is in it."""
        await self.runtime.audit.flush()
        return [f"{row.action} {row.target}" for row in await self.runtime.audit.recent(500)]


@contextlib.asynccontextmanager
async def person(
    sweep: Sweep, login: str, roles: dict[int, Role]
) -> AsyncIterator[httpx2.AsyncClient]:
    """A browser signed in as ``login``, who holds ``roles``."""
    async with httpx2.AsyncClient(base_url=sweep.url) as http:
        user = await signed_in(http, sweep.runtime, login)
        for community, role in roles.items():
            await sweep.runtime.directory.set_role(community, user, role)
        yield http


async def get(http: httpx2.AsyncClient, path: str, **options: Any) -> httpx2.Response:
    """A GET as a browser's: the whole page, or of a live stream (the dashboard's Server-Sent
    Events, which never end) its status and headers only."""
    async with http.stream("GET", path, **options) as answer:
        if answer.headers.get("content-type", "").startswith("text/event-stream"):
            return httpx2.Response(
                answer.status_code, headers=answer.headers, content=b"", request=answer.request
            )
        await answer.aread()
        return answer


async def send(
    http: httpx2.AsyncClient, method: str, path: str, *, token: bool = True
) -> httpx2.Response:
    """A request as a browser's form sends it: with the page's CSRF token, or without."""
    if method == "GET":
        return await get(http, path)
    data = {"csrf_token": http.cookies.get("waddlebot_csrf", "")} if token else {}
    return await http.request(method, path, data={**data, "anything": "1"})


async def seeded(runtime: Runtime, community: int, entity: str) -> dict[str, str]:
    """One record of each kind a page shows, markup in every text a person typed; the values
    of the path parameters that name them."""
    member = await runtime.directory.ensure_identity("console", f"m{community}", "x", XSS)
    await runtime.directory.set_role(community, member, "member")
    author = Author(name=XSS, user_id=member, level=None, actor="test")
    quote = await runtime.memories.quotes.add(community, XSS, author=author)
    await runtime.memories.notes.add(community, XSS, author=author)
    await runtime.memories.urls.add(community, "https://example.org/", XSS, author=author)
    await runtime.commands.add(community, "xss", Changes(response=XSS))
    await runtime.aliases.define(community, "xs", f"!xss {XSS}", forced=False, actor="test")
    await runtime.timers.add(community, entity, "xss", 10, XSS)
    await runtime.labels.create(community, "xss", description=XSS)
    await runtime.inventory.add(community, "Mic", XSS, ["xss"])
    ai = {"model_openai": XSS, "mcp_servers": [{"name": "xss", "url": f"https://x.example/{XSS}"}]}
    await runtime.installs.configure(community, "ai", ai, actor="test")
    start = runtime.calendar.clock.now() + timedelta(days=2)
    event = await runtime.calendar.add(
        community,
        NewEvent(title=XSS, description=XSS, starts_at=start, timezone="UTC"),
        creator_user_id=member,
        creator_name=XSS,
        level=100,
    )
    return {
        "community_id": str(community),
        "user_id": str(member),
        "event_id": str(event.id),
        "kind": "quote",
        "number": str(quote.number),
        "name": "music",
        "token": "wbl_unknown",
    }


@pytest.fixture
async def sweep(settings: Settings) -> AsyncIterator[Sweep]:
    # a secret key, as the overlay URLs need one (embedded, WaddleBot makes its own)
    settings = settings.model_copy(update={"secret_keys": [SecretStr(SecretBox.generate_key())]})
    app = create_app(settings, {"portal"})
    async with serving_app(app, None, settings) as url:
        runtime: Runtime = app.state.runtime
        home = await runtime.directory.resolve_entity("console:local", "console", name="Home")
        away = await runtime.directory.resolve_entity("console:away", "console", name="Away")
        values = {
            home.community_id: await seeded(runtime, home.community_id, "console:local"),
            away.community_id: await seeded(runtime, away.community_id, "console:away"),
        }
        yield Sweep(url, runtime, endpoints(app), home.community_id, away.community_id, values)


@EMBEDDED
def test_the_sweep_finds_every_page_and_the_sign_in_routes(sweep: Sweep) -> None:
    """Guards the sweep itself: it walks the pages features contribute and the account."""
    paths = {endpoint.path for endpoint in sweep.routes}
    assert {"/", "/account", "/login", "/c/{community_id}/", "/c/{community_id}/people"} <= paths
    assert any(endpoint.role == "admin" for endpoint in sweep.routes)
    assert any(endpoint.query for endpoint in sweep.routes)
    public = {endpoint.path for endpoint in sweep.routes if not endpoint.session}
    assert all(path.startswith(("/login", "/logout")) for path in public), public


@BOTH
async def test_signed_out_every_page_sends_to_sign_in_and_every_post_is_refused(
    sweep: Sweep,
) -> None:
    before = await sweep.changes()
    wrong = []
    async with httpx2.AsyncClient(base_url=sweep.url) as http:
        for endpoint in sweep.routes:
            path = sweep.path(endpoint, sweep.home)
            if endpoint.method == "GET":
                if endpoint.session:
                    answer = await get(http, path)
                    target = f"/login?next={quote(path, safe='')}"
                    if (answer.status_code, answer.headers.get("location")) != (303, target):
                        wrong.append((str(endpoint), answer.status_code))
                continue
            bare = await send(http, endpoint.method, path, token=False)
            if bare.status_code != 403 or "security token" not in bare.text:
                wrong.append((f"{endpoint} without a token", bare.status_code))
            if endpoint.session:
                await csrf_of(http)  # the sign-in page gives the browser a token
                posted = await send(http, endpoint.method, path)
                location = posted.headers.get("location", "")
                if posted.status_code != 403 and not location.startswith("/login?next="):
                    wrong.append((f"{endpoint} with a token", posted.status_code))
        assert "waddlebot_portal" not in http.cookies
    assert not wrong, "\n".join(map(str, wrong))
    assert await sweep.changes() == before


@BOTH
async def test_another_community_does_not_exist_for_a_person(sweep: Sweep) -> None:
    """404 for B's every route, as for a community that does not exist: never a 403 or a 200
    that would tell B is there, also to a member of B (the portal is for moderators up)."""
    wrong = []
    async with person(sweep, "ann", {sweep.home: "owner"}) as http:
        before = await sweep.changes()
        for role in (None, "member"):
            if role == "member":
                user = await sweep.runtime.directory.ensure_identity("console", "ann")
                await sweep.runtime.directory.set_role(sweep.away, user, role)
            for endpoint in sweep.community_routes():
                answer = await send(http, endpoint.method, sweep.path(endpoint, sweep.away))
                if answer.status_code != 404 or "There is no such page." not in answer.text:
                    wrong.append((role, str(endpoint), answer.status_code))
                elif "Away" in answer.text:
                    wrong.append((role, str(endpoint), "names the community"))
        assert "Away" not in (await get(http, "/")).text
        assert await sweep.changes() == before
    assert not wrong, "\n".join(map(str, wrong))


@BOTH
async def test_a_moderator_is_refused_every_admin_page_and_sees_none(sweep: Sweep) -> None:
    moderator = ROLE_RANK["moderator"]
    high = [e for e in sweep.community_routes() if ROLE_RANK[e.role or "member"] > moderator]
    assert high, "no page for admins or owners to sweep"
    links = {f'href="{e.at({"community_id": str(sweep.home)})}"' for e in high}
    wrong = []
    async with person(sweep, "mo", {sweep.home: "moderator"}) as http:
        before = await sweep.changes()
        for endpoint in high:
            answer = await send(http, endpoint.method, sweep.path(endpoint, sweep.home))
            if answer.status_code != 403 or f"needs the {endpoint.role} role" not in answer.text:
                wrong.append((str(endpoint), answer.status_code))
        for endpoint in sweep.community_routes("GET"):
            if endpoint not in high:
                page = await get(http, sweep.path(endpoint, sweep.home))
                # some answer only with a query (which record to edit): a 404 without one
                if page.status_code not in (200, 404):
                    wrong.append((str(endpoint), page.status_code))
                wrong.extend((str(endpoint), link) for link in links if link in page.text)
        assert await sweep.changes() == before
    assert not wrong, "\n".join(map(str, wrong))


@BOTH
async def test_every_change_without_the_csrf_token_is_refused(sweep: Sweep) -> None:
    wrong = []
    async with person(sweep, "ada", {sweep.home: "owner"}) as http:
        before = await sweep.changes()
        for endpoint in sweep.routes:
            if endpoint.method == "GET":
                continue
            path = sweep.path(endpoint, sweep.home)
            bare = await send(http, endpoint.method, path, token=False)
            if bare.status_code != 403 or "security token" not in bare.text:
                wrong.append((f"{endpoint} without a token", bare.status_code))
            forged = await http.request(
                endpoint.method, path, headers={"X-CSRF-Token": "x" * 43, "HX-Request": "true"}
            )
            if forged.status_code != 403:
                wrong.append((f"{endpoint} with another token", forged.status_code))
        assert (await get(http, "/account")).status_code == 200  # still signed in
        assert await sweep.changes() == before
    assert not wrong, "\n".join(map(str, wrong))


def _junk_paths(sweep: Sweep, endpoint: Endpoint) -> Iterator[str]:
    for param in endpoint.params:
        for junk in JUNK:
            yield sweep.path(endpoint, sweep.home, **{param: junk})


def _is_page(answer: httpx2.Response) -> bool:
    """A page of the portal, or a redirect to one: never the API's JSON."""
    return answer.is_redirect or answer.headers.get("content-type", "").startswith("text/html")


@EMBEDDED
@pytest.mark.parametrize("role", ["admin", "owner"])
async def test_junk_in_a_path_is_a_4xx_page(sweep: Sweep, role: Role) -> None:
    wrong = []
    async with person(sweep, "jo", {sweep.home: role}) as http:
        for endpoint in sweep.community_routes("GET"):
            for path in _junk_paths(sweep, endpoint):
                answer = await get(http, path)
                if not 400 <= answer.status_code < 500 or not _is_page(answer):
                    wrong.append((path, answer.status_code, answer.headers["content-type"]))
            path = sweep.path(endpoint, sweep.home)
            for query in [{name: junk} for name in endpoint.query for junk in (*JUNK, "x" * 500)]:
                answer = await get(http, path, params=query)
                if answer.status_code >= 500 or not _is_page(answer):
                    wrong.append(
                        (f"{path}?{query}", answer.status_code, answer.headers["content-type"])
                    )
        for endpoint in sweep.community_routes("POST"):  # an empty form, too
            for path in [sweep.path(endpoint, sweep.home), *_junk_paths(sweep, endpoint)]:
                answer = await send(http, "POST", path)
                if answer.status_code >= 500 or not _is_page(answer):
                    wrong.append(
                        (f"POST {path}", answer.status_code, answer.headers.get("content-type"))
                    )
    assert not wrong, "\n".join(map(str, wrong))


@EMBEDDED
async def test_markup_typed_into_any_record_is_shown_as_text(sweep: Sweep) -> None:
    pages = []
    async with person(sweep, "xo", {sweep.home: "owner"}) as http:
        for endpoint in sweep.community_routes("GET"):
            page = await get(http, sweep.path(endpoint, sweep.home))
            assert "<img src=x" not in page.text, endpoint
            pages.append(page.text)
    assert "&lt;img src=x onerror=" in "\n".join(pages)  # the records are there, as text
