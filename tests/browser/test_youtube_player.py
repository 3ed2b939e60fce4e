"""Song requests played on the media page in headless Chromium, fed by the real bot and the
fake YouTube: the page loads YouTube's IFrame Player API from the player URL setting (the
fake serves a stand-in the test drives: the real script cannot load offline), plays the song
playing, obeys !pause, !play and !volume, reports where it is (so !song says how far) and
the end of a song (so the queue moves on), and skips a song its player cannot play. What
plays is shown as text, and scripts come from the bot and the player host alone."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.async_api import Page, Route, expect
from pydantic import SecretStr

from tests.browser.conftest import OpenOverlay, Overlay, browser_settings
from tests.fakes.youtube import API_KEY, FakeYouTube, Video
from tests.support.harness import free_port, say, serving
from tests.support.overlays import overlay_urls
from waddlebot.infra.secretbox import SecretBox
from waddlebot.runtime import SERVICES, Runtime

MOD = {"user": "mia", "role": "moderator"}
ICE = Video("iceiceBABY0", "Ice Ice Penguin", channel="The Penguins", duration="PT4M13S")
WADDLE = Video("waddleWADDL", "Waddle Waddle Song", duration="PT2M5S")
SHOUTY = Video("shoutyHTML0", '<img src=x onerror="alert(1)">Loud', channel="<b>Chan</b>")
THUMBNAILS = "https://i.ytimg.com/"
PIXEL = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)
EMPTY = "Nothing is playing; !sr <search words | YouTube link | Spotify link> asks for a song."


@dataclass
class Served:
    runtime: Runtime
    youtube: FakeYouTube


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    async with FakeYouTube() as youtube:
        for video in (ICE, WADDLE, SHOUTY):
            youtube.add(video)
        port = free_port()
        settings = browser_settings(
            tmp_path,
            overlay_public_url=f"http://127.0.0.1:{port}",
            secret_keys=[SecretStr(SecretBox.generate_key())],
            youtube_api_key=SecretStr(API_KEY),
            youtube_api_url=youtube.url,
            overlay_youtube_player_url=youtube.url,
        )
        services = [s for s in SERVICES if s != "twitch"]
        async with serving(settings, services=services, port=port) as (_, runtime):
            await say(runtime, "!module config music cooldown_seconds 0", user="olga", role="owner")
            yield Served(runtime, youtube)


async def open_media(served: Served, open_overlay: OpenOverlay) -> Overlay:
    media = await open_overlay((await overlay_urls(served.runtime))["media"])

    async def thumbnail(route: Route) -> None:
        await route.fulfill(content_type="image/png", body=PIXEL)

    await media.page.route(f"{THUMBNAILS}**", thumbnail)
    return media


async def calls(page: Page) -> list[str]:
    found: list[str] = await page.evaluate("window.ytStandIn ? window.ytStandIn.calls : []")
    return found


async def said_by_song(runtime: Runtime, wanted: str) -> None:
    """Until !song says ``wanted`` (the page's report travels to the bot on its own)."""
    said: list[str] = []
    try:
        async with asyncio.timeout(10):
            while not said or wanted not in said[0]:
                said = await say(runtime, "!song")
    except TimeoutError:
        raise AssertionError(f"!song said {said}, not {wanted!r}") from None


async def test_the_page_plays_the_queue_obeys_moderators_and_reports_back(
    served: Served, open_overlay: OpenOverlay
) -> None:
    runtime = served.runtime
    media = await open_media(served, open_overlay)
    page = media.page
    await say(runtime, "!sr https://youtu.be/iceiceBABY0")
    await say(runtime, "!sr https://youtu.be/waddleWADDL", user="bob")
    await page.wait_for_function("() => window.ytStandIn && window.ytStandIn.player")
    await page.evaluate("ytStandIn.durations = {iceiceBABY0: 253, waddleWADDL: 125}")
    await expect(page.locator("html")).to_have_attribute("data-player", "playing")
    assert (await calls(page))[0] == "load:iceiceBABY0@0"
    # the player's frame comes from the player host, which the policy lets in
    await expect(page.frame_locator("iframe.media-player").locator("#stand-in")).to_have_text(
        "YouTube's player"
    )
    await expect(page.locator(".media-title")).to_have_text("Ice Ice Penguin")
    await expect(page.locator(".media-artist")).to_have_text("The Penguins")
    await expect(page.locator(".media-requester")).to_have_text("requested by alice")
    await expect(page.locator("img.media-cover")).to_have_attribute(
        "src", f"{THUMBNAILS}vi/iceiceBABY0/mqdefault.jpg"
    )

    await page.evaluate("ytStandIn.seek(130)")
    await said_by_song(runtime, '"Ice Ice Penguin" (2:10 of 4:13)')
    await expect(page.locator(".media-elapsed")).to_have_text("2:10")

    assert await say(runtime, "!pause") == ["@alice, !pause is for moderator level and up."]
    assert await say(runtime, "!pause", **MOD) == ['Paused "Ice Ice Penguin"; !play goes on.']
    await expect(page.locator("html")).to_have_attribute("data-player", "paused")
    await expect(page.locator(".media-label")).to_have_text("Paused")
    assert await say(runtime, "!volume 30", **MOD) == ["The volume is 30 now."]
    await page.wait_for_function("() => ytStandIn.player.getVolume() === 30")
    assert await say(runtime, "!play", **MOD) == ['Playing "Ice Ice Penguin" again.']
    await expect(page.locator("html")).to_have_attribute("data-player", "playing")
    assert "pause" in await calls(page) and "volume:30" in await calls(page)
    assert (await calls(page))[-1] == "play"

    # the end of the song moves the queue on, once: the page plays the next one
    await page.evaluate("ytStandIn.end()")
    await expect(page.locator(".media-title")).to_have_text("Waddle Waddle Song")
    await page.wait_for_function("() => ytStandIn.calls.includes('load:waddleWADDL@0')")
    (playing,) = await say(runtime, "!song")
    assert playing.startswith('Now playing "Waddle Waddle Song"')
    await page.evaluate("ytStandIn.end()")
    await expect(page.locator(".media-card")).to_have_count(0)
    assert await say(runtime, "!song") == [EMPTY]
    media.assert_clean(served.youtube.url, THUMBNAILS)


async def test_a_title_that_looks_like_html_is_text_and_an_unplayable_song_is_skipped(
    served: Served, open_overlay: OpenOverlay
) -> None:
    runtime = served.runtime
    media = await open_media(served, open_overlay)
    page = media.page
    await say(runtime, "!sr https://youtu.be/shoutyHTML0")
    await say(runtime, "!sr https://youtu.be/iceiceBABY0", user="bob")
    await expect(page.locator(".media-title")).to_have_text(SHOUTY.title)
    await expect(page.locator(".media-artist")).to_have_text("<b>Chan</b>")
    assert await page.locator(".media-card img:not(.media-cover), .media-card b").count() == 0

    await page.wait_for_function("() => window.ytStandIn && window.ytStandIn.player")
    await page.evaluate("ytStandIn.fail(150)")  # its owner does not allow embedding
    await expect(page.locator(".media-title")).to_have_text("Ice Ice Penguin")
    await runtime.audit.flush()
    (skip,) = [e for e in await runtime.audit.recent(20) if e.action == "music.skip"]
    assert skip.actor == "overlay:player"
    assert skip.detail["reason"] == "its owner does not allow it to be embedded"
    assert media.dialogs == []
    media.assert_clean(served.youtube.url, THUMBNAILS)


async def test_the_media_page_takes_scripts_from_the_player_host_alone(
    served: Served, open_overlay: OpenOverlay
) -> None:
    runtime = served.runtime
    urls = await overlay_urls(runtime)
    media = await open_media(served, open_overlay)
    page = media.page
    player = served.youtube.url
    policy = (await page.request.get(page.url)).headers["content-security-policy"]
    directives = {d.split()[0]: d.split()[1:] for d in policy.split(";") if d.strip()}
    assert directives["script-src"] == ["'self'", player]
    assert directives["frame-src"] == ["https://clips.twitch.tv", player]
    ticker = (await page.request.get(urls["ticker"])).headers["content-security-policy"]
    assert player not in ticker  # the other pages load no player

    elsewhere: list[str] = []

    async def answer(route: Route) -> None:
        elsewhere.append(route.request.url)
        await route.fulfill(content_type="text/javascript", body="alert('loaded')")

    await page.route("https://scripts.invalid/**", answer)
    async with page.expect_console_message(lambda m: "script-src" in m.text) as refusal:
        await page.evaluate(
            "() => { const s = document.createElement('script');"
            " s.src = 'https://scripts.invalid/x.js'; document.head.append(s); }"
        )
    assert "violates" in (await refusal.value).text
    assert elsewhere == [] and media.dialogs == []
