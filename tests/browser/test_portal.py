"""The portal in headless Chromium: signing in (password, a chat link, keyboard only), the
account page (API keys, sign out everywhere), CSRF, XSS, a community one has no role in, the
CSP, accessibility (axe-core) and a phone's width. Screenshots go to the screenshot folder
(conftest.py); ``WADDLEBOT_TEST_SCREENSHOT_DIR=docs/images/portal`` renews docs/portal.md's."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest
from playwright.async_api import Browser, BrowserContext, ConsoleMessage, Page, expect
from pydantic import SecretStr

from tests.browser.conftest import browser_settings, screenshot_dir
from tests.support.harness import free_port, say, serving
from waddlebot.infra.secretbox import SecretBox
from waddlebot.runtime import Runtime

AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
PASSWORD = "correct horse battery"
XSS = '<img src=x onerror="alert(1)"><script>alert(2)</script>'


@dataclass
class Portal:
    base: str
    runtime: Runtime
    community: int  # alice owns it
    other: int  # alice has no role here

    async def person(self, login: str, email: str = "", display_name: str = "") -> int:
        user = await self.runtime.directory.ensure_identity(
            "console", login.lower()[:40] or "x", login, display_name
        )
        if email:
            await self.runtime.accounts.set_login(user, email, PASSWORD)
        return user


@pytest.fixture
async def portal(tmp_path: Path) -> AsyncIterator[Portal]:
    async with serving_portal(tmp_path) as site:
        yield site


@asynccontextmanager
async def serving_portal(tmp_path: Path, **overrides: object) -> AsyncIterator[Portal]:
    """The portal of a whole WaddleBot (settings changed by ``overrides``), with alice owning
    a community."""
    port = free_port()
    settings = browser_settings(
        tmp_path,
        portal_public_url=f"http://127.0.0.1:{port}",
        overlay_public_url=f"http://127.0.0.1:{port}",
        secret_keys=[SecretStr(SecretBox.generate_key())],
        **overrides,
    )
    async with serving(settings, port=port) as (base, runtime):
        home = await runtime.directory.resolve_entity("console:local", "console", name="Penguins")
        other = await runtime.directory.resolve_entity(
            "console:elsewhere", "console", name="Others"
        )
        site = Portal(base, runtime, home.community_id, other.community_id)
        alice = await site.person("alice", "alice@example.org")
        await runtime.directory.set_role(site.community, alice, "owner")
        yield site


class Watch:
    """What went wrong on a page: console errors (a CSP refusal is one), exceptions, dialogs."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.problems: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(str(error)))
        page.on("dialog", self._dialog)

    def _console(self, message: ConsoleMessage) -> None:
        # a page answered with an error status (a 400 form, the 404 page) logs this; fine
        if message.type == "error" and "Failed to load resource" not in message.text:
            self.problems.append(message.text)

    async def _dialog(self, dialog: object) -> None:
        self.problems.append("a dialog opened: a script ran")
        await dialog.dismiss()  # type: ignore[attr-defined]


async def new_page(browser: Browser, **options: object) -> tuple[BrowserContext, Page, Watch]:
    context = await browser.new_context(**options)  # type: ignore[arg-type]
    page = await context.new_page()
    return context, page, Watch(page)


async def sign_in(page: Page, base: str, email: str = "alice@example.org") -> None:
    await page.goto(f"{base}/login")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("link", name="@alice")).to_be_visible()


async def shoot(page: Page, name: str) -> None:
    folder = screenshot_dir()
    folder.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


async def test_password_sign_in_with_a_wrong_password_shown_at_the_field(
    portal: Portal, browser: Browser
) -> None:
    context, page, watch = await new_page(browser)
    response = await page.goto(f"{portal.base}/account")
    assert response is not None and page.url == f"{portal.base}/login?next=%2Faccount"
    csp = await response.header_value("content-security-policy")
    assert csp is not None and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    await shoot(page, "login")
    await page.get_by_label("Email").fill("alice@example.org")
    await page.get_by_label("Password").fill("not the password")
    await page.get_by_role("button", name="Sign in").click()
    password = page.get_by_label("Password")
    await expect(password).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#password-error")).to_have_text("Wrong email or password.")
    await expect(page.get_by_label("Email")).to_have_value("alice@example.org")
    await password.fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Your account")).to_be_visible()
    assert page.url == f"{portal.base}/account"  # where it was going
    cookies = {c["name"]: c for c in await context.cookies()}
    session = cookies["waddlebot_portal"]
    assert session["httpOnly"] and session["sameSite"] == "Lax"
    assert session["value"].startswith("wbs_")
    await context.close()
    assert watch.problems == []


