"""A Spotify song on the media page in headless Chromium, fed by the real bot, the fake
Spotify (the streamer's account connected) and the fake YouTube as the player host: the page
shows the song's title, artists, album cover (from Spotify's image host, which the page's
policy lets in), who asked and how far it is, moving its progress bar on by itself and
stopping it when Spotify pauses; it never loads YouTube's player for it (Spotify plays it)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest
from playwright.async_api import Route, expect
from pydantic import SecretStr

from tests.browser.conftest import API_KEY, OpenOverlay, browser_settings
from tests.fakes.spotify import COVERS, FakeSpotify, SpotifyTrack, SpotifyUser
from tests.fakes.youtube import API_KEY as YOUTUBE_KEY
from tests.fakes.youtube import FakeYouTube
from tests.support.harness import free_port, say, serving
from tests.support.overlays import overlay_urls
from tests.support.spotify import OWNER, connect_spotify
from waddlebot.features.music.spotify.wiring import SPOTIFY
from waddlebot.infra.secretbox import SecretBox
from waddlebot.runtime import SERVICES, Runtime

PENGUIN = SpotifyTrack("1penguinPENGUINpenguin", "Penguin Parade", ["The Flippers", "Ice"], 201_000)
STREAMER = "olga-on-spotify"
PIXEL = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)


@dataclass
class Served:
    runtime: Runtime
    spotify: FakeSpotify
    streamer: SpotifyUser
    youtube: FakeYouTube


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    async with FakeSpotify() as spotify, FakeYouTube() as youtube:
        spotify.add(PENGUIN)
        port = free_port()
        public = f"http://127.0.0.1:{port}"
        app = spotify.register_app([f"{public}/api/v1/music/spotify/oauth/callback"])
        streamer = spotify.add_user(STREAMER, "Olga")
        settings = browser_settings(
            tmp_path,
            overlay_public_url=public,
            secret_keys=[SecretStr(SecretBox.generate_key())],
            youtube_api_key=SecretStr(YOUTUBE_KEY),
            youtube_api_url=youtube.url,
            overlay_youtube_player_url=youtube.url,
            spotify_accounts_url=spotify.url,
            spotify_api_url=spotify.url,
            spotify_public_url=public,
            scheduler_tick_seconds=3600.0,  # the test moves the follower on itself
            scheduler_lease_ttl_seconds=7200.0,
        )
        services = [s for s in SERVICES if s != "twitch"]
        async with (
            serving(settings, services=services, port=port) as (url, runtime),
            httpx2.AsyncClient(base_url=url, headers={"X-API-Key": API_KEY}) as http,
        ):
            await say(runtime, "!module config music cooldown_seconds 0", **OWNER)
            community = await runtime.directory.resolve_entity("console:local", "console")
            await connect_spotify(runtime, http, community.community_id, spotify, app, STREAMER)
            yield Served(runtime, spotify, streamer, youtube)


async def test_the_page_shows_a_spotify_song_and_leaves_playing_it_to_spotify(
    served: Served, open_overlay: OpenOverlay
) -> None:
    runtime = served.runtime
    media = await open_overlay((await overlay_urls(runtime))["media"])
    page = media.page

    async def cover(route: Route) -> None:
        await route.fulfill(content_type="image/png", body=PIXEL)

    await page.route(f"{COVERS}**", cover)
    await say(runtime, f"!sr spotify:track:{PENGUIN.id}", user="bob")
    assert served.streamer.player.playing == PENGUIN.id  # Spotify plays it

    await expect(page.locator(".media-title")).to_have_text("Penguin Parade")
    await expect(page.locator(".media-artist")).to_have_text("The Flippers, Ice")
    await expect(page.locator(".media-requester")).to_have_text("requested by bob")
    art = page.locator("img.media-cover")
    await expect(art).to_have_attribute("src", f"{COVERS}300{PENGUIN.id}")
    # loaded: the page's policy lets Spotify's image host in
    await page.wait_for_function("() => document.querySelector('img.media-cover').naturalWidth > 0")
    await expect(page.locator(".media-duration")).to_have_text("3:21")
    await expect(page.locator(".media-elapsed")).not_to_have_text("0:00")  # moving by itself

    served.streamer.player.progress_ms, served.streamer.player.is_playing = 65_000, False
    await runtime.need(SPOTIFY).follower.tick()
    await expect(page.locator(".media-label")).to_have_text("Paused")
    await expect(page.locator(".media-elapsed")).to_have_text("1:05")

    # YouTube's player was never loaded: nothing asked of its host, no player on the page
    assert await page.evaluate("typeof window.YT") == "undefined"
    assert await page.locator("script[src*='iframe_api'], iframe").count() == 0
    assert await page.locator("html").get_attribute("data-player") is None
    media.assert_clean(COVERS)
