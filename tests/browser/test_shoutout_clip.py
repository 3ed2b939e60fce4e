"""A shoutout's clip on the media page in headless Chromium, fed by the real bot and the fake
Twitch: ``!so`` frames Twitch's clip player for the page's own host, sized as the page sizes
clips, until the next clip replaces it or its length has played; the page frames nothing but
Twitch's clip player. clips.twitch.tv cannot be reached here: the browser is answered by a
stand-in page in its place."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Route, expect
from pydantic import SecretStr

from tests.browser.conftest import OpenOverlay, browser_settings
from tests.fakes.twitch import FakeTwitch
from tests.support.harness import free_port, say, serving
from tests.support.overlays import overlay_urls
from waddlebot.infra.secretbox import SecretBox
from waddlebot.runtime import SERVICES, Runtime

PENGUIN, PUFFIN = "2000", "3000"
TWITCH_CLIPS = "https://clips.twitch.tv/"
STAND_IN = "<!doctype html><title>clip</title><p id=stand-in>Twitch's clip player</p>"
MOD = {"user": "mia", "role": "moderator"}
# the media page's policy: Twitch's clip player and YouTube's player (its script too, from
# the player URL setting) are the one things framed, nothing else
YOUTUBE = "https://www.youtube.com"
POLICY = {
    "default-src": ["'none'"],
    "script-src": ["'self'", YOUTUBE],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:", "https:"],
    "media-src": ["'self'", "https:"],
    "frame-src": ["https://clips.twitch.tv", YOUTUBE],
    "connect-src": ["'self'"],
    "base-uri": ["'none'"],
    "form-action": ["'none'"],
}  # and frame-ancestors: the page itself and the portal, which previews it


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[str, Runtime]]:
    """The bot with Twitch's API (the fake's), Penguinz with a 30 s clip, Puffin with a 1 s
    one. No channel is connected: a shoutout is the chat line and the clip."""
    async with FakeTwitch() as twitch:
        client = twitch.register_client()
        twitch.add_user(PENGUIN, "penguinz", "Penguinz")
        twitch.add_user(PUFFIN, "puffin", "Puffin")
        twitch.add_clip(PENGUIN, "the jump", clip_id="Jump", duration=30, age=60)
        twitch.add_clip(PUFFIN, "the slide", clip_id="Slide", duration=1, age=60)
        port = free_port()
        settings = browser_settings(
            tmp_path,
            overlay_public_url=f"http://127.0.0.1:{port}",
            portal_public_url=f"http://127.0.0.1:{port}",
            secret_keys=[SecretStr(SecretBox.generate_key())],
            twitch_client_id=client.client_id,
            twitch_client_secret=SecretStr(client.secret),
            twitch_helix_url=twitch.helix_url,
            twitch_auth_url=twitch.auth_url,
            twitch_eventsub_ws_url=twitch.eventsub_ws_url,
        )
        services = [s for s in SERVICES if s != "twitch"]
        async with serving(settings, services=services, port=port) as served:
            yield served


async def test_so_frames_twitchs_clip_player_until_the_next_clip_or_its_end(
    served: tuple[str, Runtime], open_overlay: OpenOverlay
) -> None:
    _, runtime = served
    media = await open_overlay((await overlay_urls(runtime))["media"])
    page = media.page
    asked: list[str] = []
    loaded: asyncio.Queue[str] = asyncio.Queue()  # each player page, once the browser asked

    async def stand_in(route: Route) -> None:
        asked.append(route.request.url)
        await route.fulfill(content_type="text/html", body=STAND_IN)
        await loaded.put(route.request.url)

    await page.route(f"{TWITCH_CLIPS}**", stand_in)
    host = urlsplit(page.url).hostname
    assert host == "127.0.0.1"
    jump = f"{TWITCH_CLIPS}embed?clip=Jump&parent={host}"

    assert await say(runtime, "!so @penguinz", **MOD) == [
        "Go follow Penguinz, last seen playing nothing yet: https://twitch.tv/penguinz"
    ]
    frame = page.locator("iframe.media-clip-video")
    await expect(frame).to_have_attribute("src", jump)
    # the policy let it load: the player (its stand-in) is in the frame
    await expect(page.frame_locator("iframe.media-clip-video").locator("#stand-in")).to_have_text(
        "Twitch's clip player"
    )
    assert asked == [jump]
    await expect(page.locator(".media-clip-caption")).to_have_text(
        "the jump \u2014 clip from Penguinz"
    )
    # in the media page's corner (bottom left, 40 px in), 960 px wide; the player fills it
    # inside the padding and border, at 16:9
    clip = await page.locator(".media-clip").bounding_box()
    player = await frame.bounding_box()
    assert clip is not None and player is not None
    assert (clip["x"], clip["y"] + clip["height"], clip["width"]) == (40, 1040, 960)
    assert (player["x"], player["width"]) == (40 + 2 + 12, 960 - 2 * (2 + 12))
    assert player["height"] == pytest.approx(player["width"] * 9 / 16, abs=1)

    # the next shoutout's clip takes its place at once; its 1 s (and the page's 2 s more for
    # the player to start) over, it is gone
    assert len(await say(runtime, "!so puffin", **MOD)) == 1
    slide = f"{TWITCH_CLIPS}embed?clip=Slide&parent={host}"
    await expect(frame).to_have_attribute("src", slide)
    await expect(page.locator(".media-clip")).to_have_count(1)
    # the frame's src is set before the browser asks for it: wait for the ask itself
    assert [await asyncio.wait_for(loaded.get(), 30) for _ in range(2)] == [jump, slide]
    assert asked == [jump, slide]
    await expect(page.locator(".media-clip")).to_have_count(0)
    media.assert_clean(TWITCH_CLIPS)


async def test_the_page_frames_twitchs_and_youtubes_players_and_nothing_else(
    served: tuple[str, Runtime], open_overlay: OpenOverlay
) -> None:
    base, runtime = served
    media = await open_overlay((await overlay_urls(runtime))["media"])
    page = media.page
    response = await page.request.get(page.url)
    policy = response.headers["content-security-policy"]
    directives = [d.split() for d in policy.split(";") if d.strip()]
    expected = {**POLICY, "frame-ancestors": ["'self'", base.rstrip("/")]}
    assert {d[0]: d[1:] for d in directives} == expected and len(directives) == len(expected)

    elsewhere: list[str] = []

    async def answer(route: Route) -> None:
        elsewhere.append(route.request.url)
        await route.fulfill(content_type="text/html", body=STAND_IN)

    await page.route("https://player.invalid/**", answer)
    async with page.expect_console_message(lambda m: "frame-src" in m.text) as refusal:
        await say(runtime, "!embed https://player.invalid/clip")
    await expect(page.locator("iframe.media-clip-video")).to_have_attribute(
        "src", "https://player.invalid/clip"
    )
    refused = (await refusal.value).text
    assert refused.startswith("Framing 'https://player.invalid/' violates")
    assert elsewhere == []  # the browser never asked for it
    assert media.errors == [refused] and media.dialogs == []
