"""Browser-source overlays end to end over real HTTP and WebSockets, embedded and distributed:
who gets the URLs and how, what a page is served with, which updates reach which page,
alerts from platform events, the ticker of bot replies, replay on connect, rotation, limits."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx2
import pytest
from pydantic import SecretStr
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.support.harness import free_port, make_settings, say, serving
from tests.support.overlays import Feed, feed_url, open_feed, overlay_urls, with_state
from waddlebot.app import create_app
from waddlebot.core.events import Amounts, Author, Event, EventType, new_id
from waddlebot.features.overlay.web import (
    CONTENT_SECURITY_POLICY,
    content_security_policy,
    portal_origin,
)
from waddlebot.infra import overlay_keys as keys
from waddlebot.infra.codec import Envelope
from waddlebot.infra.secretbox import SecretBox
from waddlebot.router.pipeline import Incoming
from waddlebot.runtime import Runtime
from waddlebot.settings import Settings

Served = tuple[str, Runtime]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Overlay tokens are kept encrypted: processes sharing a Redis need a configured key."""
    return settings.model_copy(
        update={"secret_keys": [SecretStr(SecretBox.generate_key())], "log_level": "WARNING"}
    )


async def _serve(settings: Settings, **overrides: object) -> AsyncIterator[Served]:
    port = free_port()
    configured = settings.model_copy(
        update={"overlay_public_url": f"http://127.0.0.1:{port}", **overrides}
    )
    async with serving(configured, port=port) as served:
        yield served


@pytest.fixture
async def served(settings: Settings) -> AsyncIterator[Served]:
    async for served in _serve(settings):
        yield served


async def _route(runtime: Runtime, *events: Event) -> None:
    """Through the router as a worker would hand them over; returns once they are done."""
    await runtime.router.process([Incoming(Envelope(event)) for event in events])


def _platform_event(type_: EventType, entity: str, **fields: object) -> Event:
    platform = entity.partition(":")[0]
    return Event(
        platform=platform,  # type: ignore[arg-type]
        entity_id=entity,
        message_id=new_id(),
        type=type_,
        **fields,  # type: ignore[arg-type]
    )


async def _page(runtime: Runtime, base: str, entity: str, kind: str) -> str:
    """The page URL of the community a place belongs to."""
    platform = entity.partition(":")[0]
    community = await runtime.directory.resolve_entity(entity, platform)
    token = await runtime.overlay_tokens.current(community.community_id, actor="test")
    return f"{base}/overlay/{token}/{kind}"


# -- the URLs ----------------------------------------------------------------------------------


async def test_only_the_owner_gets_the_urls_and_only_in_private(runtime: Runtime) -> None:
    assert await say(runtime, "!overlay url") == ["@alice, !overlay is for moderator level and up."]
    assert await say(runtime, "!overlay url", user="mia", role="moderator") == [
        "Only the owner can see the overlay URLs: they let anyone put things on the stream."
    ]
    private, said = await say(runtime, "!overlay url", user="streamer", role="owner")
    assert said == "I sent you the overlay URLs by private message."
    assert private.startswith("(private) Add each as a Browser source in OBS (1920x1080)")
    urls = dict(re.findall(r"(ticker|media|alerts|general): (\S+)", private))
    assert list(urls) == ["ticker", "media", "alerts", "general"]
    tokens = {url.split("/")[-2] for url in urls.values()}
    ((token,),) = [tokens]
    assert len(token) >= 32
    (again, _) = await say(runtime, "!overlay url alerts", user="streamer", role="owner")
    assert again.endswith(f"alerts: {urls['alerts']}") and "ticker:" not in again
    assert await say(runtime, "!overlay url sparkles", user="streamer", role="owner") == [
        "Usage: !overlay url [kind] | rotate | test [kind] | test alerts <media id>... | "
        "clear [kind] "
        "(there is no 'sparkles' overlay; the kinds are ticker, media, alerts, general)"
    ]
    await runtime.audit.flush()
    made = [e for e in await runtime.audit.recent() if e.action.startswith("overlay.")]
    owner = await runtime.identity.find_user("console", "streamer")
    assert [(e.action, e.actor, e.target) for e in made] == [
        ("overlay.token.create", str(owner), "overlay")
    ]
    assert token not in str([e.detail for e in made])


