"""Signing in with Twitch, Discord and Slack, and the Platforms page, in headless Chromium
against the fakes of the three: the browser follows every redirect through the fake's
consent page and back, with the keyboard alone; an account the bot never met lands on a page
saying so; the owner connects a Twitch channel through its ticket and disconnects it;
axe-core and a phone's width. The finer checks are over HTTP, in
tests/integration/test_portal_oauth.py and test_portal_platforms.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect
from pydantic import SecretStr

from tests.browser.conftest import browser_settings
from tests.browser.test_portal import PASSWORD, axe_problems, new_page, shoot, sign_in
from tests.browser.test_portal_modules import tab_to
from tests.fakes.discord import FakeDiscord
from tests.fakes.slack import FakeSlack
from tests.fakes.twitch import FakeTwitch
from tests.integration.test_portal_oauth import oauth_settings
from tests.support.harness import free_port, serving
from waddlebot.infra.db.models import Identity
from waddlebot.runtime import Runtime

TWITCH_ID, DISCORD_ID, STREAMER = "1337", "80351110224678912", "4711"


@dataclass
class Site:
    base: str
    runtime: Runtime
    twitch: FakeTwitch
    discord: FakeDiscord
    slack: FakeSlack
    community: int

    @property
    def platforms(self) -> str:
        return f"{self.base}/c/{self.community}/platforms"


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    """Alice owns Penguins; she is 1337 on Twitch, and on Discord and Slack by links."""
    async with FakeTwitch() as twitch, FakeDiscord() as discord, FakeSlack() as slack:
        twitch.add_user(TWITCH_ID, "alice", "Alice")
        twitch.add_user(STREAMER, "streamer", "Streamer")
        discord.add_user(DISCORD_ID, "alice", global_name="Alice")
        discord.add_user("42", "stranger", global_name="<b>Stranger</b>")
        team = slack.add_team("Acme")
        slack_alice = slack.add_user(team, "alice", real_name="Alice")
        slack.authorize_as(team, slack_alice)
        port = free_port()
        settings = browser_settings(tmp_path)
        update = oauth_settings(settings, port, twitch, discord, slack)
        update.update(
            twitch_public_url=f"http://127.0.0.1:{port}",
            twitch_eventsub_ws_url=twitch.eventsub_ws_url,
            slack_signing_secret=SecretStr(slack.signing_secret),
        )
        async with serving(settings.model_copy(update=update), port=port) as (base, runtime):
            home = await runtime.directory.resolve_entity(
                "console:local", "console", name="Penguins"
            )
            alice = await runtime.directory.ensure_identity("console", "alice", "alice")
            await runtime.accounts.set_login(alice, "alice@example.org", PASSWORD)
            await runtime.directory.set_role(home.community_id, alice, "owner")
            async with runtime.db.session() as session:
                for platform, account in (
                    ("twitch", TWITCH_ID),
                    ("discord", DISCORD_ID),
                    ("slack", slack_alice.id),
                ):
                    session.add(
                        Identity(user_id=alice, platform=platform, platform_user_id=account)
                    )
            yield Site(base, runtime, twitch, discord, slack, home.community_id)


async def keyboard_sign_in(page: Page, base: str, label: str) -> None:
    await page.goto(f"{base}/login")
    button = page.get_by_role("link", name=f"Sign in with {label}")
    await tab_to(page, button)
    await page.keyboard.press("Enter")


async def test_each_platform_signs_alice_in_and_a_stranger_is_told_why_not(
    site: Site, browser: Browser
) -> None:
    site.twitch.authorize_as(TWITCH_ID)
    site.discord.authorize_as(DISCORD_ID)
    for label in ("Twitch", "Discord", "Slack"):
        context, page, watch = await new_page(browser)
        await keyboard_sign_in(page, site.base, label)
        # through the fake's consent and back: signed in, in her only community
        await expect(page.get_by_role("link", name="@alice")).to_be_visible()
        assert page.url == f"{site.base}/c/{site.community}/", label
        assert watch.problems == [], label
        await context.close()

    site.discord.authorize_as("42")
    context, page, watch = await new_page(browser, bypass_csp=True)  # axe is a script
    await page.goto(f"{site.base}/login")
    await shoot(page, "login-platforms")
    assert await axe_problems(page) == []
    await page.get_by_role("link", name="Sign in with Discord").click()
    heading = page.get_by_role("heading", name="This Discord account is not known to WaddleBot yet")
    await expect(heading).to_be_visible()
    await expect(page.get_by_role("alert")).to_contain_text("<b>Stranger</b>")  # as text
    assert await page.locator("main b").count() == 0
    await expect(page.get_by_role("link", name="@alice")).to_have_count(0)
    await shoot(page, "login-unknown")
    assert await axe_problems(page) == []
    await context.close()


async def test_the_owner_connects_a_twitch_channel_and_disconnects_it(
    site: Site, browser: Browser
) -> None:
    site.twitch.authorize_as(STREAMER)
    context, page, watch = await new_page(browser)
    await sign_in(page, site.base)
    await page.goto(site.platforms)
    connect = page.get_by_role("button", name="Connect a Twitch channel")
    await tab_to(page, connect)
    await page.keyboard.press("Enter")  # htmx follows the ticket: Twitch, and back
    await expect(page.get_by_role("heading", name="Connected")).to_be_visible()
    await page.goto(site.platforms)
    twitch = page.locator("#twitch")
    await expect(twitch.get_by_role("cell", name="twitch:4711")).to_be_visible()
    await expect(twitch.get_by_role("cell", name="broadcaster")).to_be_visible()
    await shoot(page, "platforms")
    await twitch.get_by_role("button", name="Disconnect streamer").click()
    await expect(page.get_by_role("status")).to_contain_text("twitch:4711 has left")
    await expect(twitch.get_by_role("cell", name="twitch:4711")).to_have_count(0)
    assert watch.problems == []
    await context.close()

    context, page, _ = await new_page(browser, bypass_csp=True)
    await sign_in(page, site.base)
    await page.goto(site.platforms)
    assert await axe_problems(page) == []
    await page.get_by_role("button", name="Get a code").click()
    await expect(page.get_by_role("status")).to_contain_text("Your code for adding a discord")
    assert await axe_problems(page) == []
    await context.close()

    phone, page, _ = await new_page(browser, viewport={"width": 375, "height": 740})
    await sign_in(page, site.base)
    await page.goto(site.platforms)
    assert await page.evaluate("document.documentElement.scrollWidth") <= 375
    await phone.close()