async def test_a_throttled_sign_in_says_when_to_try_again(portal: Portal) -> None:
    async with httpx2.AsyncClient(base_url=portal.base) as http:
        token = await csrf_of(http)
        for _ in range(5):
            await http.post("/login", data=form(token, email="alice@example.org", password="x"))
        refused = await http.post("/login", data=form(token, email="alice@example.org"))
    assert refused.status_code == 429
    assert re.search(r"try again in \d+ seconds", refused.text)


async def test_sign_in_by_a_chat_link_works_once(portal: Portal, browser: Browser) -> None:
    lines = await say(portal.runtime, "!portal")
    assert "@alice, I sent you a sign-in link by private message." in lines
    (dm,) = [line for line in lines if line.startswith("(private) ")]
    link = re.search(r"(http://\S+/login/link/\S+)", dm).group(1)  # type: ignore[union-attr]
    assert link.startswith(portal.base)
    context, page, watch = await new_page(browser)
    await page.goto(link)
    await page.goto(link)  # opening it (a link preview) spends nothing
    button = page.get_by_role("button", name="Sign in as @alice")
    await shoot(page, "link")
    await button.click()
    await expect(page.get_by_role("heading", name="Penguins")).to_be_visible()
    assert page.url == f"{portal.base}/c/{portal.community}/"  # the only community
    await context.close()
    again, page, _ = await new_page(browser)
    await page.goto(link)
    await expect(page.get_by_role("heading", name="This link no longer works")).to_be_visible()
    await again.close()
    assert watch.problems == []


async def test_keyboard_only_sign_in(portal: Portal, browser: Browser) -> None:
    context, page, watch = await new_page(browser)
    await page.goto(f"{portal.base}/login")
    await page.keyboard.press("Tab")  # the skip link comes first
    await expect(page.get_by_role("link", name="Skip to the content")).to_be_focused()
    email = page.get_by_label("Email")
    for _ in range(5):
        await page.keyboard.press("Tab")
        if await email.evaluate("e => e === document.activeElement"):
            break
    await expect(email).to_be_focused()
    await page.keyboard.type("alice@example.org")
    await page.keyboard.press("Tab")
    await expect(page.get_by_label("Password")).to_be_focused()
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="Penguins")).to_be_visible()
    await context.close()
    assert watch.problems == []


async def test_an_api_key_is_shown_once_and_revoked(portal: Portal, browser: Browser) -> None:
    context, page, watch = await new_page(browser)
    await sign_in(page, portal.base)
    await page.goto(f"{portal.base}/account")
    await page.get_by_label("Name").fill("laptop")
    await page.get_by_label("What it may do").select_option("read")
    await page.get_by_role("button", name="Create the key").click()
    secret = (await page.locator("#new-key").text_content() or "").strip()
    assert secret.startswith("wbk_")
    await expect(page.get_by_text("it is shown this once")).to_be_visible()
    await shoot(page, "account")
    async with httpx2.AsyncClient(base_url=portal.base) as http:
        bearer = {"Authorization": f"Bearer {secret}"}
        assert (await http.get("/api/v1/identity/me", headers=bearer)).status_code == 200
        await page.reload()  # the form is not sent again: a GET of the page
        await page.goto(f"{portal.base}/account")
        await expect(page.locator("#keys")).to_contain_text("laptop")
        assert secret not in await page.content()
        await page.get_by_role("button", name="Revoke the key laptop").click()
        await expect(page.locator("#keys")).to_contain_text("Revoked the key “laptop”.")
        assert (await http.get("/api/v1/identity/me", headers=bearer)).status_code == 401
    await context.close()
    assert watch.problems == []


async def test_sign_out_everywhere_ends_the_other_browsers_session(
    portal: Portal, browser: Browser
) -> None:
    first, page, _ = await new_page(browser)
    second, other, _ = await new_page(browser)
    await sign_in(page, portal.base)
    await sign_in(other, portal.base)
    await page.goto(f"{portal.base}/account")
    await expect(page.locator("#session-count")).to_contain_text("signed in 2 times")
    await page.get_by_role("button", name="Sign out everywhere").click()
    await expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()
    await other.goto(f"{portal.base}/account")
    await expect(other.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()
    await first.close()
    await second.close()


async def csrf_of(http: httpx2.AsyncClient) -> str:
    page = await http.get("/login")
    return re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]


