"""The memories, inventory and calendar pages in headless Chromium: each page's main flow
(with htmx where it swaps part of the page), XSS payloads shown as text, keyboard-only use,
axe-core and a phone's width. tests/integration/test_portal_records.py has the finer checks
(field errors, roles, another community, the audit log)."""

from __future__ import annotations

from datetime import timedelta

from playwright.async_api import Browser, Locator, Page, expect

from tests.browser.test_portal import (
    XSS,
    Portal,
    axe_problems,
    new_page,
    portal,  # noqa: F401 - the fixture
    shoot,
    sign_in,
)
from waddlebot.features.calendar.events import NewEvent
from waddlebot.features.memories.service import Author

PAGES = ("memories", "inventory", "calendar")


async def tab_to(page: Page, target: Locator, most: int = 80) -> None:
    """Press Tab until ``target`` has the focus (as one would with a keyboard only)."""
    for _ in range(most):
        await page.keyboard.press("Tab")
        if await target.evaluate("e => e === document.activeElement"):
            return
    raise AssertionError(f"Tab never reached {target}")


async def asked_in_chat(site: Portal, title: str, days: int = 2) -> int:
    """An event a member asked for in chat: it waits for a moderator."""
    member = await site.person("pat")
    start = site.runtime.calendar.clock.now() + timedelta(days=days)
    wanted = NewEvent(title=title, starts_at=start, timezone="UTC", description="bring popcorn")
    event = await site.runtime.calendar.add(
        site.community, wanted, creator_user_id=member, creator_name="@pat", level=100
    )
    return event.id


async def test_quotes_searched_edited_and_deleted_with_links_and_notes(
    portal: Portal,  # noqa: F811
    browser: Browser,
) -> None:
    context, page, watch = await new_page(browser)
    await sign_in(page, portal.base)
    await page.goto(f"{portal.base}/c/{portal.community}/")
    await (
        page.get_by_role("navigation", name="Penguins").get_by_role("link", name="Memories").click()
    )
    await expect(page.get_by_role("heading", name="Memories", exact=True)).to_be_visible()
    for text, who in ((XSS, XSS), ("penguins waddle home", "alice")):
        await page.get_by_label("Quote", exact=True).fill(text)
        await page.get_by_label("Who said it").fill(who)
        await page.get_by_role("button", name="Add the quote").click()
    rows = page.locator("#quote-rows tbody tr")
    await expect(rows).to_have_count(2)
    await expect(rows.first).to_contain_text("<script>alert(2)</script>")
    await page.get_by_label("Search the quotes").press_sequentially("waddle")  # htmx, no reload
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("penguins waddle home")
    await page.get_by_role("link", name="Edit quote 2").click()
    await page.get_by_label("Text").fill("penguins waddle home at night")
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator("#quote-rows")).to_contain_text("penguins waddle home at night")
    await page.get_by_role("button", name="Delete quote 1").click()
    await expect(rows).to_have_count(1)
    await expect(page.locator("#quote-rows")).not_to_contain_text("alert(2)")
    await page.get_by_label("Address").fill("https://example.org/penguins")
    await page.get_by_label("Title").fill(XSS)
    await page.get_by_role("button", name="Save the link").click()
    await page.get_by_label("Note", exact=True).fill(XSS)
    await page.get_by_label("Labels").fill("todo")
    await page.get_by_role("button", name="Add the note").click()
    await expect(page.locator("#notes")).to_contain_text("<img src=x")
    await expect(page.locator("#urls")).to_contain_text("<script>alert(2)</script>")
    assert await page.locator("main img, main script").count() == 0
    left = await portal.runtime.memories.quotes.list(portal.community)
    assert [quote.text for quote in left] == ["penguins waddle home at night"]
    await context.close()
    assert watch.problems == []


async def test_inventory_by_keyboard_only(portal: Portal, browser: Browser) -> None:  # noqa: F811
    bob = await portal.person("bob")
    await portal.runtime.inventory.add(portal.community, "Tripod", "", ["video"])
    await portal.runtime.inventory.checkout(portal.community, "Tripod", bob, "@bob")
    context, page, watch = await new_page(browser)
    await sign_in(page, portal.base)
    await page.goto(f"{portal.base}/c/{portal.community}/inventory")
    await tab_to(page, page.get_by_label("Name"))
    await page.keyboard.type("Mic " + XSS[:40])
    await page.keyboard.press("Tab")
    await page.keyboard.type("the good one")
    await page.keyboard.press("Tab")
    await page.keyboard.type("audio")
    await page.keyboard.press("Enter")
    items = page.locator("#item-rows tbody tr")
    await expect(items).to_have_count(2)
    await expect(page.locator("#item-rows")).to_contain_text('Mic <img src=x onerror="alert')
    await tab_to(page, page.get_by_label("Search the items"))
    await page.keyboard.type("#audio")
    await expect(items).to_have_count(1)
    await tab_to(page, page.get_by_role("button", name="Check in Tripod"))
    await page.keyboard.press("Enter")
    await expect(page.locator("#checkouts")).to_contain_text("Nothing is checked out.")
    await tab_to(page, page.get_by_role("button", name="Delete Tripod"))
    await page.keyboard.press("Enter")
    await expect(page.locator("#item-rows")).not_to_contain_text("Tripod")
    assert await portal.runtime.inventory.get(portal.community, "Tripod") is None
    assert await page.locator("main img, main script").count() == 0
    await context.close()
    assert watch.problems == []


