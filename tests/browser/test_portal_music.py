"""The portal's Music page in headless Chromium, with songs asked for in chat against the fake
YouTube: the keyboard alone takes a song out, skips and sets the volume (htmx swapping the
queue in place, the focus kept); a channel banned and the ban lifted; the owner connects the
streamer's Spotify through the fake Spotify's consent; axe-core and a phone's width. The finer
checks are over HTTP, in tests/integration/test_portal_music.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect
from pydantic import SecretStr

from tests.browser.conftest import browser_settings
from tests.browser.test_portal import Portal, axe_problems, new_page, shoot, sign_in
from tests.browser.test_portal_modules import tab_to
from tests.fakes.spotify import FakeSpotify, SpotifyApp
from tests.fakes.youtube import API_KEY, FakeYouTube, Video
from tests.support.harness import free_port, say, serving
from waddlebot.features.music.spotify.client import App
from waddlebot.features.music.spotify.wiring import SPOTIFY
from waddlebot.infra.secretbox import SecretBox

VIDEOS = (
    Video("iceiceBABY0", "Ice Ice Penguin", duration="PT4M13S", channel="Penguin Pop"),
    Video("waddleWADDL", "Waddle Waddle Song", duration="PT2M5S", channel="Noisy Birds"),
    Video("fishFISH123", "Fish Are Friends", duration="PT3M", channel="Reef Radio"),
)


@dataclass
class Music:
    portal: Portal
    spotify: FakeSpotify
    app: SpotifyApp

    @property
    def page(self) -> str:
        return f"{self.portal.base}/c/{self.portal.community}/music"


@pytest.fixture
async def music(tmp_path: Path) -> AsyncIterator[Music]:
    async with FakeYouTube() as youtube, FakeSpotify() as spotify:
        for video in VIDEOS:
            youtube.add(video)
        port = free_port()
        public = f"http://127.0.0.1:{port}"
        app = spotify.register_app([f"{public}/api/v1/music/spotify/oauth/callback"])
        spotify.add_user("olga-on-spotify", "Olga")
        settings = browser_settings(
            tmp_path,
            portal_public_url=public,
            overlay_public_url=public,
            secret_keys=[SecretStr(SecretBox.generate_key())],
            youtube_api_key=SecretStr(API_KEY),
            youtube_api_url=youtube.url,
            spotify_accounts_url=spotify.url,
            spotify_api_url=spotify.url,
            spotify_public_url=public,
        )
        async with serving(settings, port=port) as (base, runtime):
            home = await runtime.directory.resolve_entity(
                "console:local", "console", name="Penguins"
            )
            other = await runtime.directory.resolve_entity("console:elsewhere", "console")
            site = Portal(base, runtime, home.community_id, other.community_id)
            alice = await site.person("alice", "alice@example.org")
            await runtime.directory.set_role(site.community, alice, "owner")
            await say(runtime, "!module config music cooldown_seconds 0", role="owner")
            await say(runtime, "!sr https://youtu.be/iceiceBABY0")
            await say(runtime, "!sr https://youtu.be/waddleWADDL", user="bob")
            await say(runtime, "!sr https://youtu.be/fishFISH123", user="carol")
            yield Music(site, spotify, app)


async def test_the_keyboard_alone_moves_the_queue_on(music: Music, browser: Browser) -> None:
    spotify = music.portal.runtime.need(SPOTIFY)
    await spotify.store.set_app(music.portal.community, App(music.app.client_id, music.app.secret))
    context, page, watch = await new_page(browser)
    await sign_in(page, music.portal.base)
    await page.goto(music.page)
    queue = page.locator("#music-queue")
    await expect(queue).to_contain_text("Ice Ice Penguin")
    await expect(queue).to_contain_text("2 songs waiting")
    await shoot(page, "music")

    remove = page.get_by_role("button", name="Remove Waddle Waddle Song")
    await tab_to(page, remove, most=60)
    await page.keyboard.press("Enter")
    await expect(queue).to_contain_text('Took "Waddle Waddle Song" out of the queue.')
    await expect(queue).to_contain_text("1 song waiting")

    skip = page.get_by_role("button", name="Skip the song playing")
    await tab_to(page, skip, most=60)
    await page.keyboard.press("Enter")
    await expect(queue).to_contain_text(
        'Skipped "Ice Ice Penguin". Now playing "Fish Are Friends".'
    )
    await expect(skip).to_be_focused()

    volume = page.get_by_label("Volume (0 to 100)")
    await tab_to(page, volume)
    await page.keyboard.press("Control+A")
    await page.keyboard.type("35")
    await page.keyboard.press("Enter")
    await expect(
        page.get_by_role("status").filter(has_text="The volume is 35 now.")
    ).to_be_visible()
    assert await say(music.portal.runtime, "!volume") == ["The volume is 35."]

    await page.get_by_label("A song link, a channel's name, or @person").fill("Noisy Birds")
    await page.get_by_role("button", name="Ban", exact=True).click()
    await expect(page.get_by_role("status").first).to_contain_text(
        "The channel Noisy Birds is banned from song requests."
    )
    await page.get_by_role("button", name="Lift the ban on Noisy Birds").click()
    await expect(page.get_by_text("Nothing is banned.")).to_be_visible()

    music.spotify.authorize_as("olga-on-spotify")  # who agrees on Spotify's consent page
    await page.get_by_role("button", name="Connect Spotify").click()
    await expect(page.get_by_text("The Spotify account Olga is connected.")).to_be_visible()
    await page.goto(music.page)
    await expect(page.get_by_text("Olga is connected")).to_be_visible()
    assert music.app.secret not in await page.content()
    await context.close()
    assert watch.problems == []


async def test_the_page_is_accessible_and_fits_a_phone(music: Music, browser: Browser) -> None:
    context, page, _ = await new_page(browser, bypass_csp=True)  # axe is an added script
    await sign_in(page, music.portal.base)
    await page.goto(music.page)
    assert await axe_problems(page) == []
    await page.get_by_label("Volume (0 to 100)").fill("101")
    await page.get_by_role("button", name="Set the volume").click()
    await expect(page.get_by_label("Volume (0 to 100)")).to_have_attribute("aria-invalid", "true")
    assert await axe_problems(page) == []  # with an error shown
    await context.close()

    phone, page, watch = await new_page(browser, viewport={"width": 375, "height": 740})
    await sign_in(page, music.portal.base)
    await page.goto(music.page)
    await expect(page.locator("#music-queue")).to_contain_text("Ice Ice Penguin")
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, width
    await phone.close()
    assert watch.problems == []