def form(token: str, **fields: str) -> dict[str, str]:
    return {"csrf_token": token, "email": "", "password": PASSWORD, **fields}


async def test_a_post_without_the_csrf_token_is_refused(portal: Portal) -> None:
    async with httpx2.AsyncClient(base_url=portal.base) as http:
        token = await csrf_of(http)
        data = {"email": "alice@example.org", "password": PASSWORD}
        refused = await http.post("/login", data=data)
        assert refused.status_code == 403 and "security token" in refused.text
        forged = await http.post("/login", data={**data, "csrf_token": "x" * 43})
        assert forged.status_code == 403
        signed = await http.post("/login", data=form(token, email="alice@example.org"))
        assert signed.status_code == 303
        token = http.cookies["waddlebot_csrf"]  # renewed at sign-in
        no_token = await http.post("/account/keys", data={"name": "sneaky"})
        assert no_token.status_code == 403
        header = await http.post(
            "/account/keys", data={"name": "by htmx"}, headers={"X-CSRF-Token": token}
        )
        assert header.status_code == 200 and "wbk_" in header.text


async def test_xss_in_a_name_and_a_key_name_is_inert(portal: Portal, browser: Browser) -> None:
    mallory = await portal.person(XSS, "mallory@example.org", display_name=XSS)
    await portal.runtime.directory.set_role(portal.community, mallory, "moderator")
    context, page, watch = await new_page(browser)
    await sign_in_as(page, portal.base, "mallory@example.org")
    await page.goto(f"{portal.base}/account")
    await page.get_by_label("Name").fill(XSS)
    await page.get_by_role("button", name="Create the key").click()
    await expect(page.locator("#keys")).to_contain_text("<script>alert(2)</script>")
    await page.goto(f"{portal.base}/c/{portal.community}/")
    await expect(page.locator(".account a").first).to_contain_text("<img src=x")
    assert await page.locator("main img, header img, script:not([src])").count() == 0
    await context.close()
    assert watch.problems == []


async def sign_in_as(page: Page, base: str, email: str) -> None:
    await page.goto(f"{base}/login")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("link", name="Sign out")).to_have_count(0)
    await expect(page.get_by_role("button", name="Sign out")).to_be_visible()


async def test_a_community_without_a_role_is_not_found(portal: Portal, browser: Browser) -> None:
    context, page, _watch = await new_page(browser)
    await sign_in(page, portal.base)
    for path in (f"/c/{portal.other}/", "/c/999999/", "/c/abc/"):
        response = await page.goto(f"{portal.base}{path}")
        assert response is not None and response.status == 404, path
        await expect(page.get_by_role("heading", name="Not found")).to_be_visible()
        assert "Others" not in await page.content()
    await context.close()


async def axe_problems(page: Page) -> list[str]:
    await page.add_script_tag(path=str(AXE))
    found = await page.evaluate("async () => (await axe.run()).violations")
    return [
        f"{v['id']} ({v['impact']}): {v['help']}"
        for v in found
        if v["impact"] in ("serious", "critical")
    ]


async def test_pages_are_accessible_and_fit_a_phone(portal: Portal, browser: Browser) -> None:
    # axe is added to the page as a script, which the CSP would refuse: bypassed here only
    context, page, _ = await new_page(browser, bypass_csp=True)
    await page.goto(f"{portal.base}/login")
    assert await axe_problems(page) == []
    await sign_in(page, portal.base)
    for path in ("/account", f"/c/{portal.community}/"):
        await page.goto(f"{portal.base}{path}")
        assert await axe_problems(page) == [], path
    await shoot(page, "community")
    await context.close()
    phone, page, watch = await new_page(browser, viewport={"width": 375, "height": 740})
    await sign_in(page, portal.base)
    for path in ("/account", f"/c/{portal.community}/", "/login"):
        await page.goto(f"{portal.base}{path}")
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, (path, width)
    await page.goto(f"{portal.base}/c/{portal.community}/")
    await expect(page.get_by_role("navigation", name="Penguins")).to_be_visible()
    await shoot(page, "phone")
    await phone.close()
    assert watch.problems == []
