"""The dashboard and the audit log pages in headless Chromium: the chart takes a new point
when a chat message arrives (over Server-Sent Events, no reload), the audit log's filters
by keyboard (htmx, no reload) and its pages, XSS inert, axe-core and a phone's width.
Screenshots as in test_portal.py (``WADDLEBOT_TEST_SCREENSHOT_DIR=docs/images/portal``)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect
from pydantic import SecretStr

from tests.browser.conftest import browser_settings
from tests.browser.test_portal import XSS, Portal, axe_problems, new_page, shoot, sign_in
from tests.browser.test_portal_modules import tab_to
from tests.integration.test_portal_platforms import XSS as PROCESS_XSS
from tests.integration.test_portal_platforms import elsewhere_collectors
from tests.support.harness import free_port, say, serving
from waddlebot.infra.secretbox import SecretBox


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Portal]:
    port = free_port()
    settings = browser_settings(
        tmp_path,
        portal_public_url=f"http://127.0.0.1:{port}",
        portal_live_seconds=0.2,
        secret_keys=[SecretStr(SecretBox.generate_key())],
    )
    async with serving(settings, port=port) as (base, runtime):
        home = await runtime.directory.resolve_entity("console:local", "console", name="Penguins")
        other = await runtime.directory.resolve_entity(
            "console:elsewhere", "console", name="Others"
        )
        found = Portal(base, runtime, home.community_id, other.community_id)
        alice = await found.person("alice", "alice@example.org")
        await runtime.directory.set_role(found.community, alice, "owner")
        reporters = await elsewhere_collectors(runtime, home.community_id)
        yield found
        for reporter in reporters:
            await reporter.stop()


async def fits_a_phone(page: Page) -> None:
    await page.set_viewport_size({"width": 375, "height": 740})
    # the chart follows its box's new width when the browser says it changed (a
    # ResizeObserver, whose calls come before the next frame is drawn)
    await page.evaluate(
        "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"
    )
    assert await page.evaluate("document.documentElement.scrollWidth") <= 375
    await page.set_viewport_size({"width": 1280, "height": 720})


async def settled(page: Page) -> None:
    """Wait until htmx has no request in flight and has finished swapping in the last."""
    busy = page.locator(".htmx-request, .htmx-swapping, .htmx-settling, .htmx-added")
    await expect(busy).to_have_count(0)


async def test_the_chart_takes_a_new_point_when_chat_arrives(
    site: Portal, browser: Browser
) -> None:
    await say(site.runtime, "!addcom !hi hello", user=XSS)  # refused: a moderator's
    await site.runtime.audit.flush()
    context, page, watch = await new_page(browser)
    await sign_in(page, site.base)
    await page.goto(f"{site.base}/c/{site.community}/")
    side = page.get_by_role("navigation", name="Penguins")
    await expect(side.get_by_role("link").nth(1)).to_have_text("Dashboard")  # first page
    await side.get_by_role("link", name="Dashboard").click()
    chart = page.locator("#activity-chart")
    await expect(chart).to_have_attribute("data-points", "60")  # the stream's first figures
    await expect(chart.locator("canvas")).to_be_visible()  # drawn by uPlot
    await expect(chart).to_have_attribute("data-messages", "1")
    marker = await page.evaluate("() => (window.stayed = performance.timeOrigin)")
    await say(site.runtime, "hello, penguins")
    await expect(chart).to_have_attribute("data-messages", "2")
    await expect(page.locator("#total-messages")).to_have_text("2")
    # the table's minutes count both lines (one minute's row, or two when a minute turned
    # between them: the newest row alone would say 1 then)
    await page.wait_for_function(
        """() => [...document.querySelectorAll('#activity-table tbody tr td:nth-child(2)')]
            .reduce((sum, cell) => sum + Number(cell.textContent), 0) === 2"""
    )
    assert await page.evaluate("() => window.stayed") == marker  # no reload
    commands = page.get_by_role("region", name="Last commands")
    await expect(commands.get_by_role("cell", name="!addcom")).to_be_visible()
    await expect(commands.get_by_text(XSS)).to_be_visible()  # shown as text
    platforms = page.get_by_role("region", name="Platforms")
    await expect(platforms.get_by_role("cell", name="console:local")).to_be_visible()
    await fits_a_phone(page)
    await shoot(page, "dashboard")
    await context.close()
    assert watch.problems == []  # nothing the CSP refused, no script from the payload

    context, page, _ = await new_page(browser, bypass_csp=True)  # axe is injected
    await sign_in(page, site.base)
    await page.goto(f"{site.base}/c/{site.community}/dashboard")
    await expect(page.locator("#activity-chart")).to_have_attribute("data-points", "60")
    assert await axe_problems(page) == []
    await context.close()


async def test_the_connections_health_leads_to_each_connection_by_keyboard(
    site: Portal, browser: Browser
) -> None:
    context, page, watch = await new_page(browser)
    await sign_in(page, site.base)
    await page.goto(f"{site.base}/c/{site.community}/dashboard")
    health = page.get_by_role("list", name="Connections")
    await expect(health.get_by_role("listitem")).to_have_text(
        ["Twitch: 2 of 2 EventSub sessions ready", "Discord: 1 of 2 gateway shards ready"]
    )
    to_platforms = page.get_by_role("navigation", name="Penguins").get_by_role(
        "link", name="Platforms"
    )
    await tab_to(page, to_platforms)
    await page.keyboard.press("Enter")
    discord = page.locator("#discord")
    await expect(discord.locator("#discord-health")).to_have_text(
        "Discord: 1 of 2 gateway shards ready"
    )
    resuming = discord.get_by_role("row").filter(has_text="shard 1")
    await expect(resuming.get_by_role("cell").nth(2)).to_have_text("resuming")
    await expect(resuming.get_by_role("cell").nth(6)).to_have_text("no")
    named = discord.get_by_text(f"discord-{PROCESS_XSS}", exact=True)
    await expect(named.first).to_be_visible()  # a process name, shown as text
    await shoot(page, "platforms-connections")
    assert watch.problems == []
    await context.close()

    context, page, _ = await new_page(browser, bypass_csp=True)  # axe is injected
    await sign_in(page, site.base)
    await page.goto(f"{site.base}/c/{site.community}/platforms")
    assert await axe_problems(page) == []
    await page.set_viewport_size({"width": 375, "height": 740})
    assert await page.evaluate("document.documentElement.scrollWidth") <= 375
    await context.close()


async def test_the_audit_log_filters_by_keyboard_and_pages(site: Portal, browser: Browser) -> None:
    audit = site.runtime.audit
    for n in range(55):
        audit.change("label.create", "user:7@203.0.113.7", f"label:l{n}", site.community)
    audit.record(
        "role.add", decision="change", actor=XSS, target="user:9", community_id=site.community
    )
    audit.change("label.create", "user:8", "label:of-others", site.other)
    await say(site.runtime, "!addcom !hi hello", user="bob")  # refused: a moderator's command
    await audit.flush()
    context, page, watch = await new_page(browser)
    await sign_in(page, site.base)
    await page.goto(f"{site.base}/c/{site.community}/audit")
    rows = page.locator("#audit tbody tr")
    await expect(rows).to_have_count(50)
    await expect(page.get_by_text(XSS)).to_be_visible()
    assert "of-others" not in await page.content()
    marker = await page.evaluate("() => (window.stayed = performance.timeOrigin)")

    what = page.get_by_label("What")
    await what.focus()
    await page.keyboard.type("role.add")
    await page.keyboard.press("Tab")  # leaving the field is a change: the table follows
    await expect(rows).to_have_count(1)
    await expect(page).to_have_url(
        f"{site.base}/c/{site.community}/audit?actor=&action=role.add&since=&until=&decision="
    )
    await expect(page.get_by_label("What")).to_have_value("role.add")
    await page.get_by_label("What").fill("")
    await page.keyboard.press("Shift+Tab")
    await expect(rows).to_have_count(50)
    await settled(page)
    await page.get_by_label("Outcome").focus()
    await page.keyboard.press("ArrowDown")  # allowed: none (the labels are changes)
    await expect(rows).to_have_count(0)
    await settled(page)
    await page.keyboard.press("ArrowDown")  # refused
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("command.addcom")
    await settled(page)
    await page.get_by_label("Outcome").select_option("")
    await expect(rows).to_have_count(50)
    await page.get_by_role("link", name="Older entries").focus()
    await page.keyboard.press("Enter")
    # 55 + 1 + 1, and the site's two places attached (community.attach), less the first 50
    await expect(rows).to_have_count(9)
    await expect(page.get_by_role("link", name="Newest entries")).to_be_visible()
    older = page.url
    assert await page.evaluate("() => window.stayed") == marker  # all without a reload

    await page.get_by_label("From").fill("2026-12-06T10:00")
    await expect(page).to_have_url(re.compile("since=2026-12-06T10%3A00"))
    await settled(page)
    to = page.get_by_label("To")
    await to.fill("2026-12-06T09:00")
    await expect(to).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#until-error")).to_have_text("After the start.")
    await page.goto(f"{site.base}/c/{site.community}/audit")
    await fits_a_phone(page)
    await page.goto(older)
    await shoot(page, "audit")  # a short page: the older entries
    await context.close()
    assert watch.problems == []

    context, page, _ = await new_page(browser, bypass_csp=True)  # axe is injected
    await sign_in(page, site.base)
    await page.goto(f"{site.base}/c/{site.community}/audit?until=x")
    assert await axe_problems(page) == []  # with a field in error, too
    await page.goto(f"{site.base}/c/{site.community}/audit")
    assert await axe_problems(page) == []
    await context.close()
