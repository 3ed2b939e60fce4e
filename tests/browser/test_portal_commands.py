"""The Commands pages in headless Chromium: a moderator adds (by keyboard only), finds as they
type, edits and deletes a command, with an XSS response inert; an admin imports a Nightbot
export after its preview. axe-core on every page, a phone's width, and screenshots for
docs/portal.md (tests/integration/test_portal_commands.py checks the finer points over HTTP)."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Browser, expect

from tests.browser.test_portal import (
    XSS,
    Portal,
    axe_problems,
    new_page,
    portal,  # noqa: F401 - the fixture
    shoot,
    sign_in_as,
)
from waddlebot.features.commands.service import Changes

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "imports"


async def test_a_moderator_manages_commands_by_keyboard(portal: Portal, browser: Browser) -> None:  # noqa: F811
    mo = await portal.person("mo", "mo@example.org")
    await portal.runtime.directory.set_role(portal.community, mo, "moderator")
    for name, response in (("discord", "Join us at https://discord.gg/example"), ("lurk", XSS)):
        await portal.runtime.commands.add(portal.community, name, Changes(response=response))
    await portal.runtime.commands.add(portal.other, "elsewhere", Changes(response="not here"))
    context, page, watch = await new_page(browser, bypass_csp=False)
    await sign_in_as(page, portal.base, "mo@example.org")
    base = f"{portal.base}/c/{portal.community}/commands"
    await page.goto(base)
    await expect(page.get_by_role("link", name="Import commands")).to_have_count(0)
    rows = page.locator("#command-rows")
    await expect(rows).to_contain_text("<script>alert(2)</script>")
    await expect(rows).not_to_contain_text("elsewhere")

    await page.get_by_label("Name (without !)").focus()
    await page.keyboard.type("hello")
    await page.keyboard.press("Tab")
    await expect(page.get_by_label("Response", exact=True)).to_be_focused()
    await page.keyboard.type("Hi $(user)!")
    add = page.get_by_role("button", name="Add the command")
    for _ in range(6):
        await page.keyboard.press("Tab")
        if await add.evaluate("e => e === document.activeElement"):
            break
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("status")).to_have_text("Added !hello.")

    await page.get_by_text("Variables a response may use").first.click()
    await expect(page.get_by_role("cell", name="$(touser)", exact=True)).to_be_visible()
    await shoot(page, "commands")

    await page.get_by_label("Search by name or response").fill("discord.gg")
    await expect(rows.get_by_role("rowheader")).to_have_text(["!discord"])
    await page.get_by_label("Search by name or response").fill("")
    await expect(rows.get_by_role("rowheader")).to_have_count(3)

    await page.get_by_role("link", name="Edit !hello").focus()
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="Edit !hello")).to_be_visible()
    await page.get_by_label("Response", exact=True).fill("Hello, $(touser)!")
    await page.get_by_label("Per person").fill("999999")
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_label("Per person")).to_have_attribute("aria-invalid", "true")
    await page.get_by_label("Per person").fill("30")
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("status")).to_have_text("Saved !hello.")
    await expect(rows).to_contain_text("Hello, $(touser)!")

    await page.get_by_role("button", name="Delete !lurk").click()
    await expect(rows).to_contain_text("Deleted !lurk.")
    assert await portal.runtime.commands.get(portal.community, "lurk") is None
    assert await page.locator("main img, script:not([src])").count() == 0
    await context.close()
    assert watch.problems == []


async def test_an_admin_imports_after_a_preview(portal: Portal, browser: Browser) -> None:  # noqa: F811
    await portal.runtime.commands.add(portal.community, "hug", Changes(response="mine"))
    # axe is added to the page as a script, which the CSP would refuse: bypassed here only
    context, page, watch = await new_page(browser, bypass_csp=True)
    await sign_in_as(page, portal.base, "alice@example.org")
    await page.goto(f"{portal.base}/c/{portal.community}/commands")
    assert await axe_problems(page) == []
    await page.get_by_role("link", name="Edit !hug").click()
    assert await axe_problems(page) == []
    await page.get_by_role("link", name="Import commands").click()
    await page.get_by_label("From", exact=True).select_option("nightbot")
    await page.get_by_label("The export file").set_input_files(str(FIXTURES / "nightbot.json"))
    await page.get_by_role("button", name="Preview").click()
    await expect(page.get_by_text("Nothing has changed yet.")).to_be_visible()
    clash = page.get_by_role("row").filter(has_text="!hug")
    await expect(clash).to_contain_text("skipped: clashes with one here")
    assert await portal.runtime.commands.get(portal.community, "hello") is None
    assert await axe_problems(page) == []
    await shoot(page, "commands-import")
    await page.get_by_role("button", name="Import").click()
    await expect(page.get_by_role("heading", name="Imported")).to_be_visible()
    assert await portal.runtime.commands.get(portal.community, "hello") is not None
    await context.close()

    phone, page, _ = await new_page(browser, viewport={"width": 375, "height": 740})
    await sign_in_as(page, portal.base, "alice@example.org")
    for path in ("commands", "commands/import", "commands/edit?name=hello"):
        await page.goto(f"{portal.base}/c/{portal.community}/{path}")
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, (path, width)
    await phone.close()
    assert watch.problems == []


async def test_aliases_and_timers_by_keyboard(portal: Portal, browser: Browser) -> None:  # noqa: F811
    mo = await portal.person("mo", "mo@example.org")
    await portal.runtime.directory.set_role(portal.community, mo, "moderator")
    await portal.runtime.timers.add(portal.community, "console:local", "rules", 15, XSS)
    context, page, watch = await new_page(browser, bypass_csp=True)  # for axe, see above
    await sign_in_as(page, portal.base, "mo@example.org")
    await page.goto(f"{portal.base}/c/{portal.community}/aliases")
    await expect(page.get_by_label("Force it over")).to_have_count(0)  # for admins
    await page.get_by_label("Name (without !)").focus()
    await page.keyboard.type("hi")
    await page.keyboard.press("Tab")
    await page.keyboard.type("!so $1")
    await page.keyboard.press("Enter")  # submits the form
    await expect(page.get_by_role("status")).to_have_text("Added the alias !hi.")
    rows = page.locator("#alias-rows")
    await expect(rows).to_contain_text("!so $1")
    assert await axe_problems(page) == []
    await shoot(page, "aliases")
    await page.get_by_role("button", name="Remove !hi").focus()
    await page.keyboard.press("Enter")
    await expect(rows).to_contain_text("Removed the alias !hi.")

    await page.goto(f"{portal.base}/c/{portal.community}/timers")
    timer_rows = page.locator("#timer-rows")
    await expect(timer_rows).to_contain_text('<img src=x onerror="alert(1)">')
    assert await page.locator("main img").count() == 0
    await page.get_by_label("Name", exact=True).focus()
    await page.keyboard.type("discord")
    await page.keyboard.press("Tab")  # where it posts: the only place, chosen already
    await page.keyboard.press("Tab")
    await page.keyboard.type("30")
    await page.keyboard.press("Tab")  # chat lines: 0
    await page.keyboard.press("Tab")
    await expect(page.get_by_label("Message", exact=True)).to_be_focused()
    await page.keyboard.type("Join us on Discord!")
    await page.keyboard.press("Tab")
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("status")).to_have_text("Added the timer discord.")
    await page.get_by_label("Search by name or message").fill("discord")
    await expect(timer_rows.get_by_role("rowheader")).to_have_text(["discord"])
    await page.get_by_role("button", name="Switch the timer discord off").click()
    await expect(page.get_by_role("button", name="Switch the timer discord on")).to_be_visible()
    assert await axe_problems(page) == []
    await shoot(page, "timers")
    await context.close()

    phone, page, _ = await new_page(browser, viewport={"width": 375, "height": 740})
    await sign_in_as(page, portal.base, "mo@example.org")
    for path in ("aliases", "timers"):
        await page.goto(f"{portal.base}/c/{portal.community}/{path}")
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, (path, width)
    await phone.close()
    assert watch.problems == []
