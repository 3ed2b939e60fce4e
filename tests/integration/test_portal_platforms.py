"""The platforms page over HTTP (embedded, the Twitch and Slack collectors running against
their fakes; and the portal served alone): connecting a Twitch channel through its ticket, the
token then shown, the Slack install link, adding by code and disconnecting (the owner's), the
roles (a moderator is refused, an admin cannot disconnect), CSRF, another community's places
never shown, names escaped, and what a process without the collectors says."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx2
import pytest
from pydantic import SecretStr

from tests.fakes.discord import FakeDiscord
from tests.fakes.slack import FakeSlack
from tests.fakes.twitch import FakeTwitch
from tests.integration.test_portal import signed_in
from tests.integration.test_portal_oauth import oauth_settings
from tests.support.connections import reporting
from tests.support.harness import free_port, serving, until
from waddlebot.infra.connections import ConnectionReporter, Link, State
from waddlebot.infra.secretbox import SecretBox
from waddlebot.platforms import TWITCH
from waddlebot.platforms.twitch import status_report
from waddlebot.platforms.twitch.status_report import Channel, Snapshot, Subscription
from waddlebot.platforms.twitch.tokens import TokenStatus
from waddlebot.runtime import Runtime
from waddlebot.settings import Settings

STREAMER = "4711"
XSS = '<img src=x onerror="alert(1)">'


@dataclass
class Site:
    url: str
    runtime: Runtime
    twitch: FakeTwitch
    community: int
    other: int


@pytest.fixture
async def site(settings: Settings) -> AsyncIterator[Site]:
    async with FakeTwitch() as twitch, FakeDiscord() as discord, FakeSlack() as slack:
        twitch.add_user(STREAMER, "streamer", "Streamer")
        port = free_port()
        update = oauth_settings(settings, port, twitch, discord, slack)
        update.update(
            twitch_public_url=f"http://127.0.0.1:{port}",
            twitch_eventsub_ws_url=twitch.eventsub_ws_url,
            slack_signing_secret=SecretStr(slack.signing_secret),
            slack_public_url=f"http://127.0.0.1:{port}",
            slack_authorize_url=f"{slack.base_url}/oauth/v2/authorize",
        )
        configured = settings.model_copy(update=update)
        async with serving(configured, port=port) as (url, runtime):
            home = await runtime.directory.resolve_entity("console:local", "console", name="Home")
            other = await runtime.directory.resolve_entity("console:far", "console", name="Far")
            yield Site(url, runtime, twitch, home.community_id, other.community_id)


def csrf_in(page: httpx2.Response) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]


async def as_role(http: httpx2.AsyncClient, site: Site, login: str, role: str) -> int:
    user = await signed_in(http, site.runtime, login)
    await site.runtime.directory.set_role(site.community, user, role)
    return user


@pytest.mark.parametrize("mode", ["embedded"])
async def test_an_owner_connects_a_twitch_channel_and_disconnects_it(site: Site) -> None:
    page = f"/c/{site.community}/platforms"
    async with httpx2.AsyncClient(base_url=site.url) as http:
        await as_role(http, site, "olive", "owner")
        shown = await http.get(page)
        assert shown.status_code == 200
        assert "Connect a Twitch channel" in shown.text and "Add a Slack workspace" in shown.text
        assert (
            "Discord servers" in shown.text and "Collector: one runs in this process" in shown.text
        )
        token = csrf_in(shown)

        plain = await http.post(f"{page}/twitch/connect", data={"csrf_token": token})
        assert plain.status_code == 200 and "Continue to Twitch" in plain.text
        headers = {"HX-Request": "true", "X-CSRF-Token": token}
        hx = await http.post(f"{page}/twitch/connect", headers=headers)
        ticket = hx.headers["hx-redirect"]
        assert hx.status_code == 204 and "/collectors/twitch/oauth/start?ticket=" in ticket
        site.twitch.authorize_as(STREAMER)
        to_twitch = await http.get(ticket)
        back = await http.get(to_twitch.headers["location"])  # the fake approves at once
        done = await http.get(
            urlsplit(back.headers["location"]).path + "?" + urlsplit(back.headers["location"]).query
        )
        assert done.status_code == 200 and "is connected" in done.text

        shown = await http.get(page)
        assert "<code>twitch:4711</code>" in shown.text and "streamer" in shown.text
        assert re.search(r"<td>streamer</td>\s*<td>broadcaster</td>\s*<td>ok", shown.text)

        slack = await http.post(f"{page}/slack/install", headers=headers)
        assert "/collectors/slack/oauth/start?ticket=" in slack.headers["hx-redirect"]

        code = await http.post(f"{page}/link", data={"csrf_token": token, "platform": "discord"})
        assert code.status_code == 200 and "Your code for adding a discord place" in code.text
        bad = await http.post(f"{page}/link", data={"csrf_token": token, "platform": "irc"})
        assert bad.status_code == 400 and 'id="link-platform-error"' in bad.text

        gone = await http.post(f"{page}/unlink", data={"csrf_token": token, "place": "twitch:4711"})
        assert gone.status_code == 200 and "twitch:4711 has left this community" in gone.text
        assert "<code>twitch:4711</code>" not in gone.text
        last = await http.post(
            f"{page}/unlink", data={"csrf_token": token, "place": "console:local"}
        )
        assert last.status_code == 400 and "the community&#39;s only place" in last.text
    await site.runtime.audit.flush()
    actions = {row.action for row in await site.runtime.audit.recent(50)}
    assert {"twitch.connect", "community.link.start", "community.unlink"} <= actions


@pytest.mark.parametrize("mode", ["embedded"])
async def test_roles_csrf_and_other_communities(site: Site) -> None:
    page = f"/c/{site.community}/platforms"
    await site.runtime.directory.resolve_entity("twitch:999", "twitch", name=XSS)
    far = await site.runtime.directory.resolve_entity("twitch:999", "twitch")
    async with httpx2.AsyncClient(base_url=site.url) as http:
        user = await as_role(http, site, "mo", "moderator")
        token = csrf_in(await http.get("/account"))
        assert (await http.get(page)).status_code == 403
        refused = await http.post(f"{page}/twitch/connect", data={"csrf_token": token})
        assert refused.status_code == 403

        await site.runtime.directory.set_role(site.community, user, "admin")
        shown = await http.get(page)
        assert shown.status_code == 200 and "Disconnect" not in shown.text
        assert "twitch:999" not in shown.text  # another community's place
        assert "Add a place by code" not in shown.text
        for action, field in (("unlink", "place"), ("link", "platform")):
            data = {"csrf_token": token, field: "console:local" if field == "place" else "discord"}
            assert (await http.post(f"{page}/{action}", data=data)).status_code == 403
        assert (await http.post(f"{page}/twitch/connect")).status_code == 403  # no CSRF token
        assert (await http.get(f"/c/{far.community_id}/platforms")).status_code == 404

        await site.runtime.directory.set_role(far.community_id, user, "owner")
        theirs = await http.get(f"/c/{far.community_id}/platforms")
        assert "&lt;img src=x" in theirs.text and XSS not in theirs.text


@pytest.mark.parametrize("mode", ["distributed"])
async def test_the_portal_alone_says_what_it_does_not_know(settings: Settings) -> None:
    async with (
        serving(settings, services={"portal"}) as (url, runtime),
        httpx2.AsyncClient(base_url=url) as http,
    ):
        user = await signed_in(http, runtime, "pat")
        home = await runtime.directory.resolve_entity("console:local", "console", name="Home")
        await runtime.directory.set_role(home.community_id, user, "owner")
        shown = await http.get(f"/c/{home.community_id}/platforms")
        assert shown.status_code == 200
        assert "No Twitch collector has reported lately" in shown.text
        assert "Connect a Twitch channel" not in shown.text
        assert "<code>console:local</code>" in shown.text


BOT, THEIRS = "9001", "5000"


async def connected(http: httpx2.AsyncClient, twitch: FakeTwitch, runtime: Runtime) -> None:
    """The bot account, the streamer's channel into Home and another channel into Far,
    through the OAuth flow of the Twitch collector running in ``runtime``."""
    collector = runtime.collector(TWITCH)
    assert collector is not None
    home = await runtime.directory.resolve_entity("console:local", "console", name="Home")
    far = await runtime.directory.resolve_entity("console:far", "console", name="Far")
    for user, community in ((BOT, None), (STREAMER, home), (THEIRS, far)):
        purpose = "bot" if community is None else "broadcaster"
        link = collector.connect.ticket_url(
            purpose=purpose,
            community_id=None if community is None else community.community_id,
            actor="test",
        )
        twitch.authorize_as(user)
        page = await http.get(link, follow_redirects=True)
        assert page.status_code == 200 and f"is connected ({purpose})" in page.text
    # each channel's 9 and the bot's whispers, verified; then checked as the hourly sync does
    await until(lambda: len(twitch.subscriptions(status="enabled")) == 19)
    await collector.sync_subscriptions()


@pytest.mark.parametrize("mode", ["distributed"])
async def test_the_portal_alone_shows_the_tokens_and_subscriptions_the_collector_reports(
    settings: Settings,
) -> None:
    async with FakeTwitch() as twitch:
        twitch.add_user(BOT, "waddlebot", "WaddleBot")
        twitch.add_user(STREAMER, "streamer", "Streamer")
        twitch.add_user(THEIRS, "faraway", "Faraway")
        port = free_port()
        public = f"http://127.0.0.1:{port}"
        client = twitch.register_client(
            redirect_uris=[f"{public}/collectors/twitch/oauth/callback"]
        )
        configured = settings.model_copy(
            update={
                "secret_keys": [SecretStr(SecretBox.generate_key())],
                "twitch_client_id": client.client_id,
                "twitch_client_secret": SecretStr(client.secret),
                "twitch_transport": "webhook",
                "twitch_public_url": public,
                "twitch_eventsub_secret": SecretStr("eventsub-secret-for-the-page"),
                "twitch_helix_url": twitch.helix_url,
                "twitch_auth_url": twitch.auth_url,
            }
        )
        async with (
            serving(configured, services={"portal"}) as (url, portal),
            httpx2.AsyncClient(base_url=url) as http,
        ):
            home = await portal.directory.resolve_entity("console:local", "console", name="Home")
            user = await signed_in(http, portal, "pat")
            await portal.directory.set_role(home.community_id, user, "admin")
            page = f"/c/{home.community_id}/platforms"
            assert "No Twitch collector has reported lately" in (await http.get(page)).text

            async with (
                serving(configured, services={"twitch"}, port=port) as (_, collector),
                httpx2.AsyncClient() as browser,
            ):
                await connected(browser, twitch, collector)
                shown = (await http.get(page)).text
                assert "No Twitch collector has reported lately" not in shown
                assert re.search(r"Transport: webhook\. As of 20\d\d-.* UTC \(just now\)", shown)
                assert re.search(r"<td>streamer</td>\s*<td>broadcaster</td>\s*<td>ok", shown)
                subscriptions = re.findall(
                    r"<tr><td>([\w.]+) v(\d)</td><td>(\d+)</td><td>webhook</td><td>(\w+)</td>"
                    r"<td>20\d\d-",
                    shown,
                )
                assert ("channel.follow", "2", STREAMER, "enabled") in subscriptions
                assert ("channel.chat.message", "1", STREAMER, "enabled") in subscriptions
                assert len(subscriptions) == 9  # what one channel needs
                assert THEIRS not in shown and "faraway" not in shown  # Far's channel
                assert "waddlebot</td>" not in shown  # the bot's own token: no channel here

            # the collector stopped: its snapshot went with it
            assert "No Twitch collector has reported lately" in (await http.get(page)).text

            # one that died leaves its last snapshot, until it runs out
            left = Snapshot(time.time(), "webhook", {STREAMER: Channel()})
            await status_report.publish(portal.ports.cache, left, ttl=0.3)
            assert "Transport: webhook. As of" in (await http.get(page)).text
            async with asyncio.timeout(10):
                while "No Twitch collector" not in (await http.get(page)).text:
                    await asyncio.sleep(0.05)


def shard(n: int, state: State, guild: str) -> Link:
    return Link(
        f"shard {n}", state, time.time() - 180, time.time() - 5, 41.0, f"s-{n}", True, (guild,)
    )


def twitch_snapshot() -> Snapshot:
    """What a leading Twitch collector elsewhere published: channel 4711's token and two of
    its subscriptions, and another community's channel 5000."""
    now = datetime.now(UTC)
    token = TokenStatus(
        STREAMER, "streamer", "broadcaster", None, (), (), now + timedelta(hours=3), now, "ok"
    )
    made = now - timedelta(days=2)
    ours = Channel(
        (token,),
        (
            Subscription("channel.chat.message", "1", "enabled", "websocket", made),
            Subscription("channel.follow", "2", "authorization_revoked", "websocket", made),
        ),
    )
    theirs = Channel((), (Subscription("channel.raid", "1", "enabled", "websocket", made),))
    return Snapshot(time.time() - 30, "websocket", {STREAMER: ours, THEIRS: theirs})


