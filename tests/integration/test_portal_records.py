"""The memories, inventory and calendar pages of the portal over plain HTTP: the checks a
browser is not needed for (field errors, levels, another community, the audit log, htmx's
partial answers). tests/browser/test_portal_records.py drives the main flows in Chromium."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx2
import pytest

from tests.integration.test_portal import signed_in
from tests.support.harness import serving
from waddlebot.runtime import Runtime
from waddlebot.settings import Settings

HTMX = {"HX-Request": "true"}
# pages are served alike in both modes (tests/integration/test_portal.py checks serve portal)
pytestmark = pytest.mark.parametrize("mode", ["embedded"])


@dataclass
class Site:
    http: httpx2.AsyncClient
    runtime: Runtime
    community: int
    other: int
    user: int

    @property
    def base(self) -> str:
        return f"/c/{self.community}"

    def token(self) -> str:
        return self.http.cookies["waddlebot_csrf"]

    async def post(self, path: str, htmx: bool = False, **fields: str) -> httpx2.Response:
        headers = {**HTMX, "X-CSRF-Token": self.token()} if htmx else {}
        data = fields if htmx else {"csrf_token": self.token(), **fields}
        return await self.http.post(path, data=data, headers=headers)

    async def audit_actions(self) -> list[str]:
        await self.runtime.audit.flush()
        entries = await self.runtime.audit.recent(limit=500)
        return [entry.action for entry in entries if entry.community_id == self.community]


@pytest.fixture
async def site(settings: Settings) -> AsyncIterator[Site]:
    async with serving(settings) as (url, runtime), httpx2.AsyncClient(base_url=url) as http:
        user = await signed_in(http, runtime, "mo")
        home = await runtime.directory.resolve_entity("console:local", "console", name="Home")
        other = await runtime.directory.resolve_entity("console:away", "console", name="Away")
        await runtime.directory.set_role(home.community_id, user, "moderator")
        yield Site(http, runtime, home.community_id, other.community_id, user)


# ----- memories -------------------------------------------------------------------------------


async def test_quotes_are_added_searched_edited_and_deleted(site: Site) -> None:
    page = f"{site.base}/memories"
    added = await site.post(f"{page}/quotes", text="never give up", said_by="alice")
    assert added.status_code == 303
    await site.post(f"{page}/quotes", text="penguins waddle")
    rows = await site.http.get(page, params={"search": "waddle"}, headers=HTMX)
    assert rows.status_code == 200 and "<html" not in rows.text
    assert "penguins waddle" in rows.text and "never give up" not in rows.text
    edited = await site.post(f"{page}/quotes/1", text="never, ever give up", said_by="")
    assert edited.status_code == 303
    shown = (await site.http.get(page)).text
    assert "never, ever give up" in shown and "alice" in shown  # who said it stayed
    gone = await site.post(f"{page}/quotes/1/delete", htmx=True)
    assert gone.status_code == 200 and gone.text == ""
    assert "never, ever give up" not in (await site.http.get(page)).text
    assert {"quote.add", "quote.edit", "quote.remove"} <= set(await site.audit_actions())


async def test_a_bad_quote_is_shown_at_its_field(site: Site) -> None:
    refused = await site.post(f"{site.base}/memories/quotes", text="", said_by="x" * 65)
    assert refused.status_code == 400
    assert 'id="quote-text" name="text"' in refused.text
    assert re.search(r'id="quote-text"[^>]*aria-invalid="true"', refused.text)
    assert 'id="quote-said_by-error"' in refused.text
    search = await site.http.get(f"{site.base}/memories", params={"search": "-"}, headers=HTMX)
    assert search.status_code == 200


async def test_links_and_notes(site: Site) -> None:
    page = f"{site.base}/memories"
    assert (
        await site.post(f"{page}/urls", url="https://example.org", title="Ex")
    ).status_code == 303
    again = await site.post(f"{page}/urls", url="https://example.org")
    assert again.status_code == 409 and 'role="alert"' in again.text
    assert (
        await site.post(f"{page}/notes", text="bring snacks", labels="food, todo")
    ).status_code == 303
    edit = await site.http.get(f"{page}/notes/1/edit")
    assert 'value="food todo"' in edit.text
    await site.post(f"{page}/notes/1", text="bring more snacks", labels="food")
    shown = (await site.http.get(page)).text
    assert "bring more snacks" in shown and "https://example.org" in shown
    assert (await site.post(f"{page}/urls/1/delete")).status_code == 303
    assert "https://example.org" not in (await site.http.get(page)).text


# ----- inventory ------------------------------------------------------------------------------


async def test_items_are_added_labelled_checked_in_and_removed(site: Site) -> None:
    page = f"{site.base}/inventory"
    added = await site.post(f"{page}/items", name="Mic", description="the good one", labels="audio")
    assert added.status_code == 303
    await site.post(f"{page}/items", name="Tripod")
    twice = await site.post(f"{page}/items", name="mic")
    assert twice.status_code == 409 and 'role="alert"' in twice.text and "Mic" in twice.text
    rows = await site.http.get(page, params={"q": "#audio"}, headers=HTMX)
    assert "Mic" in rows.text and "Tripod" not in rows.text and "<html" not in rows.text
    assert (
        await site.post(f"{page}/items/labels", name="Tripod", label="video")
    ).status_code == 303
    await site.runtime.inventory.checkout(site.community, "Tripod", site.user, "@mo")
    shown = (await site.http.get(page)).text
    assert "Out: @mo" in shown and "Check in Tripod" in shown
    out = await site.post(f"{page}/items/delete", htmx=True, name="Tripod")
    assert out.headers["HX-Retarget"] == "#items-status" and "@mo has Tripod already" in out.text
    assert (await site.post(f"{page}/items/checkin", name="Tripod")).status_code == 303
    assert "Nothing is checked out." in (await site.http.get(page)).text
    gone = await site.post(f"{page}/items/delete", htmx=True, name="Tripod")
    assert gone.status_code == 200 and gone.text == ""
    await site.post(f"{page}/items/labels/delete", name="Mic", label="audio")
    assert await site.runtime.inventory.get(site.community, "Tripod") is None
    mic = await site.runtime.inventory.get(site.community, "Mic")
    assert mic is not None and mic.labels == ()
    assert {"inventory.add", "inventory.remove", "inventory.checkin"} <= set(
        await site.audit_actions()
    )


async def test_a_bad_item_is_shown_at_its_field(site: Site) -> None:
    refused = await site.post(f"{site.base}/inventory/items", name="", description="x" * 301)
    assert refused.status_code == 400
    assert re.search(r'id="item-name"[^>]*aria-invalid="true"', refused.text)
    assert 'id="item-description-error"' in refused.text
