"""Browser tests: the overlay pages in real headless Chromium, as OBS would show them.

They drive Debian's Chromium (``/usr/bin/chromium``, which ``make test`` installs) through
playwright; playwright's own browser download is never used. Without Chromium they fail,
never skip. Screenshots of each kind of page go to ``$WADDLEBOT_TEST_SCREENSHOT_DIR`` (default
``var/screenshots``); the README shows the copies in ``docs/images/overlays``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from playwright.async_api import Browser, ConsoleMessage, Dialog, Page, async_playwright, expect
from pydantic import SecretStr

from tests.support.harness import free_port, make_settings, serving
from waddlebot.infra.secretbox import SecretBox
from waddlebot.runtime import Runtime
from waddlebot.settings import Settings

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOWCASE = "tests.browser.showcase:module"
API_KEY = "browser-tests-service-key"
ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.browser
expect.set_options(timeout=15_000)


def screenshot_dir() -> Path:
    return Path(os.environ.get("WADDLEBOT_TEST_SCREENSHOT_DIR") or ROOT / "var" / "screenshots")


class Overlay:
    """One overlay page open in the browser, with what went wrong on it."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.dialogs: list[str] = []  # alert() and friends: a script that should not run
        self.errors: list[str] = []  # console errors (a CSP refusal is one) and exceptions
        self.requests: list[str] = []
        page.on("request", lambda request: self.requests.append(request.url))
        page.on("dialog", self._dialog)
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    async def _dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(dialog.message)
        await dialog.dismiss()

    def _console(self, message: ConsoleMessage) -> None:
        # images from https:// URLs cannot load here (no internet): the page hides them
        if message.type == "error" and "Failed to load resource" not in message.text:
            self.errors.append(message.text)

    async def live(self) -> None:
        await expect(self.page.locator("html")).to_have_attribute("data-state", "live")

    async def screenshot(self, name: str, margin: float = 40) -> None:
        """What the page shows (transparent around it), cut to its content and a margin."""
        folder = screenshot_dir()
        folder.mkdir(parents=True, exist_ok=True)
        box = await self.page.locator("#box").bounding_box()
        assert box is not None, "nothing on the page to take a picture of"
        left, top = max(0, box["x"] - margin), max(0, box["y"] - margin)
        clip = {
            "x": left,
            "y": top,
            "width": min(1920 - left, box["width"] + 2 * margin),
            "height": min(1080 - top, box["height"] + 2 * margin),
        }
        await self.page.screenshot(
            path=str(folder / f"{name}.png"),
            omit_background=True,
            clip=clip,
        )

    def assert_clean(self, *also: str) -> None:
        """No script ran that should not have, nothing was refused, and nothing was loaded
        from anywhere but the bot (and the https:// art and clips the updates named, and the
        URL prefixes ``also`` names)."""
        assert self.dialogs == [] and self.errors == [], (self.dialogs, self.errors)
        origin = "/".join(self.page.url.split("/", 3)[:3])
        elsewhere = [
            url
            for url in self.requests
            if not url.startswith(
                (f"{origin}/", "https://covers.invalid/", "https://clips.invalid/", *also)
            )
        ]
        assert elsewhere == [], f"the page loaded from elsewhere: {elsewhere}"


OpenOverlay = Callable[[str], Awaitable[Overlay]]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"the browser tests need Chromium at {CHROMIUM}: `make test` installs it "
            "(apt-get install chromium)",
            pytrace=False,
        )
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
async def open_overlay(browser: Browser) -> AsyncIterator[OpenOverlay]:
    """Open an overlay URL like OBS: a 1920x1080 page, waited for until it is live."""
    context = await browser.new_context(
        viewport={"width": 1920, "height": 1080}, reduced_motion="reduce"
    )
    opened: list[Overlay] = []

    async def open_(url: str) -> Overlay:
        overlay = Overlay(await context.new_page())
        opened.append(overlay)
        response = await overlay.page.goto(url)
        assert response is not None and response.status == 200, url
        await overlay.live()
        return overlay

    try:
        yield open_
    finally:
        await context.close()


def browser_settings(tmp_path: Path, **overrides: object) -> Settings:
    base: dict[str, object] = {
        "database_url": f"sqlite+aiosqlite:///{tmp_path}/waddlebot.db",
        "data_dir": str(tmp_path),
        "modules": [SHOWCASE],
        "api_key": API_KEY,
    }
    base.update(overrides)
    return make_settings(**base)


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[str, Runtime]]:
    port = free_port()
    settings = browser_settings(
        tmp_path,
        overlay_public_url=f"http://127.0.0.1:{port}",
        secret_keys=[SecretStr(SecretBox.generate_key())],
    )
    async with serving(settings, port=port) as served:
        yield served
