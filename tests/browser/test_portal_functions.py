"""The portal's Serverless page in headless Chromium: the example eightball deployed on the fake
OpenWhisk and installed, asked in chat; the owner sets the daily budget with the keyboard alone
and sees the day's calls measured against it; a mistake shown at the field; a moderator's
read-only page on a phone's width; axe-core on each. The finer checks are over HTTP, in
tests/integration/test_portal_functions.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from tests.browser.test_portal import (
    PASSWORD,
    Portal,
    axe_problems,
    new_page,
    serving_portal,
    shoot,
    sign_in,
)
from tests.browser.test_portal_modules import tab_to
from tests.integration.test_serverless_commands import (  # noqa: F401 - fixtures
    ANSWER,
    QUESTION,
    Engines,
    engines,
    zips,
)
from tests.support.harness import say
from waddlebot.features.shared import CATALOGUE, FUNCTION_BUDGETS, INSTALLS
from waddlebot.serverless.clients import openwhisk_target


@pytest.fixture
async def site(tmp_path: Path, engines: Engines) -> AsyncIterator[Portal]:  # noqa: F811
    """eightball on OpenWhisk, installed in the owner's community and asked once."""
    # a function's first call starts its worker: the serverless tests' deadline
    async with serving_portal(tmp_path, module_timeout_seconds=10.0) as portal:
        target = openwhisk_target(engines.whisk.url, f"{engines.whisk.namespace}/eightball")
        catalogue = portal.runtime.need(CATALOGUE)
        await catalogue.register_function("openwhisk", target, engines.whisk.api_key, actor="op")
        await portal.runtime.need(INSTALLS).install(portal.community, "eightball", actor="test")
        (answer,) = await say(portal.runtime, QUESTION)
        assert answer.startswith(ANSWER)
        yield portal


def functions(site: Portal) -> str:
    return f"{site.base}/c/{site.community}/functions"


async def test_an_owner_sets_the_daily_budget_with_the_keyboard(
    site: Portal, browser: Browser
) -> None:
    context, page, watch = await new_page(browser)
    await sign_in(page, site.base)
    await page.goto(f"{site.base}/c/{site.community}/")
    await page.get_by_role("link", name="Serverless").first.click()
    await expect(page.get_by_role("heading", name="Serverless", exact=True)).to_be_visible()
    row = page.get_by_role("row", name="eightball")
    await expect(row).to_contain_text("Apache OpenWhisk")
    await expect(row).to_contain_text("closed")
    await expect(page.locator("#budget-line")).to_contain_text(
        "Serverless calls today: 1 (no limit)."
    )

    daily = page.get_by_label("Calls a day")
    await tab_to(page, daily, most=60)
    await page.keyboard.type("-1")
    await page.keyboard.press("Enter")
    await expect(daily).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#budget-daily-error")).to_have_text(
        "Input should be greater than or equal to 0."
    )

    await tab_to(page, daily, most=60)
    await page.keyboard.press("Control+A")
    await page.keyboard.type("4")
    await page.keyboard.press("Enter")
    await expect(page.locator("#budget-line")).to_contain_text("1 of 4 a day.")
    await expect(page.get_by_role("meter").first).to_have_attribute("value", "1")
    await expect(page.get_by_label("Calls a day")).to_have_value("4")
    assert await site.runtime.need(FUNCTION_BUDGETS).own(site.community) == 4
    await shoot(page, "functions")

    await page.get_by_role("button", name="Use the operator's default").click()
    await expect(page.locator("#budget-line")).to_contain_text("(no limit)")
    assert await site.runtime.need(FUNCTION_BUDGETS).own(site.community) is None
    await context.close()
    assert watch.problems == []


async def test_the_page_is_accessible_and_read_only_for_a_moderator_on_a_phone(
    site: Portal, browser: Browser
) -> None:
    await site.runtime.need(FUNCTION_BUDGETS).set(site.community, 10, actor="test")
    # axe is added to the page as a script, which the CSP would refuse: bypassed here only
    context, page, watch = await new_page(browser, bypass_csp=True)
    await sign_in(page, site.base)
    await page.goto(functions(site))
    assert await axe_problems(page) == []
    await page.get_by_label("Calls a day").fill("")
    await page.get_by_role("button", name="Save the budget").click()
    await expect(page.get_by_label("Calls a day")).to_have_attribute("aria-invalid", "true")
    assert await axe_problems(page) == []  # with the error shown
    await page.goto(f"{site.base}/c/{site.community}/modules/eightball")
    await expect(page.locator("#budget-line")).to_contain_text("1 of 10 a day.")
    await page.locator("#budget-line").get_by_role("link", name="Calls and budget").click()
    await expect(page.get_by_role("heading", name="Serverless", exact=True)).to_be_visible()
    await context.close()

    moderator = await site.person("mona", "mona@example.org")
    await site.runtime.directory.set_role(site.community, moderator, "moderator")
    phone, page, watch = await new_page(browser, viewport={"width": 375, "height": 740})
    await page.goto(f"{site.base}/login")
    await page.get_by_label("Email").fill("mona@example.org")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("link", name="@mona")).to_be_visible()
    await page.goto(functions(site))
    await expect(page.locator("#budget-line")).to_contain_text("1 of 10 a day.")
    assert await page.get_by_role("button").filter(has_text="budget").count() == 0
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, width
    await phone.close()
    assert watch.problems == []