async def test_urls_are_not_shown_where_no_private_message_can_go(settings: Settings) -> None:
    runtime = await Runtime.start(settings.model_copy(update={"direct_message_platforms": []}))
    try:
        assert await say(runtime, "!overlay url", user="streamer", role="owner") == [
            "Overlay URLs are secret and I can't send private messages on console yet: ask "
            "where I can (like the console)."
        ]
        # replacing them still works there: it is what to do when a URL leaked on stream
        (said,) = await say(runtime, "!overlay rotate", user="streamer", role="owner")
        assert said.startswith("Overlay URLs replaced: the old ones stopped working.")
    finally:
        await runtime.stop()


async def test_distributed_without_a_secret_key_says_what_to_set(
    tmp_path: Path, migrated_postgres_url: str, redis_url: str, key_prefix: str
) -> None:
    settings = make_settings(
        database_url=migrated_postgres_url,
        redis_url=redis_url,
        stream_prefix=key_prefix,
        auto_migrate=True,
        data_dir=str(tmp_path),
    )
    runtime = await Runtime.start(settings)
    try:
        assert await say(runtime, "!overlay url", user="streamer", role="owner") == [
            "I can't show the overlay URLs: overlay URLs are kept encrypted, and no secret key "
            "is configured: set WADDLEBOT_SECRET_KEYS (make one with `waddlebot secret-key`)."
        ]
    finally:
        await runtime.stop()


# -- the pages ---------------------------------------------------------------------------------


async def test_only_the_portal_may_frame_a_page(settings: Settings) -> None:
    """The portal's overlays page previews the pages in frames: its origin (and the page's
    own, the embedded mode's portal) may frame them, no other site."""
    async for _, runtime in _serve(settings, portal_public_url="https://portal.example/"):
        urls = await overlay_urls(runtime)
        async with httpx2.AsyncClient() as http:
            page = await http.get(urls["alerts"])
        policy = page.headers["content-security-policy"]
        assert policy.endswith("frame-ancestors 'self' https://portal.example")
        assert "x-frame-options" not in page.headers


async def test_a_page_has_a_strict_policy_and_unknown_urls_are_refused(served: Served) -> None:
    base, runtime = served
    urls = await overlay_urls(runtime)
    async with httpx2.AsyncClient() as http:
        page = await http.get(urls["alerts"])
        assert page.status_code == 200
        policy = content_security_policy(portal=portal_origin(runtime))
        assert page.headers["content-security-policy"] == policy
        assert "script-src 'self';" in CONTENT_SECURITY_POLICY and "unsafe" not in page.text
        assert page.headers["referrer-policy"] == "no-referrer"
        assert page.headers["content-type"].startswith("text/html")
        scripts = re.findall(r"<script[^>]*>", page.text)
        assert scripts == ['<script src="../static/overlay.js" defer>']  # nothing inline
        script = await http.get(f"{base}/overlay/static/overlay.js")
        assert script.status_code == 200 and "textContent" in script.text
        assert "innerHTML" not in script.text
        token = urls["alerts"].split("/")[-2]
        for wrong in (f"/overlay/{'x' * 32}/alerts", f"/overlay/{token}/sparkles"):
            refused = await http.get(base + wrong)
            assert refused.status_code == 404 and "!overlay url" in refused.text
        assert (await http.get(f"{base}/overlay/static/page.html")).status_code == 404
    with pytest.raises(InvalidStatus):
        await open_feed(f"{base}/overlay/{'x' * 32}/alerts")


