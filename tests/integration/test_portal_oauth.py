"""Signing in to the portal with a Twitch, Discord or Slack account, over HTTP against the
fakes of the three (the portal served alone, as ``serve portal``): the person an account
belongs to is signed in (a linked account too), an account the bot never met is refused, the
state works once and in one browser only, the session is a new one, and only configured
platforms are offered (tests/browser/test_portal_oauth.py does it in a browser)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx2
import pytest
from pydantic import SecretStr

from tests.fakes.discord import FakeDiscord
from tests.fakes.slack import FakeSlack
from tests.fakes.twitch import FakeTwitch
from tests.integration.test_portal import signed_in
from tests.support.harness import free_port, serving
from waddlebot.infra.db.models import Identity
from waddlebot.infra.secretbox import SecretBox
from waddlebot.portal.security import SESSION_COOKIE
from waddlebot.runtime import Runtime
from waddlebot.settings import Settings

TWITCH_ID, DISCORD_ID = "1337", "80351110224678912"


@dataclass
class Site:
    url: str
    runtime: Runtime
    twitch: FakeTwitch
    discord: FakeDiscord
    slack: FakeSlack
    slack_team: str
    slack_user: str
    community: int

    async def person(self, platform: str, account: str, name: str) -> int:
        return await self.runtime.directory.ensure_identity(platform, account, name)

    async def link(self, user_id: int, platform: str, account: str) -> None:
        async with self.runtime.db.session() as session:
            session.add(Identity(user_id=user_id, platform=platform, platform_user_id=account))


def oauth_settings(
    settings: Settings, port: int, twitch: FakeTwitch, discord: FakeDiscord, slack: FakeSlack
) -> dict[str, object]:
    """The three platforms' apps, pointed at the fakes."""
    client = twitch.register_client()
    return {
        "portal_public_url": f"http://127.0.0.1:{port}",
        "secret_keys": [SecretStr(SecretBox.generate_key())],
        "twitch_client_id": client.client_id,
        "twitch_client_secret": SecretStr(client.secret),
        "twitch_helix_url": twitch.helix_url,
        "twitch_auth_url": twitch.auth_url,
        "discord_application_id": discord.application_id,
        "discord_client_secret": SecretStr(discord.client_secret),
        "discord_api_url": discord.api_url,
        "discord_authorize_url": discord.authorize_url,
        "slack_client_id": slack.client_id,
        "slack_client_secret": SecretStr(slack.client_secret),
        "slack_api_url": slack.api_url,
        "slack_openid_url": slack.openid_url,
    }


@pytest.fixture
async def site(settings: Settings) -> AsyncIterator[Site]:
    async with FakeTwitch() as twitch, FakeDiscord() as discord, FakeSlack() as slack:
        twitch.add_user(TWITCH_ID, "penguinz", "Penguinz")
        discord.add_user(DISCORD_ID, "puffin", global_name="Puffin")
        team = slack.add_team("Acme")
        slack_user = slack.add_user(team, "gentoo", real_name="Gentoo").id
        port = free_port()
        update = oauth_settings(settings, port, twitch, discord, slack)
        configured = settings.model_copy(update=update)
        async with serving(configured, services={"portal"}, port=port) as (url, runtime):
            home = await runtime.directory.resolve_entity("console:local", "console", name="Home")
            yield Site(url, runtime, twitch, discord, slack, team.id, slack_user, home.community_id)


async def to_platform(http: httpx2.AsyncClient, platform: str, next_: str = "/") -> str:
    """Click "Sign in with <platform>" and approve there: the callback URL it sends back."""
    start = await http.get(f"/login/{platform}?{urlencode({'next': next_})}")
    assert start.status_code == 302, start.text
    consent = await http.get(start.headers["location"])
    assert consent.status_code == 302, consent.text
    return str(consent.headers["location"])


async def back(http: httpx2.AsyncClient, callback: str) -> httpx2.Response:
    parts = urlsplit(callback)
    return await http.get(f"{parts.path}?{parts.query}")


async def whoami(http: httpx2.AsyncClient) -> str:
    page = await http.get("/account")
    assert page.status_code == 200, page.status_code
    found = re.search(r"@([\w.-]+)", page.text)
    return found.group(1) if found else ""


