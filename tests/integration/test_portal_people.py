"""The people, labels and overlays pages of the portal over plain HTTP: the checks a browser is
not needed for (levels exactly as the API's, role changes only up to one's own level, another
community, field errors, the audit log, the overlay URLs' framing and rotation).
tests/browser/test_portal_people.py drives the main flows in Chromium."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx2
import pytest
from pydantic import SecretStr

from tests.integration.test_portal import signed_in
from tests.support.harness import serving
from waddlebot.infra.secretbox import SecretBox
from waddlebot.runtime import Runtime
from waddlebot.settings import Settings

XSS = '<img src=x onerror="alert(1)">'
pytestmark = pytest.mark.parametrize("mode", ["embedded"])


@dataclass
class Site:
    http: httpx2.AsyncClient
    runtime: Runtime
    community: int
    other: int
    user: int  # signed in; their role is set by each test

    @property
    def base(self) -> str:
        return f"/c/{self.community}"

    async def as_role(self, role: str) -> None:
        await self.runtime.directory.set_role(self.community, self.user, role)

    async def member(self, login: str, role: str = "member", name: str = "") -> int:
        user = await self.runtime.directory.ensure_identity("console", login, login, name)
        await self.runtime.directory.set_role(self.community, user, role)
        return user

    async def post(self, path: str, **fields: str) -> httpx2.Response:
        data = {"csrf_token": self.http.cookies["waddlebot_csrf"], **fields}
        return await self.http.post(path, data=data)

    async def role_of(self, user: int) -> str | None:
        return await self.runtime.community.role_of(self.community, user)

    async def audit_actions(self) -> list[str]:
        await self.runtime.audit.flush()
        entries = await self.runtime.audit.recent(limit=500)
        return [entry.action for entry in entries if entry.community_id == self.community]


@pytest.fixture
async def site(settings: Settings) -> AsyncIterator[Site]:
    settings = settings.model_copy(update={"secret_keys": [SecretStr(SecretBox.generate_key())]})
    async with serving(settings) as (url, runtime), httpx2.AsyncClient(base_url=url) as http:
        user = await signed_in(http, runtime, "ed")
        home = await runtime.directory.resolve_entity("console:local", "console", name="Home")
        other = await runtime.directory.resolve_entity("console:away", "console", name="Away")
        await runtime.directory.set_role(home.community_id, user, "moderator")
        yield Site(http, runtime, home.community_id, other.community_id, user)


# ----- people ---------------------------------------------------------------------------------


async def test_members_are_searched_and_paged_with_roles_and_labels(site: Site) -> None:
    for number in range(30):
        await site.member(f"viewer{number:02}", name=f"Viewer {number:02}")
    penguin = await site.member("pingu", "admin", XSS)
    await site.runtime.labels.create(site.community, "vip-friend", actor="test")
    await site.runtime.labels.apply(site.community, "vip-friend", "user", str(penguin))
    first = await site.http.get(f"{site.base}/people")
    assert first.status_code == 200
    assert "32 members" in first.text and "Page 1 of 2" in first.text
    assert "&lt;img src=x" in first.text and "<img src=x" not in first.text
    assert re.search(r"&lt;img src=x[^<]*</a></td>\s*<td>admin</td>", first.text)
    assert "vip-friend" in first.text
    second = await site.http.get(f"{site.base}/people", params={"page": "2"})
    assert "Viewer 29" in second.text and "Viewer 00" not in second.text
    found = await site.http.get(
        f"{site.base}/people", params={"search": "VIEWER 1"}, headers={"HX-Request": "true"}
    )
    assert "<html" not in found.text and "10 members" in found.text
    assert "Viewer 10" in found.text and "Viewer 20" not in found.text
    odd = await site.http.get(f"{site.base}/people", params={"search": "%_"})
    assert odd.status_code == 200 and "0 members" in odd.text
    no_page = await site.http.get(f"{site.base}/people", params={"page": "0"})
    assert no_page.status_code == 400 and "does not fit this page" in no_page.text


async def test_a_member_shows_their_accounts_and_labels_change(site: Site) -> None:
    pat = await site.member("pat", name="Pat")
    await site.runtime.directory.ensure_identity("discord", "pat#1", "pat_d", "Pat D")
    await site.runtime.labels.create(site.community, "regular", actor="test")
    page = await site.http.get(f"{site.base}/people/{pat}")
    assert page.status_code == 200 and "console" in page.text
    assert 'id="member-role"' not in page.text  # a moderator changes no role
    given = await site.post(f"{site.base}/people/{pat}/labels", label="regular")
    assert given.status_code == 303
    assert "regular" in (await site.http.get(f"{site.base}/people")).text
    unknown = await site.post(f"{site.base}/people/{pat}/labels", label="nope")
    assert unknown.status_code == 404 and 'role="alert"' in unknown.text
    taken = await site.post(f"{site.base}/people/{pat}/labels/delete", label="regular")
    assert taken.status_code == 303
    assert await site.runtime.labels.labels_of(site.community, "user", str(pat)) == []
    assert {"label.bulk_apply", "label.remove"} <= set(await site.audit_actions())


async def test_roles_change_only_up_to_the_editors_own_level(site: Site) -> None:
    owner = await site.member("olive", "owner")
    admin = await site.member("adam", "admin")
    pat = await site.member("pat")
    # a moderator may not change roles at all (the API's Admin): 403, nothing changes
    refused = await site.post(f"{site.base}/people/{pat}/role", role="moderator")
    assert refused.status_code == 403 and await site.role_of(pat) == "member"
    await site.as_role("admin")
    form = (await site.http.get(f"{site.base}/people/{pat}")).text
    assert re.findall(r'<option value="(\w+)"', form) == ["member", "moderator"]
    for user in (owner, admin):  # an admin changes neither the owner nor another admin
        assert 'id="member-role"' not in (await site.http.get(f"{site.base}/people/{user}")).text
    crafted = [(pat, "admin"), (admin, "moderator"), (admin, "member"), (owner, "moderator")]
    for user, role in crafted:
        before = await site.role_of(user)
        answer = await site.post(f"{site.base}/people/{user}/role", role=role)
        assert answer.status_code == 403, (user, role)
        assert await site.role_of(user) == before
    owner_made = await site.post(f"{site.base}/people/{pat}/role", role="owner")
    assert owner_made.status_code == 400 and await site.role_of(pat) == "member"
    made = await site.post(f"{site.base}/people/{pat}/role", role="moderator")
    assert made.status_code == 303 and await site.role_of(pat) == "moderator"
    unmade = await site.post(f"{site.base}/people/{pat}/role", role="member")
    assert unmade.status_code == 303 and await site.role_of(pat) == "member"
    await site.as_role("owner")
    assert (await site.post(f"{site.base}/people/{pat}/role", role="admin")).status_code == 303
    assert await site.role_of(pat) == "admin"
    assert {"role.add", "role.remove"} <= set(await site.audit_actions())


async def test_nothing_of_another_community_shows(site: Site) -> None:
    stranger = await site.runtime.directory.ensure_identity("console", "zed", "zed", "Zed")
    await site.runtime.directory.set_role(site.other, stranger, "member")
    assert "Zed" not in (await site.http.get(f"{site.base}/people")).text
    assert (await site.http.get(f"{site.base}/people/{stranger}")).status_code == 404
    given = await site.post(f"{site.base}/people/{stranger}/labels", label="x")
    assert given.status_code == 404
    for page in ("people", "labels", "overlays"):
        assert (await site.http.get(f"/c/{site.other}/{page}")).status_code == 404, page
    await site.as_role("owner")
    moved = await site.post(f"{site.base}/people/{stranger}/role", role="moderator")
    assert moved.status_code == 404
    assert await site.runtime.community.role_of(site.community, stranger) is None


# ----- labels ---------------------------------------------------------------------------------


async def test_admins_define_labels_and_limits_moderators_read_them(site: Site) -> None:
    page = f"{site.base}/labels"
    assert (await site.post(page, name="helper")).status_code == 403
    assert (await site.post(f"{page}/limits", per_user="3")).status_code == 403
    assert 'id="label-name"' not in (await site.http.get(page)).text
    await site.as_role("admin")
    made = await site.post(page, name="helper", colour="#1e90ff", description=XSS)
    assert made.status_code == 303
    shown = (await site.http.get(page)).text
    assert "helper" in shown and "&lt;img src=x" in shown and "<img src=x" not in shown
    bad = await site.post(page, name="", colour="blue")
    assert bad.status_code == 400
    assert re.search(r'id="label-name"[^>]*aria-invalid="true"', bad.text)
    taken = await site.post(page, name="HELPER")
    assert taken.status_code == 409 and 'role="alert"' in taken.text
    above = await site.post(page, name="boss", grants_level="1000")
    assert above.status_code == 422 and 'role="alert"' in above.text  # as the API
    vip = await site.post(page, name="vips", grants_level="300")
    assert vip.status_code == 303
    limits = await site.post(f"{page}/limits", per_user="3", per_item="2")
    assert limits.status_code == 303
    assert (await site.runtime.labels.limits(site.community))["per_user"] == 3
    negative = await site.post(f"{page}/limits", per_user="-1")
    assert negative.status_code == 400 and 'id="limit-per_user-error"' in negative.text
    assert (await site.post(f"{page}/delete", name="helper")).status_code == 303
    assert [label.name for label in await site.runtime.labels.list(site.community)] == ["vips"]
    assert {"label.create", "label.delete"} <= set(await site.audit_actions())


# ----- overlays -------------------------------------------------------------------------------


async def test_only_the_owner_sees_and_rotates_the_overlay_urls(site: Site) -> None:
    page = f"{site.base}/overlays"
    moderator = await site.http.get(page)
    assert moderator.status_code == 200 and "/overlay/" not in moderator.text
    assert "frame-src" not in moderator.headers["content-security-policy"]
    assert (await site.post(f"{page}/rotate")).status_code == 403
    await site.as_role("owner")
    shown = await site.http.get(page)
    urls = re.findall(r'<code class="secret" id="url-\w+">([^<]+)</code>', shown.text)
    assert len(urls) == 4 and all("/overlay/" in url for url in urls)
    origin = re.match(r"https?://[^/]+", urls[0])
    assert origin is not None
    csp = shown.headers["content-security-policy"]
    assert f"frame-src 'self' {origin.group(0)}" in csp and "frame-ancestors 'none'" in csp
    paths = [url.removeprefix(origin.group(0)) for url in urls]
    framed = await site.http.get(paths[0])
    assert framed.status_code == 200
    assert "frame-ancestors 'self' " in framed.headers["content-security-policy"]
    assert (await site.post(f"{page}/rotate")).status_code == 303
    assert (await site.http.get(paths[0])).status_code == 404
    fresh = re.findall(r'id="url-\w+">([^<]+)<', (await site.http.get(page)).text)
    assert fresh[0] != urls[0]
    assert (await site.http.get(fresh[0].removeprefix(origin.group(0)))).status_code == 200
    assert {"overlay.token.create", "overlay.token.rotate"} <= set(await site.audit_actions())


async def test_test_alerts_and_media_uploads(site: Site) -> None:
    page = f"{site.base}/overlays"
    token = site.http.cookies["waddlebot_csrf"]
    htmx = {"HX-Request": "true", "X-CSRF-Token": token}
    sent = await site.http.post(f"{page}/test", data={"kind": "raid"}, headers=htmx)
    assert sent.status_code == 200 and sent.text == "Sent a test raid alert to the alerts overlay."
    odd = await site.http.post(f"{page}/test", data={"kind": XSS}, headers=htmx)
    assert odd.headers["HX-Retarget"] == "#tests-status" and "&lt;img" in odd.text
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
    files = {"file": ("ding.png", png, "image/png")}
    uploaded = await site.http.post(f"{page}/media", data={"csrf_token": token}, files=files)
    assert uploaded.status_code == 303
    [stored] = await site.runtime.overlay_media.files(site.community)
    assert stored.media_id in (await site.http.get(page)).text
    text = {"file": ("x.png", b"not an image", "image/png")}
    refused = await site.http.post(f"{page}/media", data={"csrf_token": token}, files=text)
    assert refused.status_code == 415 and 'id="media-file-error"' in refused.text
    gone = await site.post(f"{page}/media/delete", media_id=stored.media_id)
    assert gone.status_code == 303
    assert await site.runtime.overlay_media.files(site.community) == []
    missing = await site.post(f"{page}/media/delete", media_id="../etc")
    assert missing.status_code == 404
    assert {"overlay.media.upload", "overlay.media.delete"} <= set(await site.audit_actions())


async def test_a_change_without_the_csrf_token_is_refused(site: Site) -> None:
    await site.as_role("owner")
    pat = await site.member("pat")
    for path, data in (
        (f"{site.base}/people/{pat}/role", {"role": "moderator"}),
        (f"{site.base}/labels", {"name": "sneaky"}),
        (f"{site.base}/overlays/rotate", {}),
    ):
        assert (await site.http.post(path, data=data)).status_code == 403, path
    assert await site.role_of(pat) == "member"
    assert await site.runtime.labels.list(site.community) == []
