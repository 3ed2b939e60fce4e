"""The portal's Modules page in headless Chromium: an owner finds a module by typing (htmx),
reviews its install (a clashing command renamed), installs it, sets its settings through the
form generated from its schema (a mistake shown at its field), switches it off and uninstalls
it, the keyboard alone reaching the catalogue and the review; a moderator's read-only page;
axe-core and a phone's width on each page. The finer checks are over HTTP, in
tests/integration/test_portal_modules.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass

import pytest
from playwright.async_api import Browser, Page, expect

from tests.browser.test_portal import (  # noqa: F401 - portal is a fixture
    PASSWORD,
    Portal,
    axe_problems,
    new_page,
    portal,
    shoot,
    sign_in,
)
from tests.integration.test_marketplace import kudos_module
from tests.integration.test_portal_modules import SECRET, nested_module, tally_module
from tests.support.harness import say, serving_app
from waddlebot.features.shared import CATALOGUE, INSTALLS
from waddlebot.sdk.server import create_module_app


@dataclass
class Market:
    portal: Portal

    @property
    def modules(self) -> str:
        return f"{self.portal.base}/c/{self.portal.community}/modules"


@pytest.fixture
async def market(portal: Portal) -> AsyncIterator[Market]:  # noqa: F811 - the fixture
    async with (
        serving_app(create_module_app(tally_module(), SECRET.encode())) as tally_url,
        serving_app(create_module_app(nested_module(), SECRET.encode())) as nested_url,
    ):
        catalogue = portal.runtime.need(CATALOGUE)
        await catalogue.register(tally_url, SECRET, actor="operator")
        await catalogue.register(nested_url, SECRET, actor="operator")
        yield Market(portal)


async def tab_to(page: Page, target: object, most: int = 40) -> None:
    """Press Tab until ``target`` (a locator) has the focus."""
    for _ in range(most):
        if await target.evaluate("e => e === document.activeElement"):  # type: ignore[attr-defined]
            return
        await page.keyboard.press("Tab")
    await expect(target).to_be_focused()  # type: ignore[arg-type]


async def test_an_owner_installs_configures_switches_and_uninstalls(
    market: Market, browser: Browser
) -> None:
    context, page, watch = await new_page(browser)
    await sign_in(page, market.portal.base)
    await page.goto(market.modules)
    await expect(page.get_by_role("heading", name="Modules", exact=True)).to_be_visible()
    await shoot(page, "modules")

    # the keyboard alone: search as one types, open the module, ask for the review
    search = page.get_by_role("searchbox", name="Search the catalogue")
    await tab_to(page, search)
    await page.keyboard.type("count")
    rows = page.locator("#catalogue-rows")
    await expect(rows.get_by_role("link")).to_have_count(1)  # htmx swapped the rows in
    await expect(rows.get_by_role("link", name="tally")).to_be_visible()
    await page.keyboard.press("Tab")
    await page.keyboard.press("Tab")  # past the Search button, onto the one result
    await expect(rows.get_by_role("link", name="tally")).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="tally 1.2.0")).to_be_visible()
    review = page.get_by_role("button", name="Review the install")
    await tab_to(page, review)
    await page.keyboard.press("Enter")

    clash = page.get_by_label("!quote as")
    await expect(clash).to_have_attribute("aria-invalid", "true")
    await expect(page.locator(f"#{await clash.get_attribute('id')}-error")).to_contain_text(
        "!quote of tally clashes with !quote of memories"
    )
    await tab_to(page, clash)
    await page.keyboard.press("Control+A")
    await page.keyboard.type("tquote")
    await page.keyboard.press("Enter")  # checks again
    await expect(page.locator("#grants")).to_contain_text("update your overlays")
    await expect(page.locator("#review-summary")).to_contain_text("!tquote")
    await shoot(page, "modules-review")
    install = page.get_by_role("button", name="Install tally and allow this")
    await tab_to(page, install)
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("status")).to_have_text("Installed tally 1.2.0.")
    assert await say(market.portal.runtime, "!tquote") == ["a tally quote"]

    # the settings form from the module's schema
    points = page.get_by_label("points")
    await points.fill("11")
    await page.get_by_label("greeting").fill("hello there")
    await page.get_by_label("mood").select_option("wild")
    await page.get_by_role("button", name="Save the settings").click()
    await expect(points).to_have_attribute("aria-invalid", "true")
    await expect(page.get_by_text("11 is greater than the maximum of 10.")).to_be_visible()
    await expect(page.get_by_label("greeting")).to_have_value("hello there")  # kept
    await points.fill("4")
    await page.get_by_label("loud").check()
    await page.get_by_role("button", name="Save the settings").click()
    await expect(page.get_by_role("status")).to_have_text("Saved the settings of tally.")
    await shoot(page, "module-settings")
    installs = market.portal.runtime.need(INSTALLS)
    config = (await installs.get(market.portal.community, "tally")).config
    assert (config["points"], config["mood"], config["loud"]) == (4, "wild", True)

    await page.get_by_role("button", name="Switch it off").click()
    await expect(page.get_by_role("status")).to_have_text("tally is off here now.")
    await page.get_by_label("Also delete what it stored here").check()
    await page.get_by_role("button", name="Uninstall tally").click()
    await expect(page.get_by_role("status")).to_have_text(
        "Uninstalled tally and deleted what it stored."
    )
    await context.close()
    assert watch.problems == []


async def test_pages_are_accessible_fit_a_phone_and_are_read_only_for_a_moderator(
    market: Market, browser: Browser
) -> None:
    runtime, community = market.portal.runtime, market.portal.community
    await runtime.need(INSTALLS).install(community, "nested", actor="test")  # XSS in its text
    pages = ("", "/music", "/nested", "/tally")
    # axe is added to the page as a script, which the CSP would refuse: bypassed here only
    context, page, watch = await new_page(browser, bypass_csp=True)
    await sign_in(page, market.portal.base)
    for path in pages:
        await page.goto(market.modules + path)
        assert await axe_problems(page) == [], path
    await page.goto(market.modules + "/tally")
    await page.get_by_role("button", name="Review the install").click()
    await expect(page.get_by_label("!quote as")).to_have_attribute("aria-invalid", "true")
    assert await axe_problems(page) == []  # with an error shown
    await context.close()

    moderator = await market.portal.person("mona", "mona@example.org")
    await runtime.directory.set_role(community, moderator, "moderator")
    phone, page, watch = await new_page(browser, viewport={"width": 375, "height": 740})
    await page.goto(f"{market.portal.base}/login")
    await page.get_by_label("Email").fill("mona@example.org")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("link", name="@mona")).to_be_visible()
    for path in pages:
        await page.goto(market.modules + path)
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, (path, width)
    await page.goto(market.modules + "/music")
    await expect(page.locator("#settings")).to_contain_text("max_seconds")
    assert await page.get_by_role("button").filter(has_text="Save").count() == 0
    assert await page.get_by_role("button").filter(has_text="Switch").count() == 0
    await shoot(page, "modules-phone")
    await phone.close()
    assert watch.problems == []


async def test_an_owner_upgrades_a_module_after_seeing_what_it_asks_for(
    portal: Portal,  # noqa: F811 - the fixture
    browser: Browser,
) -> None:
    runtime, community = portal.runtime, portal.community
    async with AsyncExitStack() as served:

        async def register(version: str, *, whispers: bool = False) -> None:
            app = create_module_app(kudos_module(version, whispers=whispers), SECRET.encode())
            url = await served.enter_async_context(serving_app(app))
            await runtime.need(CATALOGUE).register(url, SECRET, actor="operator")

        await register("1.0.0")
        await runtime.need(INSTALLS).install(
            community, "kudos", actor="test", renames={"kudos": "thanks"}
        )
        await register("1.1.0", whispers=True)
        # axe is added to the page as a script, which the CSP would refuse: bypassed here only
        context, page, watch = await new_page(browser, bypass_csp=True)
        await sign_in(page, portal.base)
        await page.goto(f"{portal.base}/c/{community}/modules")
        await page.get_by_role("link", name="1.1.0 available").click()
        await expect(
            page.get_by_text("Installed here: 1.0.0. In the catalogue: 1.1.0.")
        ).to_be_visible()

        # the keyboard alone: ask for the upgrade, read what it asks for, confirm
        upgrade = page.get_by_role("button", name="Upgrade to 1.1.0", exact=True)
        await tab_to(page, upgrade)
        await page.keyboard.press("Enter")
        asks = page.locator("#upgrade-asks li")
        await expect(asks).to_have_text(["whisper people", "read raid events"])
        await expect(page.locator("#upgrade-commands")).to_contain_text("!hush")
        assert await axe_problems(page) == []
        await shoot(page, "module-upgrade")
        assert (await runtime.need(INSTALLS).get(community, "kudos")).version == "1.0.0"
        confirm = page.get_by_role("button", name="Upgrade to 1.1.0 and allow this")
        await tab_to(page, confirm)
        await page.keyboard.press("Enter")
        await expect(page.get_by_role("status")).to_have_text("kudos is now at 1.1.0.")
        assert await say(runtime, "!hush") == ["(private) only you hear this"]

        await register("1.1.1")  # asks for nothing new: upgraded at once
        await page.goto(f"{portal.base}/c/{community}/modules/kudos")
        await page.get_by_role("button", name="Upgrade to 1.1.1").click()
        await expect(page.get_by_role("status")).to_have_text("kudos is now at 1.1.1.")
        await expect(page.get_by_role("heading", name="kudos 1.1.1")).to_be_visible()
        await context.close()
    assert watch.problems == []
