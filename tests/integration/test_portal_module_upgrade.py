"""Upgrading a module on the portal's Modules page over HTTP: kudos 1.0.0 installed, 1.1.0
registered asking to whisper and read raids and adding !hush (shown, then upgraded on the
admin's confirmation of that very version), 1.1.1 asking nothing new (upgraded at once); a
moderator sees both versions but no button and is refused the POST
(tests/browser/test_portal_modules.py drives it in a browser)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass

import httpx2
import pytest
from pydantic import SecretStr

from tests.integration.test_marketplace import SECRET, kudos_module
from tests.integration.test_portal import signed_in
from tests.support.harness import say, serving, serving_app
from waddlebot.features.shared import CATALOGUE, INSTALLS
from waddlebot.infra.secretbox import SecretBox
from waddlebot.runtime import Runtime
from waddlebot.sdk.server import create_module_app
from waddlebot.settings import Settings


@dataclass
class Site:
    url: str
    runtime: Runtime
    home: int
    served: AsyncExitStack  # the registered versions' servers, until the test ends

    @property
    def kudos(self) -> str:
        return f"/c/{self.home}/modules/kudos"

    async def version(self) -> str:
        return (await self.runtime.need(INSTALLS).get(self.home, "kudos")).version

    async def register(self, version: str, *, whispers: bool = False) -> None:
        app = create_module_app(kudos_module(version, whispers=whispers), SECRET.encode())
        url = await self.served.enter_async_context(serving_app(app))
        await self.runtime.need(CATALOGUE).register(url, SECRET, actor="operator")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"secret_keys": [SecretStr(SecretBox.generate_key())]})


@pytest.fixture
async def site(settings: Settings) -> AsyncIterator[Site]:
    async with serving(settings) as (url, runtime), AsyncExitStack() as served:
        home = await runtime.directory.resolve_entity("console:local", "console", name="Home")
        found = Site(url, runtime, home.community_id, served)
        await found.register("1.0.0")
        await runtime.need(INSTALLS).install(found.home, "kudos", actor="test")
        yield found


async def person(http: httpx2.AsyncClient, site: Site, login: str, role: str) -> str:
    user = await signed_in(http, site.runtime, login)
    await site.runtime.directory.set_role(site.home, user, role)
    return str(http.cookies["waddlebot_csrf"])


def words(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def about_of(html: str) -> str:
    """The words of the page's "About" section."""
    found = re.search(r'<section aria-labelledby="about-title">(.*?)</section>', html, re.S)
    assert found is not None
    return words(found.group(1))


async def upgrades(site: Site) -> list[dict[str, object]]:
    await site.runtime.audit.flush()
    rows = await site.runtime.audit.recent(200, community_id=site.home)
    return [row.detail for row in rows if row.action == "marketplace.upgrade"]


@pytest.mark.parametrize("mode", ["embedded", "distributed"])
async def test_an_upgrade_asking_for_more_is_shown_and_confirmed(site: Site) -> None:
    async with httpx2.AsyncClient(base_url=site.url) as http:
        token = await person(http, site, "ann", "admin")
        page = await http.get(site.kudos)
        assert "/kudos/upgrade" not in page.text  # at the catalogue's latest
        await site.register("1.1.0", whispers=True)

        listing = await http.get(f"/c/{site.home}/modules")
        row = re.search(r'modules/kudos">kudos</a></th>(.*?)</tr>', listing.text, re.S)
        assert row is not None and "1.0.0" in row.group(1)
        assert "1.1.0 available" in row.group(1)
        page = await http.get(site.kudos)
        assert "Installed here: 1.0.0. In the catalogue: 1.1.0." in page.text
        assert ">Upgrade to 1.1.0</button>" in page.text
        # "About" is what runs here until the upgrade: 1.0.0's commands and asks
        about = about_of(page.text)
        assert "Version 1.0.0 (versions: 1.0.0, 1.1.0)" in about
        assert "!hush" not in about and "whisper" not in about

        review = await http.post(site.kudos + "/upgrade", data={"csrf_token": token})
        assert review.status_code == 200
        said = words(review.text)
        assert "kudos 1.1.0 asks for more than 1.0.0 has here." in said
        assert "It adds !hush ." in said
        asks = re.search(r'<ul id="upgrade-asks">(.*?)</ul>', review.text, re.S)
        assert asks is not None
        assert re.findall(r"<li>([^<]*)</li>", asks.group(1)) == [
            "whisper people",
            "read raid events",
        ]
        assert 'name="confirm" value="1.1.0"' in review.text
        assert ">Upgrade to 1.1.0 and allow this</button>" in review.text
        assert await site.version() == "1.0.0"  # nothing changed yet
        assert await say(site.runtime, "!hush") == []

        # a confirmation of another version than the latest shows the review again
        stale = await http.post(
            site.kudos + "/upgrade", data={"csrf_token": token, "confirm": "1.0.5"}
        )
        assert stale.status_code == 200 and 'id="upgrade-asks"' in stale.text
        assert await site.version() == "1.0.0"

        done = await http.post(
            site.kudos + "/upgrade", data={"csrf_token": token, "confirm": "1.1.0"}
        )
        assert done.status_code == 200
        assert '<p class="notice" role="status">kudos is now at 1.1.0.</p>' in done.text
        assert "/kudos/upgrade" not in done.text
        assert await site.version() == "1.1.0"
        assert "!hush" in about_of(done.text) and "whisper people" in about_of(done.text)
        assert await say(site.runtime, "!hush") == ["(private) only you hear this"]
        assert await upgrades(site) == [{"version": "1.1.0"}]

        again = await http.post(site.kudos + "/upgrade", data={"csrf_token": token})
        assert again.status_code == 409
        error = re.search(r'<p class="error" id="upgrade-error">([^<]*)</p>', again.text)
        assert error is not None
        assert error.group(1) == "Kudos is at its latest version (1.1.0) here."


@pytest.mark.parametrize("mode", ["embedded"])
async def test_an_upgrade_asking_for_nothing_new_happens_at_once(site: Site) -> None:
    await site.register("1.0.1")
    async with httpx2.AsyncClient(base_url=site.url) as http:
        token = await person(http, site, "ann", "owner")
        done = await http.post(site.kudos + "/upgrade", data={"csrf_token": token})
        assert done.status_code == 200 and "kudos is now at 1.0.1." in done.text
        assert 'id="upgrade-asks"' not in done.text
        assert await site.version() == "1.0.1"
        assert await upgrades(site) == [{"version": "1.0.1"}]
        assert await say(site.runtime, "!psst") == ["said aloud"]  # still no whispers


@pytest.mark.parametrize("mode", ["embedded"])
async def test_a_moderator_sees_the_versions_but_may_not_upgrade(site: Site) -> None:
    await site.register("1.1.0", whispers=True)
    async with httpx2.AsyncClient(base_url=site.url) as http:
        token = await person(http, site, "mo", "moderator")
        page = await http.get(site.kudos)
        assert "Installed here: 1.0.0. In the catalogue: 1.1.0." in page.text
        assert "/kudos/upgrade" not in page.text
        for data in ({}, {"confirm": "1.1.0"}):
            refused = await http.post(site.kudos + "/upgrade", data={"csrf_token": token, **data})
            assert refused.status_code == 403 and "needs the admin role" in refused.text
        no_token = await http.post(site.kudos + "/upgrade", data={"confirm": "1.1.0"})
        assert no_token.status_code == 403 and "security token" in no_token.text
        assert await site.version() == "1.0.0"
        memories = await http.get(f"/c/{site.home}/modules/memories")
        assert "Upgrade" not in memories.text  # WaddleBot's own are always at their version