async def test_each_page_gets_its_own_kind_and_bot_replies_go_to_the_ticker(
    served: Served,
) -> None:
    _, runtime = served
    urls = await overlay_urls(runtime)
    alerts, ticker = await open_feed(urls["alerts"]), await open_feed(urls["ticker"])
    assert alerts.hello["kind"] == "alerts" and ticker.hello["heartbeat"] == 15
    assert await say(runtime, "!overlay test alerts", user="mia", role="moderator") == [
        "Sent a test to the alerts overlay."
    ]
    update = await alerts.next()
    assert (update["type"], update["kind"]) == ("update", "alerts")
    assert update["data"] == {"kind": "follow", "name": "mia"}
    line = await ticker.next()  # the bot's answer to the moderator, said in the channel
    assert line["data"] == {"text": "Sent a test to the alerts overlay.", "platform": "console"}
    await say(runtime, "!secret")  # answered in private: not for the stream
    await say(runtime, "!echo hello stream")
    assert (await ticker.next())["data"]["text"] == "hello stream"


async def test_follows_subs_cheers_and_raids_become_alerts_on_any_platform(
    served: Served,
) -> None:
    base, runtime = served
    twitch = await open_feed(await _page(runtime, base, "twitch:1337", "alerts"))
    discord = await open_feed(await _page(runtime, base, "discord:77:1", "alerts"))
    fan = Author(user_id="42", login="fan", display_name="Fan")
    await _route(
        runtime,
        _platform_event(EventType.FOLLOW, "twitch:1337", author=fan),
        _platform_event(
            EventType.SUBSCRIBE,
            "twitch:1337",
            author=fan,
            text="a year already!",
            amounts=Amounts(tier="1000", months=12),
        ),
        _platform_event(EventType.GIFT_SUBSCRIBE, "twitch:1337", amounts=Amounts(count=5)),
        _platform_event(
            EventType.CHEER,
            "twitch:1337",
            author=fan,
            text="Cheer100 go",
            amounts=Amounts(bits=100),
        ),
        _platform_event(
            EventType.RAID,
            "twitch:1337",
            author=Author(user_id="9", login="pal", display_name="Pal"),
            amounts=Amounts(viewers=42),
        ),
        _platform_event(
            EventType.BOOST, "discord:77:1", author=fan, server_id="77", channel_id="1"
        ),
    )
    shown = [(await twitch.next())["data"] for _ in range(6)]  # the test kit alerts raids too
    common = {"name": "Fan", "platform": "twitch"}
    assert {"kind": "follow", **common} in shown
    assert {
        "kind": "subscribe",
        "message": "a year already!",
        "months": 12,
        "tier": "1000",
        **common,
    } in shown
    assert {"kind": "gift_subscribe", "platform": "twitch", "count": 5} in shown  # anonymous
    assert {"kind": "cheer", "message": "Cheer100 go", "bits": 100, **common} in shown
    assert {"kind": "raid", "name": "Pal", "platform": "twitch", "viewers": 42} in shown
    assert (await discord.next())["data"] == {"kind": "boost", "name": "Fan", "platform": "discord"}


async def test_a_page_opened_later_shows_what_plays_now(served: Served) -> None:
    _, runtime = served
    urls = await overlay_urls(runtime)
    await say(runtime, "!overlay test", user="mia", role="moderator")
    media = await with_state(urls["media"])
    ((song,),) = [media.state]
    assert song["data"]["title"] == "Waddle All Night" and song["data"]["position"] == 42
    card = await with_state(urls["general"])
    assert card.state[0]["data"]["title"] == "Overlay test"
    lines = await with_state(urls["ticker"])
    assert [line["data"]["text"] for line in lines.state] == [
        "This is how the bot's replies look on the ticker."
    ]
    # alerts are news: a page opened after one does not show it again
    alerts = await open_feed(urls["alerts"])
    await say(runtime, "!overlay clear media", user="mia", role="moderator")
    assert (await media.next())["data"] == {"clear": True}
    fresh_media = await open_feed(urls["media"])
    await say(runtime, "!overlay test", user="mia", role="moderator")
    assert (await alerts.next())["type"] == "update"  # not a replayed "state"
    assert (await fresh_media.next())["type"] == "update"  # the clear was kept: nothing replayed