async def elsewhere_collectors(runtime: Runtime, community: int) -> list[ConnectionReporter]:
    """The community joins Discord (server 111) and Twitch (channel 4711), whose collectors
    run in other processes and report: one Discord shard ready (ours), one resuming (another
    server's); the Twitch bot session and each channel's own, one of them another
    community's."""
    for entity, platform in (("discord:111:222", "discord"), ("twitch:4711", "twitch")):
        await runtime.community.attach(community, entity, platform, actor="test")
    ports = runtime.ports
    bot = Link(
        "bot session",
        "ready",
        time.time() - 60,
        None,
        None,
        "tw-bot",
        True,
        ("twitch:4711", "twitch:5000"),
    )
    ours = Link(
        "channel session", "ready", time.time() - 60, None, None, "tw-ours", False, ("twitch:4711",)
    )
    theirs = Link(
        "channel session",
        "connecting",
        time.time(),
        None,
        None,
        "tw-theirs",
        False,
        ("twitch:5000",),
    )
    await status_report.publish(ports.cache, twitch_snapshot())
    return [
        await reporting(
            ports,
            "discord",
            f"discord-{XSS}",
            [shard(0, "ready", "discord:111"), shard(1, "resuming", "discord:999")],
        ),
        await reporting(ports, "twitch", "twitch-a", [bot, ours, theirs]),
    ]


