"""Each kind of overlay page in headless Chromium, fed by the real bot: what a streamer sees
in OBS when chat, a module or a platform event puts something on it; user text that looks
like HTML staying text; pages coming back after a restart; rotation; two browser-source
processes behind one Redis."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import urlsplit

import httpx2
from playwright.async_api import Route, expect
from pydantic import SecretStr

from tests.browser.conftest import API_KEY, SHOWCASE, OpenOverlay, browser_settings
from tests.support.harness import free_port, make_settings, say, serving
from tests.support.media_files import png, wav
from tests.support.overlays import overlay_urls
from waddlebot.core.events import Amounts, Author, Event, EventType, new_id
from waddlebot.infra.secretbox import SecretBox
from waddlebot.runtime import Runtime
from waddlebot.settings import Settings

XSS = "<img src=x onerror=alert(1)>"
Served = tuple[str, Runtime]


async def _page_url(runtime: Runtime, base: str, entity: str, kind: str) -> str:
    community = await runtime.directory.resolve_entity(entity, entity.partition(":")[0])
    token = await runtime.overlay_tokens.current(community.community_id, actor="test")
    return f"{base}/overlay/{token}/{kind}"


async def _post(base: str, event: Event) -> None:
    """An event through the HTTP API, as a collector elsewhere would deliver it."""
    async with httpx2.AsyncClient() as http:
        response = await http.post(
            f"{base}/api/v1/events?wait=true",
            json=event.model_dump(mode="json"),
            headers={"Authorization": f"Bearer {API_KEY}"},
        )
    assert response.status_code == 200, response.text


def _twitch(type_: EventType, **fields: object) -> Event:
    return Event(
        platform="twitch",
        entity_id="twitch:1337",
        message_id=new_id(),
        type=type_,
        **fields,  # type: ignore[arg-type]
    )


async def test_alerts_show_follows_subs_cheers_and_raids_with_a_sound(
    served: Served, open_overlay: OpenOverlay
) -> None:
    base, runtime = served
    alerts = await open_overlay(await _page_url(runtime, base, "twitch:1337", "alerts"))
    fan = Author(user_id="42", login="fan", display_name="Fan")
    title, message = alerts.page.locator(".alert-title"), alerts.page.locator(".alert-message")
    await _post(base, _twitch(EventType.FOLLOW, author=fan))
    await expect(title).to_have_text("Fan followed!")
    await _post(
        base,
        _twitch(
            EventType.SUBSCRIBE,
            author=fan,
            text="a whole year!",
            amounts=Amounts(tier="1000", months=12),
        ),
    )
    await expect(title).to_have_text("Fan subscribed at Tier 1 for 12 months!")
    await expect(message).to_have_text("a whole year!")
    await _post(
        base, _twitch(EventType.CHEER, author=fan, text="Cheer500 go!", amounts=Amounts(bits=500))
    )
    await expect(title).to_have_text("Fan cheered 500 bits!")
    raider = Author(user_id="9", login="pal", display_name="Pal")
    await _post(base, _twitch(EventType.RAID, author=raider, amounts=Amounts(viewers=42)))
    await expect(title).to_have_text("Pal is raiding with 42 viewers!")
    await expect(alerts.page.locator("html")).to_have_attribute("data-sounds", "4")
    await alerts.screenshot("alerts")
    alerts.assert_clean()


async def test_alerts_play_the_communitys_uploaded_sound_and_show_its_image(
    served: Served, open_overlay: OpenOverlay
) -> None:
    base, runtime = served
    community = await runtime.directory.resolve_entity("twitch:1337", "twitch")
    uploads = f"{base}/api/v1/overlay/communities/{community.community_id}/media"
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {API_KEY}"}) as http:
        image = (await http.post(uploads, content=png())).json()["media_id"]
        sound = (await http.post(uploads, content=wav())).json()["media_id"]
    url = await _page_url(runtime, base, "twitch:1337", "alerts")
    alerts = await open_overlay(f"{url}?types=follow&sound={sound}&image={image}")
    await _post(base, _twitch(EventType.FOLLOW, author=Author(user_id="42", login="fan")))
    await expect(alerts.page.locator(".alert-title")).to_have_text("fan followed!")
    picture = alerts.page.locator(".alert-image")
    await expect(picture).to_have_attribute("src", f"{urlsplit(url).path[:-7]}/uploads/{image}")
    loaded = await picture.evaluate("node => node.complete && node.naturalWidth")
    assert loaded == 1  # the 1x1 PNG, loaded under the page's Content Security Policy
    played = f"{urlsplit(url).path[:-7]}/uploads/{sound}"
    await expect(alerts.page.locator("html")).to_have_attribute("data-sound", played)
    alerts.assert_clean()


async def test_alert_types_it_does_not_know_are_ignored(
    served: Served, open_overlay: OpenOverlay
) -> None:
    base, runtime = served
    url = await _page_url(runtime, base, "twitch:1337", "alerts")
    typo = await open_overlay(f"{url}?types=folow")  # nothing known: every alert shows
    raids = await open_overlay(f"{url}?types=Raid,bogus&duration=3600")  # only the raid
    await _post(base, _twitch(EventType.FOLLOW, author=Author(user_id="42", login="fan")))
    await expect(typo.page.locator(".alert-title")).to_have_text("fan followed!")
    raider = Author(user_id="9", login="pal", display_name="Pal")
    await _post(base, _twitch(EventType.RAID, author=raider, amounts=Amounts(viewers=3)))
    # a follow shown first would still be there (an hour long): the raid shows, alone
    raid = "Pal is raiding with 3 viewers!"
    await expect(raids.page.locator(".alert-title")).to_have_text([raid])
    typo.assert_clean()
    raids.assert_clean()


async def test_ticker_platforms_it_does_not_know_are_ignored(
    served: Served, open_overlay: OpenOverlay
) -> None:
    _, runtime = served
    url = (await overlay_urls(runtime))["ticker"]
    typo = await open_overlay(f"{url}?platforms=twich")
    assert await say(runtime, "!ping") == ["pong"]
    await expect(typo.page.locator(".ticker-text")).to_have_text(["pong"])
    typo.assert_clean()


async def test_the_ticker_shows_what_the_bot_says_in_chat(
    served: Served, open_overlay: OpenOverlay
) -> None:
    _, runtime = served
    ticker = await open_overlay((await overlay_urls(runtime))["ticker"])
    lines = ticker.page.locator(".ticker-text")
    assert await say(
        runtime, "!addcom !discord Join us on Discord: discord.example/penguins", role="moderator"
    ) == ["Added !discord."]
    await expect(lines).to_have_text(["Added !discord."])
    await say(runtime, "!discord")
    await say(runtime, "!overlay test ticker", role="moderator")
    await expect(lines).to_have_text(
        [
            "Added !discord.",
            "Join us on Discord: discord.example/penguins",
            "This is how the bot's replies look on the ticker.",
            "Sent a test to the ticker overlay.",
        ]
    )
    await expect(ticker.page.locator(".ticker-author")).to_have_text(["test"])
    await ticker.screenshot("ticker")
    ticker.assert_clean()


async def test_media_shows_what_plays_to_late_pages_too_and_plays_clips_over_it(
    served: Served, open_overlay: OpenOverlay
) -> None:
    _, runtime = served
    url = (await overlay_urls(runtime))["media"]
    media = await open_overlay(url)
    clips: list[Route] = []
    clip_requested = asyncio.Event()

    async def hold(route: Route) -> None:  # the clip's request waits until the test answers
        clips.append(route)
        clip_requested.set()

    await media.page.route("https://clips.invalid/**", hold)
    await say(runtime, "!np Waddle All Night", user="dj")
    card = media.page.locator(".media-card")
    await expect(card.locator(".media-title")).to_have_text("Waddle All Night")
    await expect(card.locator(".media-artist")).to_have_text("The Rockhoppers — Ice Floe Sessions")
    await expect(card.locator(".media-requester")).to_have_text("requested by dj")
    await expect(card.locator(".media-duration")).to_have_text("3:34")
    await expect(card.locator(".media-elapsed")).to_have_text("1:23")
    await media.screenshot("media")
    late = await open_overlay(url)  # opened after the song started: it replays it
    await expect(late.page.locator(".media-title")).to_have_text("Waddle All Night")
    await say(runtime, "!clip https://clips.invalid/best-catch.mp4", user="dj")
    video = media.page.locator("video.media-clip-video")
    await expect(video).to_have_attribute("src", "https://clips.invalid/best-catch.mp4")
    await expect(media.page.locator(".media-clip-caption")).to_have_text(
        "Best catch of the day — clip from dj"
    )
    await expect(card).to_be_hidden()
    await asyncio.wait_for(clip_requested.wait(), 15)
    await clips[0].fulfill(status=404)  # a clip that cannot play ends, and the song is back
    await expect(video).to_have_count(0)
    await expect(card).to_be_visible()
    await say(runtime, "!overlay clear media", role="moderator")
    await expect(card).to_have_count(0)
    for page in (media, late):
        page.assert_clean()


async def test_general_shows_cards_from_modules(served: Served, open_overlay: OpenOverlay) -> None:
    _, runtime = served
    general = await open_overlay((await overlay_urls(runtime))["general"])
    page = general.page
    await say(runtime, "!kudos bob", user="carol")
    await expect(page.locator(".card-fields dt")).to_have_text(["from", "to", "total"])
    await expect(page.locator(".card-fields dd")).to_have_text(["carol", "bob", "3"])
    await say(runtime, "!deaths 3")
    await expect(page.locator(".card-title")).to_have_text("Deaths today")
    await expect(page.locator(".card-value")).to_have_text("3")
    await general.screenshot("general")
    transparent = "rgba(0, 0, 0, 0)"
    for element in ("html", "body"):
        colour = await page.eval_on_selector(element, "e => getComputedStyle(e).backgroundColor")
        assert colour == transparent, f"{element} is {colour}: OBS would show it"
    stage = await page.locator("#stage").bounding_box()
    assert stage is not None and (stage["width"], stage["height"]) == (1920, 1080)
    # a 1280x720 source, the card in its top-left corner at half size
    url = (await overlay_urls(runtime))["general"]
    small = await open_overlay(f"{url}?width=1280&height=720&position=top-left&scale=0.5&margin=10")
    await expect(small.page.locator(".card-value")).to_have_text("3")  # replayed: still shown
    stage = await small.page.locator("#stage").bounding_box()
    card = await small.page.locator(".card").bounding_box()
    assert stage is not None and (stage["width"], stage["height"]) == (1280, 720)
    assert card is not None and (card["x"], card["y"]) == (10, 10) and card["width"] < 300
    await say(runtime, "!overlay clear general", role="moderator")
    await expect(page.locator(".card")).to_have_count(0)
    for overlay in (general, small):
        overlay.assert_clean()


async def test_user_text_that_looks_like_html_is_shown_as_text(
    served: Served, open_overlay: OpenOverlay
) -> None:
    base, runtime = served
    urls = await overlay_urls(runtime)
    pages = {kind: await open_overlay(urls[kind]) for kind in ("ticker", "alerts", "general")}
    # a username, a custom command's text and a card's text, each an HTML image with a script
    await say(runtime, "!overlay test alerts", user=XSS, role="moderator")
    await say(runtime, f"!addcom !xss {XSS}", role="moderator")
    await say(runtime, "!xss")
    await say(runtime, f"!card {XSS}")
    await expect(pages["alerts"].page.locator(".alert-title")).to_have_text(f"{XSS} followed!")
    await expect(pages["ticker"].page.locator(".ticker-line").last).to_have_text(XSS)
    await expect(pages["general"].page.locator(".card-body")).to_have_text(XSS)
    # and from a platform: a cheer with that name and that message
    twitch = await open_overlay(await _page_url(runtime, base, "twitch:1337", "alerts"))
    xss_fan = Author(user_id="666", login="xss", display_name=XSS)
    await _post(base, _twitch(EventType.CHEER, author=xss_fan, text=XSS, amounts=Amounts(bits=1)))
    await expect(twitch.page.locator(".alert-title")).to_have_text(f"{XSS} cheered 1 bit!")
    await expect(twitch.page.locator(".alert-message")).to_have_text(XSS)
    for overlay in [*pages.values(), twitch]:
        await expect(overlay.page.locator("#box img")).to_have_count(0)
        overlay.assert_clean()  # no alert() ran, nothing was refused, nothing loaded from "x"
        assert not [url for url in overlay.requests if url.endswith("/x")]


async def test_pages_come_back_by_themselves_after_a_restart(
    tmp_path: Path, open_overlay: OpenOverlay
) -> None:
    port = free_port()
    settings = browser_settings(tmp_path, overlay_public_url=f"http://127.0.0.1:{port}")
    async with serving(settings, port=port) as (_, runtime):
        ticker = await open_overlay((await overlay_urls(runtime))["ticker"])
        await say(runtime, "!overlay test ticker", role="moderator")
        await expect(ticker.page.locator(".ticker-line").first).to_be_visible()
    html = ticker.page.locator("html")
    await expect(html).to_have_attribute("data-state", "reconnecting")
    async with serving(settings, port=port) as (_, runtime):
        await ticker.live()
        await say(runtime, "!addcom !back We are back!", role="moderator")
        await say(runtime, "!back")
        await expect(ticker.page.locator(".ticker-line").last).to_have_text("We are back!")
    ticker.errors = [e for e in ticker.errors if "WebSocket" not in e]  # while it was down
    ticker.assert_clean()


async def test_a_rotated_url_goes_blank_and_stays_dead(
    served: Served, open_overlay: OpenOverlay
) -> None:
    _, runtime = served
    url = (await overlay_urls(runtime))["general"]
    general = await open_overlay(url)
    await say(runtime, "!deaths 7")
    await expect(general.page.locator(".card-value")).to_have_text("7")
    await say(runtime, "!overlay rotate", user="streamer", role="owner")
    await expect(general.page.locator("html")).to_have_attribute("data-state", "revoked")
    await expect(general.page.locator(".card")).to_have_count(0)
    response = await general.page.goto(url)
    assert response is not None and response.status == 404


async def test_two_browser_source_processes_behind_one_redis_both_deliver(
    tmp_path: Path,
    migrated_postgres_url: str,
    redis_url: str,
    key_prefix: str,
    open_overlay: OpenOverlay,
) -> None:
    key = SecretStr(SecretBox.generate_key())

    def settings(port: int) -> Settings:
        return make_settings(
            database_url=migrated_postgres_url,
            redis_url=redis_url,
            stream_prefix=key_prefix,
            auto_migrate=True,
            data_dir=str(tmp_path),
            modules=[SHOWCASE],
            secret_keys=[key],
            overlay_public_url=f"http://127.0.0.1:{port}",
        )

    # the router and the chat in one process, each browser-source service in its own
    producer = await Runtime.start(settings(free_port()), services=("router", "console"))
    try:
        path = urlsplit((await overlay_urls(producer))["alerts"]).path
        first, second = free_port(), free_port()
        async with (
            serving(settings(first), services={"browser_source"}, port=first) as (one, _),
            serving(settings(second), services={"browser_source"}, port=second) as (two, _),
        ):
            pages = [await open_overlay(one + path), await open_overlay(two + path)]
            await say(producer, "!overlay test alerts", user="mia", role="moderator")
            for page in pages:
                await expect(page.page.locator(".alert-title")).to_have_text("mia followed!")
                page.assert_clean()
    finally:
        await producer.stop()