async def test_rotating_closes_the_open_pages_and_retires_the_old_urls(served: Served) -> None:
    _, runtime = served
    old = await overlay_urls(runtime)
    page = await open_feed(old["general"])
    private, said = await say(runtime, "!overlay rotate", user="streamer", role="owner")
    assert said == (
        "Overlay URLs replaced: the old ones stopped working. I sent you the new ones by "
        "private message."
    )
    assert private.startswith("(private) The new overlay URLs: ticker: http://")
    assert await page.close_code() == 4001
    new = await overlay_urls(runtime)
    assert new["general"] != old["general"] and new["general"] in private
    async with httpx2.AsyncClient() as http:
        assert (await http.get(old["general"])).status_code == 404
        assert (await http.get(new["general"])).status_code == 200
    with pytest.raises(InvalidStatus):
        await open_feed(old["general"])
    await open_feed(new["general"])
    await runtime.audit.flush()
    rotations = [e for e in await runtime.audit.recent() if e.action == "overlay.token.rotate"]
    owner = await runtime.identity.find_user("console", "streamer")
    assert [(e.actor, e.decision) for e in rotations] == [(str(owner), "change")]


async def test_a_page_joining_while_the_token_rotates_is_closed(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rotation's notice goes to the pages open then; one that joined meanwhile is
    checked again once it has joined."""
    _, runtime = served
    old = await overlay_urls(runtime)
    hub = runtime.overlay_hub
    assert hub is not None
    join = hub.join

    async def rotate_then_join(client: object) -> bool:
        await say(runtime, "!overlay rotate", user="streamer", role="owner")
        return await join(client)  # type: ignore[arg-type]

    monkeypatch.setattr(hub, "join", rotate_then_join)
    with pytest.raises(ConnectionClosed):  # closed at once, before its hello
        await open_feed(old["general"])


async def test_a_community_may_open_only_so_many_pages(settings: Settings) -> None:
    async for _, runtime in _serve(settings, overlay_max_connections=2):
        urls = await overlay_urls(runtime)
        await open_feed(urls["alerts"])
        await open_feed(urls["ticker"])
        third = Feed(await connect(feed_url(urls["media"])))
        assert await third.close_code() == 1013  # try again later


async def test_a_ticker_page_makes_the_community_live(served: Served) -> None:
    _, runtime = served
    await say(runtime, "!echo nobody watching")
    community = await runtime.directory.resolve_entity("console:local", "console")
    cache = runtime.ports.cache
    assert await cache.get(keys.state_key(community.community_id, "ticker")) is None
    urls = await overlay_urls(runtime)
    assert await cache.get(keys.live_key(community.community_id)) is None
    ticker = await open_feed(urls["ticker"])
    assert await cache.get(keys.live_key(community.community_id)) == b"1"
    await say(runtime, "!echo now someone is")
    assert (await ticker.next())["data"]["text"] == "now someone is"


def test_tokens_are_masked_in_the_web_servers_log(tmp_path: Path) -> None:
    create_app(make_settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/x.db"))
    path = f"/overlay/{'T0k3n' * 7}/alerts/ws"
    record = logging.LogRecord(
        "uvicorn.error", logging.INFO, __file__, 1, '%s - "WebSocket %s" [accepted]',
        ("127.0.0.1:5", path), None,
    )  # fmt: skip
    assert logging.getLogger("uvicorn.error").filter(record)
    assert (
        record.getMessage() == '127.0.0.1:5 - "WebSocket /overlay/[redacted]/alerts/ws" [accepted]'
    )
