"""The memories, inventory and calendar pages of the portal over plain HTTP: the checks a
browser is not needed for (field errors, levels, another community, the audit log, htmx's
partial answers). tests/browser/test_portal_records.py drives the main flows in Chromium."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

import httpx2
import pytest

from tests.integration.test_portal import signed_in
from tests.support.harness import serving
from waddlebot.features.calendar.events import EditRefused, EventChange, NewEvent
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


# ----- calendar -------------------------------------------------------------------------------


async def pending_event(site: Site, title: str) -> int:
    """An event a member asked for in chat: waiting for a moderator."""
    member = await site.runtime.directory.ensure_identity("console", "pat", "pat")
    start = site.runtime.calendar.clock.now() + timedelta(days=2)
    wanted = NewEvent(title=title, starts_at=start, timezone="UTC")
    event = await site.runtime.calendar.add(
        site.community, wanted, creator_user_id=member, creator_name="@pat", level=100
    )
    assert event.status == "pending"
    return event.id


async def test_the_approval_queue_decides_in_one_click(site: Site) -> None:
    first = await pending_event(site, "Movie night")
    second = await pending_event(site, "Speedrun race")
    page = (await site.http.get(f"{site.base}/calendar")).text
    assert '<span class="count" id="pending-count">(2)</span>' in page
    approved = await site.post(f"{site.base}/calendar/events/{first}/approve", htmx=True)
    assert approved.status_code == 200
    assert 'id="pending-count" hx-swap-oob="true">(1)<' in approved.text
    assert (
        'id="upcoming-rows" hx-swap-oob="true"' in approved.text and "Movie night" in approved.text
    )
    again = await site.post(f"{site.base}/calendar/events/{first}/reject", htmx=True)
    assert again.headers["HX-Retarget"] == "#calendar-status" and "approved" in again.text
    rejected = await site.post(f"{site.base}/calendar/events/{second}/reject", htmx=True)
    assert ">(0)<" in rejected.text and "Speedrun race" not in rejected.text
    assert (await site.runtime.calendar.get(site.community, second)).status == "rejected"  # type: ignore[union-attr]
    actions = await site.audit_actions()
    assert {"event.add", "event.approve", "event.reject"} <= set(actions)


async def test_an_event_is_added_with_recurrence_and_cancelled(site: Site) -> None:
    start = (site.runtime.calendar.clock.now() + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
    added = await site.post(
        f"{site.base}/calendar/events",
        title="Weekly hangout",
        starts_at=start,
        duration_minutes="90",
        repeat="weekly",
        interval="2",
        capacity="",
    )
    assert added.status_code == 303
    ((event, _),) = await site.runtime.calendar.upcoming(site.community)
    assert event.status == "approved" and event.rrule.endswith("INTERVAL=2")  # a moderator's
    assert "every 2 weeks" in (await site.http.get(f"{site.base}/calendar")).text
    cancelled = await site.post(f"{site.base}/calendar/events/{event.id}/cancel", htmx=True)
    assert "No events to come." in cancelled.text
    refused = await site.post(
        f"{site.base}/calendar/events", title="", starts_at="soon", interval="0"
    )
    assert refused.status_code == 400
    for field in ("title", "starts_at", "interval"):
        assert re.search(rf'id="event-{field}"[^>]*aria-invalid="true"', refused.text), field
    past = await site.post(
        f"{site.base}/calendar/events", title="Old", starts_at="2001-01-01T10:00"
    )
    assert past.status_code == 422 and "That start has passed already." in past.text


async def test_the_feed_link_is_the_admins(site: Site) -> None:
    page = (await site.http.get(f"{site.base}/calendar")).text
    assert "Calendar feed" not in page
    refused = await site.post(f"{site.base}/calendar/feed")
    assert refused.status_code == 403 and "needs the admin role" in refused.text
    assert (await site.post(f"{site.base}/calendar/feed/delete")).status_code == 403
    await site.runtime.directory.set_role(site.community, site.user, "admin")
    made = await site.post(f"{site.base}/calendar/feed")
    link = re.search(r'id="feed-link">([^<]+)<', made.text).group(1)  # type: ignore[union-attr]
    path = urlsplit(html.unescape(link))
    feed = await site.http.get(f"{path.path}?{path.query}")
    assert feed.status_code == 200 and feed.text.startswith("BEGIN:VCALENDAR")
    assert link not in (await site.http.get(f"{site.base}/calendar")).text  # shown once
    assert (await site.post(f"{site.base}/calendar/feed/delete")).status_code == 303
    assert (await site.http.get(f"{path.path}?{path.query}")).status_code == 404
    assert {"event.feed.rotate", "event.feed.revoke"} <= set(await site.audit_actions())


async def test_nothing_of_another_community(site: Site) -> None:
    theirs = f"/c/{site.other}"
    await site.runtime.inventory.add(site.other, "Secret sword", "", [])
    for path in ("/memories", "/inventory", "/calendar"):
        page = await site.http.get(theirs + path)
        assert page.status_code == 404 and "Secret sword" not in page.text, path
    refused = await site.post(f"{theirs}/inventory/items/delete", name="Secret sword")
    assert refused.status_code == 404
    assert await site.runtime.inventory.get(site.other, "Secret sword") is not None
    mine = await site.post(f"{site.base}/inventory/items/delete", name="Secret sword")
    assert mine.status_code == 404  # not an item of this community
    assert await site.runtime.inventory.get(site.other, "Secret sword") is not None


async def test_a_change_without_the_csrf_token_is_refused(site: Site) -> None:
    await site.runtime.inventory.add(site.community, "Mic", "", [])
    event = await pending_event(site, "Movie night")
    for path, data in (
        ("/memories/quotes", {"text": "sneaky"}),
        ("/inventory/items/delete", {"name": "Mic"}),
        (f"/calendar/events/{event}/approve", {}),
    ):
        refused = await site.http.post(site.base + path, data=data)
        assert refused.status_code == 403 and "security token" in refused.text, path
    assert await site.runtime.memories.quotes.list(site.community) == []
    assert await site.runtime.inventory.get(site.community, "Mic") is not None
    assert (await site.runtime.calendar.get(site.community, event)).status == "pending"  # type: ignore[union-attr]


async def test_an_event_is_edited_by_a_moderator_or_its_waiting_creator(site: Site) -> None:
    event_id = await pending_event(site, "Movie night")
    form = (await site.http.get(f"{site.base}/calendar/events/{event_id}/edit")).text
    start = re.search(r'id="event-starts_at" name="starts_at" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    fields = {"title": "Movie night <b>2</b>", "starts_at": start, "duration_minutes": "120"}
    fields |= {"description": "", "repeat": "monthly", "interval": "1", "capacity": "5"}
    assert (await site.post(f"{site.base}/calendar/events/{event_id}", **fields)).status_code == 303
    edited = await site.runtime.calendar.get(site.community, event_id)
    assert edited is not None and edited.title == "Movie night <b>2</b>"
    assert (edited.duration_minutes, edited.capacity, edited.rrule) == (120, 5, "FREQ=MONTHLY")
    assert edited.status == "pending"  # still waiting: an edit decides nothing
    page = (await site.http.get(f"{site.base}/calendar")).text
    assert "Movie night &lt;b&gt;2&lt;/b&gt;" in page and "<b>2</b>" not in page
    bad = await site.post(f"{site.base}/calendar/events/{event_id}", **(fields | {"title": ""}))
    assert bad.status_code == 400
    assert re.search(r'id="event-title"[^>]*aria-invalid="true"', bad.text)
    pat = edited.creator_user_id
    calendar = site.runtime.calendar
    own = await calendar.edit(
        site.community, event_id, EventChange(title="Pat's night"), user_id=pat, level=100
    )
    assert own.title == "Pat's night"
    await calendar.decide(site.community, event_id, True)
    with pytest.raises(EditRefused):  # approved: a member's change would skip the approval
        await calendar.edit(
            site.community, event_id, EventChange(title="Sneaky"), user_id=pat, level=100
        )
    assert "event.edit" in await site.audit_actions()


async def test_numbers_out_of_range_are_refused_not_failed(site: Site) -> None:
    for path in ("/memories/quotes/99999999999/delete", "/calendar/events/0/approve"):
        refused = await site.post(site.base + path)  # no such record: the 404 page
        assert refused.status_code == 404 and "There is no such page." in refused.text, path
    missing = await site.http.get(f"{site.base}/calendar/events/424242/edit")
    assert missing.status_code == 404
    assert (await site.http.get(f"{site.base}/memories/notes/7/edit")).status_code == 404