@pytest.mark.parametrize("mode", ["distributed"])
async def test_the_portal_alone_shows_what_the_collectors_elsewhere_report(
    settings: Settings,
) -> None:
    async with (
        serving(settings, services={"portal"}) as (url, runtime),
        httpx2.AsyncClient(base_url=url) as http,
    ):
        home = await runtime.directory.resolve_entity("console:local", "console", name="Home")
        community = home.community_id
        reporters = await elsewhere_collectors(runtime, community)
        user = await signed_in(http, runtime, "pat")
        await runtime.directory.set_role(community, user, "admin")
        page = f"/c/{community}/platforms"
        shown = (await http.get(page)).text
        assert re.search(
            r'class="health-degraded" id="discord-health">Discord: 1 of 2 gateway shards ready<',
            shown,
        )
        rows = re.findall(
            r"<tr>\s*<td><code>(.*?)</code></td>\s*<td>(.*?)<br>.*?</tr>", shown, re.S
        )
        evil = "discord-&lt;img src=x onerror=&#34;alert(1)&#34;&gt;"  # escaped
        assert rows == [
            ("twitch-a", "bot session"),
            ("twitch-a", "channel session"),
            (evil, "shard 0"),
            (evil, "shard 1"),
        ]
        assert XSS not in shown and "41 ms" in shown
        assert "discord:999" not in shown  # which servers another shard carries: not said
        assert 'id="twitch-health">Twitch: 2 of 2 EventSub sessions ready<' in shown
        assert "tw-ours" in shown and "tw-bot" in shown
        assert "tw-theirs" not in shown  # another community's channel session
        assert re.search(r"<td>channel.follow v2</td><td>4711</td>.*authorization_revoked", shown)
        assert "channel.raid" not in shown  # another community's channel
        assert "slack-health" not in shown  # no Slack place here

        await reporters[0].stop()  # the Discord collector stopped
        shown = (await http.get(page)).text
        assert "Discord: no collector is reporting" in shown
        await reporters[1].stop()