async def test_the_approval_queue_events_and_the_feed_link(
    portal: Portal,  # noqa: F811
    browser: Browser,
) -> None:
    movie = await asked_in_chat(portal, "Movie night " + XSS)
    await asked_in_chat(portal, "Speedrun race", days=3)
    context, page, watch = await new_page(browser)
    await context.grant_permissions(["clipboard-read", "clipboard-write"])
    await sign_in(page, portal.base)
    await page.goto(f"{portal.base}/c/{portal.community}/calendar")
    count = page.locator("#pending-count")
    await expect(count).to_have_text("(2)")
    queue = page.locator("#pending tbody tr")
    await page.get_by_role("button", name="Approve Movie night").click()
    await expect(count).to_have_text("(1)")
    await expect(queue).to_have_count(1)
    await expect(page.locator("#upcoming-rows")).to_contain_text("<script>alert(2)</script>")
    await page.get_by_role("button", name="Reject Speedrun race").click()
    await expect(count).to_have_text("(0)")
    await expect(queue).to_have_count(0)
    decided = await portal.runtime.calendar.get(portal.community, movie)
    assert decided is not None and decided.status == "approved"
    start = portal.runtime.calendar.clock.now() + timedelta(days=4)
    await page.get_by_label("Title").fill("Weekly hangout")
    await page.get_by_label("Starts").fill(start.strftime("%Y-%m-%dT%H:%M"))
    await page.get_by_label("Repeats").select_option("weekly")
    await page.get_by_role("button", name="Add the event").click()
    upcoming = page.locator("#upcoming-rows tbody tr")
    await expect(upcoming).to_have_count(2)
    await expect(page.locator("#upcoming-rows")).to_contain_text("weekly")
    await page.get_by_role("link", name="Edit Weekly hangout").click()
    await page.get_by_label("Title").fill("Hangout")
    await page.get_by_label("Every how many weeks or months").fill("2")
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator("#upcoming-rows")).to_contain_text("every 2 weeks")
    await page.get_by_role("button", name="Cancel Hangout").click()
    await expect(upcoming).to_have_count(1)
    await page.get_by_role("button", name="Make the link").click()
    link = (await page.locator("#feed-link").text_content() or "").strip()
    assert "/feed.ics?token=" in link
    await page.get_by_role("button", name="Copy the link").click()
    await expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert await page.evaluate("navigator.clipboard.readText()") == link
    assert await page.locator("main img, main script").count() == 0
    await context.close()
    assert watch.problems == []


async def test_the_pages_are_accessible_and_fit_a_phone(
    portal: Portal,  # noqa: F811
    browser: Browser,
) -> None:
    author = Author("@alice", None, None, "user:test")
    memories = portal.runtime.memories
    await memories.quotes.add(portal.community, "Never give up, never surrender", author=author)
    await memories.urls.add(
        portal.community, "https://example.org/a/long/path", "Docs", author=author
    )
    await memories.notes.add(portal.community, "Bring snacks on Friday", ["food"], author=author)
    await portal.runtime.inventory.add(portal.community, "Green screen", "3 m wide", ["video"])
    await asked_in_chat(portal, "Community game night")
    # axe is added to the page as a script, which the CSP would refuse: bypassed here only
    context, page, _ = await new_page(browser, bypass_csp=True)
    await sign_in(page, portal.base)
    for name in PAGES:
        await page.goto(f"{portal.base}/c/{portal.community}/{name}")
        assert await axe_problems(page) == [], name
        await shoot(page, name)
    await context.close()
    phone, page, watch = await new_page(browser, viewport={"width": 375, "height": 740})
    await sign_in(page, portal.base)
    for name in PAGES:
        await page.goto(f"{portal.base}/c/{portal.community}/{name}")
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, (name, width)
    await phone.close()
    assert watch.problems == []
