"""The portal's AI page in headless Chromium: the owner, with the keyboard alone, adds an MCP
server (a real one on loopback), checks what it offers and allows a second tool; sets the
daily budget (a mistake shown at its field) and sees today's tokens on the meter; axe-core on
the page, with an error and a check shown; a moderator's read-only page at a phone's width.
The finer checks are over HTTP, in tests/integration/test_portal_ai.py."""

from __future__ import annotations

from playwright.async_api import Browser, expect

from tests.browser.test_portal import (  # noqa: F401 - portal is a fixture
    PASSWORD,
    Portal,
    axe_problems,
    new_page,
    portal,
    shoot,
    sign_in,
)
from tests.browser.test_portal_modules import tab_to
from tests.fakes.mcp_weather import weather_server
from tests.support.harness import serving_app
from waddlebot.features.ai.budget import TOKEN_BUDGET
from waddlebot.features.ai.providers import Completion
from waddlebot.features.shared import INSTALLS


async def test_an_owner_adds_checks_and_allows_an_mcp_server_and_sets_the_budget(
    portal: Portal,  # noqa: F811 - the fixture
    browser: Browser,
) -> None:
    runtime, community = portal.runtime, portal.community
    spent = Completion("hi", prompt_tokens=1200, completion_tokens=300)
    await runtime.need(TOKEN_BUDGET).book(community, "ollama", spent)
    async with serving_app(weather_server().streamable_http_app()) as weather:
        context, page, watch = await new_page(browser)
        await sign_in(page, portal.base)
        await page.goto(f"{portal.base}/c/{community}/ai")
        await expect(page.get_by_role("heading", name="AI", exact=True)).to_be_visible()
        await expect(page.locator("#today")).to_have_text(
            "1,500 tokens used today (UTC), with no daily limit."
        )

        # the keyboard alone: add the server with one tool, check it, allow another
        name = page.get_by_label("Name", exact=True)
        await tab_to(page, name, most=80)
        await page.keyboard.type("weather")
        await page.keyboard.press("Tab")
        await page.keyboard.type(f"{weather}/mcp")
        await page.keyboard.press("Tab")  # the command: none
        await page.keyboard.press("Tab")
        await page.keyboard.type("forecast")
        await page.keyboard.press("Enter")
        await expect(page.get_by_role("status")).to_have_text("Added the MCP server weather.")
        check = page.get_by_role("button", name="Check weather")
        await tab_to(page, check, most=80)
        await page.keyboard.press("Enter")
        radar = page.get_by_role("checkbox", name="radar")
        await expect(radar).not_to_be_checked()
        await expect(page.get_by_role("checkbox", name="forecast")).to_be_checked()
        await tab_to(page, radar)
        await page.keyboard.press("Space")
        allow = page.get_by_role("button", name="Allow the ticked tools")
        await tab_to(page, allow)
        await page.keyboard.press("Enter")
        await expect(page.get_by_role("status")).to_have_text(
            "The model may call these tools of weather: forecast, radar."
        )
        config = (await runtime.need(INSTALLS).get(community, "ai")).config
        assert config["mcp_tools"] == ["weather.forecast", "weather.radar"]

        # the budget: a mistake at its field, then the meter
        budget = page.get_by_label("Tokens a day")
        await budget.fill("-3")
        await page.get_by_role("button", name="Save the budget").click()
        await expect(budget).to_have_attribute("aria-invalid", "true")
        await expect(page.locator("#daily-tokens-error")).to_have_text(
            "-3 is less than the minimum of 0."
        )
        await budget.fill("5000")
        await page.get_by_role("button", name="Save the budget").click()
        await expect(page.get_by_role("status")).to_have_text("Saved the daily budget.")
        await expect(page.locator("#today")).to_have_text("1,500 of 5,000 tokens used today (UTC).")
        await expect(page.get_by_label("Today's budget used")).to_have_attribute("value", "1500")
        await page.get_by_role("button", name="Check weather").click()
        await expect(page.get_by_role("checkbox", name="radar")).to_be_checked()
        await shoot(page, "ai")
        await context.close()
        assert watch.problems == []

        # axe is added to the page as a script, which the CSP would refuse: bypassed here only
        context, page, _ = await new_page(browser, bypass_csp=True)
        await sign_in(page, portal.base)
        await page.goto(f"{portal.base}/c/{community}/ai?days=30")
        assert await axe_problems(page) == []
        await page.get_by_role("button", name="Check weather").click()
        await expect(page.get_by_role("checkbox", name="radar")).to_be_visible()
        await page.get_by_label("Name", exact=True).fill("Not A Name")
        await page.get_by_label("URL (streamable HTTP)").fill("https://w.example/mcp")
        await page.get_by_role("button", name="Add the server").click()
        await expect(page.get_by_label("Name", exact=True)).to_have_attribute(
            "aria-invalid", "true"
        )
        assert await axe_problems(page) == []  # with an error shown
        await context.close()


async def test_a_moderator_reads_the_page_on_a_phone(
    portal: Portal,  # noqa: F811 - the fixture
    browser: Browser,
) -> None:
    runtime, community = portal.runtime, portal.community
    await runtime.need(INSTALLS).configure(
        community,
        "ai",
        {"daily_tokens": 800, "mcp_servers": [{"name": "weather", "url": "https://w.example/mcp"}]},
        actor="test",
    )
    await runtime.need(TOKEN_BUDGET).book(community, "openai", Completion("x", prompt_tokens=600))
    moderator = await portal.person("mona", "mona@example.org")
    await runtime.directory.set_role(community, moderator, "moderator")
    phone, page, watch = await new_page(browser, viewport={"width": 375, "height": 740})
    await page.goto(f"{portal.base}/login")
    await page.get_by_label("Email").fill("mona@example.org")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("link", name="@mona")).to_be_visible()
    await page.goto(f"{portal.base}/c/{community}/ai")
    await expect(page.locator("#today")).to_have_text("600 of 800 tokens used today (UTC).")
    await expect(page.locator("#budget-read")).to_have_text("This community set 800 tokens a day.")
    await expect(page.locator("#mcp-servers")).to_contain_text("https://w.example/mcp")
    assert await page.get_by_role("button").filter(has_text="Save").count() == 0
    assert await page.get_by_role("button").filter(has_text="Check").count() == 0
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, width
    await shoot(page, "ai-phone")
    await phone.close()
    assert watch.problems == []