@pytest.mark.parametrize("mode", ["embedded"])
async def test_each_platform_signs_in_the_person_its_account_belongs_to(site: Site) -> None:
    penguin = await site.person("twitch", TWITCH_ID, "penguinz")
    await site.runtime.directory.set_role(site.community, penguin, "owner")
    await site.link(penguin, "discord", DISCORD_ID)  # the same person on Discord
    gentoo = await site.person("slack", site.slack_user, "gentoo")
    site.twitch.authorize_as(TWITCH_ID)
    site.discord.authorize_as(DISCORD_ID)
    site.slack.authorize_as(site.slack_team, site.slack_user)
    async with httpx2.AsyncClient(base_url=site.url) as http:
        login = await http.get("/login")
        for label in ("Twitch", "Discord", "Slack"):
            assert f">Sign in with {label}</a>" in login.text
        callback = await to_platform(http, "twitch", next_="/account")
        assert urlsplit(callback).path == "/login/twitch/callback"
        done = await back(http, callback)
        assert done.status_code == 303 and done.headers["location"] == "/account"
        assert await whoami(http) == "penguinz"
        first = http.cookies[SESSION_COOKIE]

        done = await back(http, await to_platform(http, "discord"))
        assert done.status_code == 303 and done.headers["location"] == "/"
        assert await whoami(http) == "penguinz"  # Discord's account is linked to the same
        second = http.cookies[SESSION_COOKIE]
        assert second != first  # a new session at each sign-in; the old one ended
        assert await site.runtime.accounts.session_user(first) is None
        assert await site.runtime.accounts.session_user(second) == penguin

        await back(http, await to_platform(http, "slack"))
        assert await whoami(http) == "gentoo"
        assert await site.runtime.accounts.session_user(http.cookies[SESSION_COOKIE]) == gentoo
    await site.runtime.audit.flush()
    logins = [r for r in await site.runtime.audit.recent(20) if r.action == "account.login"]
    assert [(r.actor, r.detail["method"]) for r in reversed(logins)] == [
        (f"user:{penguin}", "twitch"),
        (f"user:{penguin}", "discord"),
        (f"user:{gentoo}", "slack"),
    ]


@pytest.mark.parametrize("mode", ["embedded", "distributed"])
async def test_a_state_works_once_in_the_browser_that_started_it(site: Site) -> None:
    await site.person("twitch", TWITCH_ID, "penguinz")
    site.twitch.authorize_as(TWITCH_ID)
    async with (
        httpx2.AsyncClient(base_url=site.url) as http,
        httpx2.AsyncClient(base_url=site.url) as other,
    ):
        callback = await to_platform(http, "twitch")
        stolen = await back(other, callback)  # another browser, with the same link
        assert stolen.status_code == 400 and "started in another browser" in stolen.text
        assert SESSION_COOKIE not in other.cookies

        query = parse_qs(urlsplit(callback).query)
        forged = f"/login/twitch/callback?code={query['code'][0]}&state=forged"
        refused = await http.get(forged)
        assert refused.status_code == 400 and "not valid any more" in refused.text
        assert SESSION_COOKIE not in http.cookies

        assert (await back(http, callback)).status_code == 303
        replayed = await back(http, callback)
        assert replayed.status_code == 400 and "used already" in replayed.text

        # a state made for Twitch does not sign in on Slack's way back
        callback = await to_platform(http, "twitch")
        elsewhere = await http.get("/login/slack/callback?" + urlsplit(callback).query)
        assert elsewhere.status_code == 400


@pytest.mark.parametrize("mode", ["embedded"])
async def test_an_account_the_bot_never_met_is_refused(site: Site) -> None:
    site.twitch.add_user("4242", "stranger", "<b>Stranger</b>")
    site.twitch.authorize_as("4242")
    async with httpx2.AsyncClient(base_url=site.url) as http:
        refused = await back(http, await to_platform(http, "twitch"))
        assert refused.status_code == 403
        assert "This Twitch account is not known to WaddleBot yet" in refused.text
        assert "&lt;b&gt;Stranger&lt;/b&gt;" in refused.text and "<b>Stranger" not in refused.text
        assert "!portal" in refused.text
        assert SESSION_COOKIE not in http.cookies
        assert (await http.get("/account")).status_code == 303

        too_long = await http.get(f"/login/twitch/callback?code=a&state={'x' * 5000}")
        assert too_long.status_code == 422

        site.twitch.deny_next_authorization()
        start = await http.get("/login/twitch")
        denied = await back(http, (await http.get(start.headers["location"])).headers["location"])
        assert denied.status_code == 400 and "Twitch did not sign you in" in denied.text


@pytest.mark.parametrize("mode", ["embedded"])
async def test_only_configured_platforms_are_offered(settings: Settings) -> None:
    async with (
        serving(settings, services={"portal"}) as (url, runtime),
        httpx2.AsyncClient(base_url=url) as http,
    ):
        login = await http.get("/login")
        assert "/login/twitch" not in login.text and "With a chat account" not in login.text
        for platform in ("twitch", "discord", "slack", "console"):
            assert (await http.get(f"/login/{platform}")).status_code == 404
            assert (await http.get(f"/login/{platform}/callback?code=a&state=b")).status_code == 404
        await signed_in(http, runtime, "pat")  # the password still works
