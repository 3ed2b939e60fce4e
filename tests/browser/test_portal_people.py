"""The people, labels and overlays pages in headless Chromium: labels defined and given, a role
given by keyboard only, the overlay pages previewed live in the page (a test alert shows in
the frame), their URL copied and replaced, axe-core and a phone's width.
tests/integration/test_portal_people.py has the finer checks (levels, another community, the
audit log)."""

from __future__ import annotations

from playwright.async_api import Browser, expect

from tests.browser.test_portal import (
    XSS,
    Portal,
    axe_problems,
    new_page,
    portal,  # noqa: F401 - the fixture
    shoot,
    sign_in,
)
from tests.browser.test_portal_records import tab_to

PAGES = ("people", "labels", "overlays")


async def test_labels_defined_and_given_and_a_role_by_keyboard(
    portal: Portal,  # noqa: F811
    browser: Browser,
) -> None:
    pat = await portal.person("pat", display_name=XSS)
    await portal.runtime.directory.set_role(portal.community, pat, "member")
    context, page, watch = await new_page(browser)
    await sign_in(page, portal.base)
    await page.goto(f"{portal.base}/c/{portal.community}/")
    nav = page.get_by_role("navigation", name="Penguins")
    await nav.get_by_role("link", name="Labels").click()
    await page.get_by_label("Name").fill("regular")
    await page.get_by_label("Description").fill(XSS)
    await page.get_by_label("Grants the level").select_option(label="vip (300)")
    await page.get_by_role("button", name="Add the label").click()
    await expect(page.locator("#defined tbody tr")).to_have_count(1)
    await expect(page.locator("#defined")).to_contain_text("<script>alert(2)</script>")
    await page.get_by_label("Labels one person may carry here").fill("5")
    await page.get_by_role("button", name="Save the limits").click()
    await expect(page.get_by_label("Labels one person may carry here")).to_have_value("5")

    await nav.get_by_role("link", name="People").click()
    await page.get_by_label("Search by name").press_sequentially("img")  # htmx, no reload
    rows = page.locator("#people-rows tbody tr")
    await expect(rows).to_have_count(1)
    await expect(rows).to_contain_text("<script>alert(2)</script>")
    await rows.get_by_role("link").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("@pat member")
    await expect(page.locator("main")).to_contain_text("console")  # the linked account
    await page.get_by_role("button", name="Give").click()
    await expect(page.locator("#labels")).to_contain_text("regular")
    # the role, by keyboard only
    await tab_to(page, page.get_by_label("Their role"))
    await page.keyboard.press("ArrowDown")  # member -> moderator
    await tab_to(page, page.get_by_role("button", name="Save the role"))
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", level=1)).to_have_text("@pat moderator")
    assert await portal.runtime.community.role_of(portal.community, pat) == "moderator"
    await page.get_by_role("link", name="Back to the people").click()
    await expect(page.locator("#people-rows")).to_contain_text("regular")
    await page.goto(f"{portal.base}/c/{portal.community}/labels")
    await page.get_by_role("button", name="Delete the label regular").click()
    await expect(page.locator("#defined")).to_contain_text("No labels yet.")
    assert await page.locator("main img, main script").count() == 0
    await context.close()
    assert watch.problems == []


async def test_overlays_previewed_live_tested_copied_and_replaced(
    portal: Portal,  # noqa: F811
    browser: Browser,
) -> None:
    context, page, watch = await new_page(browser)
    await context.grant_permissions(["clipboard-read", "clipboard-write"])
    await sign_in(page, portal.base)
    await page.goto(f"{portal.base}/c/{portal.community}/overlays")
    alerts = page.frame_locator("#preview-alerts")
    await expect(alerts.locator("html")).to_have_attribute("data-state", "live")
    await page.get_by_role("button", name="Test raid").click()
    await expect(page.locator("#tests-status")).to_have_text(
        "Sent a test raid alert to the alerts overlay."
    )
    await expect(alerts.locator("body")).to_contain_text("is raiding with 42 viewers!")
    old = (await page.locator("#url-alerts").text_content() or "").strip()
    await page.get_by_role("button", name="Copy the alerts URL").click()
    assert await page.evaluate("navigator.clipboard.readText()") == old
    assert (await page.request.get(old)).status == 200
    await page.get_by_role("button", name="Replace the URLs").click()
    new = page.locator("#url-alerts")
    await expect(new).not_to_have_text(old)
    assert (await page.request.get(old)).status == 404
    await expect(alerts.locator("html")).to_have_attribute("data-state", "live")
    await context.close()
    assert watch.problems == []


async def test_the_pages_are_accessible_and_fit_a_phone(
    portal: Portal,  # noqa: F811
    browser: Browser,
) -> None:
    for login, role in (("bob", "admin"), ("carol", "moderator"), ("dave", "member")):
        user = await portal.person(login, display_name=login.capitalize())
        await portal.runtime.directory.set_role(portal.community, user, role)
    labels = portal.runtime.labels
    await labels.create(portal.community, "regular", description="Here every week", actor="t")
    await labels.create(portal.community, "vips", grants_level=300, actor="t")
    await labels.apply(portal.community, "regular", "user", str(user))
    context, page, _ = await new_page(browser, bypass_csp=True)  # axe is added as a script
    await sign_in(page, portal.base)
    for name in PAGES:
        await page.goto(f"{portal.base}/c/{portal.community}/{name}")
        assert await axe_problems(page) == [], name
        await shoot(page, name)
    await page.goto(f"{portal.base}/c/{portal.community}/people/{user}")
    assert await axe_problems(page) == [], "member"
    await shoot(page, "member")
    await context.close()
    phone, page, watch = await new_page(browser, viewport={"width": 375, "height": 740})
    await sign_in(page, portal.base)
    for name in (*PAGES, f"people/{user}"):
        await page.goto(f"{portal.base}/c/{portal.community}/{name}")
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, (name, width)
    await phone.close()
    assert watch.problems == []
