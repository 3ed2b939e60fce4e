"""The portal's Modules page over HTTP: the catalogue searched as one types, installing after
a review (a clashing command renamed), the settings form generated from a module's
``config_schema`` (a rich one, the music module's, and a schema beyond the generator shown as
JSON), switching on and off, uninstalling, who may do what, and one community never seeing
another's (tests/browser/test_portal_modules.py drives it in a browser)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx2
import pytest
from pydantic import SecretStr

from tests.integration.test_portal import signed_in
from tests.support.harness import say, serving, serving_app
from waddlebot.core.events import EventType
from waddlebot.core.manifest import Permission
from waddlebot.features.identity import apikeys
from waddlebot.features.shared import CATALOGUE, INSTALLS
from waddlebot.infra.secretbox import SecretBox
from waddlebot.runtime import Runtime
from waddlebot.sdk import Context, Module
from waddlebot.sdk.server import create_module_app
from waddlebot.settings import Settings

SECRET = "a-module-secret-for-the-catalogue"
YOUTUBE_KEY = "yt-key-that-must-never-show"
XSS = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
RICH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "greeting": {
            "type": "string",
            "maxLength": 40,
            "default": "hi",
            "description": "what it says first",
        },
        "points": {"type": "integer", "minimum": 1, "maximum": 10, "default": 1},
        "ratio": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.5},
        "loud": {"type": "boolean", "default": False, "description": "shout"},
        "mood": {"type": "string", "enum": ["calm", "wild"], "default": "calm"},
        "channels": {"type": "array", "items": {"type": "string"}, "default": ["main"]},
        "token": {"type": "string", "writeOnly": True, "description": "its service's token"},
    },
}


def tally_module() -> Module:
    """A module with a rich schema and a !quote, which the memories module has already."""
    module = Module(
        "tally",
        version="1.2.0",
        description="Counts things",
        author="Ada",
        homepage="https://example.org/tally",
        permissions=(Permission.CHAT_SEND, Permission.OVERLAY),
        config_schema=RICH_SCHEMA,
    )

    @module.command("count", description="adds one")
    async def count(ctx: Context) -> str:
        return f"{ctx.config['greeting']}: {ctx.config['points']}"

    @module.command("quote")
    async def quote(ctx: Context) -> str:
        return "a tally quote"

    @module.on(EventType.FOLLOW)
    async def followed(ctx: Context) -> None:
        return None

    return module


def nested_module() -> Module:
    """A module whose settings the form generator cannot draw (a nested object)."""
    return Module(
        "nested",
        version="1.0.0",
        description=XSS,
        author=XSS,
        homepage="javascript:alert(3)",
        config_schema={
            "type": "object",
            "properties": {
                "limits": {
                    "type": "object",
                    "properties": {"per_day": {"type": "integer", "maximum": 100}},
                }
            },
        },
    )


@dataclass
class Site:
    url: str
    runtime: Runtime
    home: int  # console:local, where the chat of say() goes
    other: int

    def page(self, path: str = "", community: int | None = None) -> str:
        return f"/c/{community or self.home}/modules{path}"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "secret_keys": [SecretStr(SecretBox.generate_key())],
            "youtube_api_key": SecretStr(YOUTUBE_KEY),
        }
    )


@pytest.fixture
async def site(settings: Settings) -> AsyncIterator[Site]:
    async with (
        serving(settings) as (url, runtime),
        serving_app(create_module_app(tally_module(), SECRET.encode())) as tally_url,
        serving_app(create_module_app(nested_module(), SECRET.encode())) as nested_url,
    ):
        catalogue = runtime.need(CATALOGUE)
        await catalogue.register(tally_url, SECRET, actor="operator")
        await catalogue.register(nested_url, SECRET, actor="operator")
        home = await runtime.directory.resolve_entity("console:local", "console", name="Home")
        other = await runtime.directory.resolve_entity("console:far", "console", name="Far")
        yield Site(url, runtime, home.community_id, other.community_id)


async def person(http: httpx2.AsyncClient, site: Site, login: str, role: str) -> str:
    """Sign ``login`` in with ``role`` at home; the CSRF token for their forms."""
    user = await signed_in(http, site.runtime, login)
    await site.runtime.directory.set_role(site.home, user, role)
    return str(http.cookies["waddlebot_csrf"])


def field_error(page: str, name: str) -> str:
    """The error shown at the input named ``name`` (which must point at it)."""
    tag = re.search(rf'<(?:input|select|textarea)[^>]*name="{name}"[^>]*>', page)
    assert tag is not None, name
    field_id = re.search(r'id="([^"]+)"', tag.group(0)).group(1)  # type: ignore[union-attr]
    assert 'aria-invalid="true"' in tag.group(0)
    assert f"{field_id}-error" in tag.group(0)
    found = re.search(rf'<p class="error" id="{field_id}-error">([^<]*)</p>', page)
    assert found is not None
    return found.group(1)


async def audited(site: Site, action: str) -> list[dict[str, Any]]:
    await site.runtime.audit.flush()
    rows = await site.runtime.audit.recent(200, community_id=site.home)
    return [
        {"actor": row.actor, "target": row.target, "detail": row.detail}
        for row in rows
        if row.action == action
    ]


@pytest.mark.parametrize("mode", ["embedded", "distributed"])
async def test_install_after_review_configure_switch_and_uninstall(site: Site) -> None:
    async with httpx2.AsyncClient(base_url=site.url) as http:
        token = await person(http, site, "ann", "admin")
        listing = await http.get(site.page())
        assert listing.status_code == 200
        assert f'href="{site.page("/music")}"' in listing.text  # WaddleBot's own, on
        assert f'href="{site.page("/tally")}"' in listing.text  # in the catalogue
        found = await http.get(site.page(), params={"q": "count"}, headers={"HX-Request": "true"})
        assert "tally" in found.text and "music" not in found.text and "<html" not in found.text

        clash = await http.post(site.page("/tally/review"), data={"csrf_token": token})
        assert clash.status_code == 400
        said = field_error(clash.text, "rename:quote")
        assert said.startswith("!quote of tally clashes with !quote of memories")
        assert "Install tally" not in clash.text  # nothing to confirm yet

        bad_name = await http.post(
            site.page("/tally/review"), data={"csrf_token": token, "rename:quote": XSS}
        )
        assert field_error(bad_name.text, "rename:quote").endswith(
            "cannot be a command name (a-z, 0-9, _ and -)."
        )
        assert XSS not in bad_name.text and "&lt;script&gt;" in bad_name.text
        renamed = {"csrf_token": token, "rename:quote": "tquote", "rename:count": "count"}
        review = await http.post(site.page("/tally/review"), data=renamed)
        assert review.status_code == 200
        summary = re.sub(r"\s+", " ", review.text)
        assert "adds <code>!count</code>, <code>!tquote</code>, reads follow events." in summary
        assert "<li>post in chat</li>" in review.text
        assert "<li>update your overlays</li>" in review.text
        assert 'name="rename:quote" value="tquote"' in review.text  # carried to the confirm

        done = await http.post(
            site.page("/tally/install"), data={"csrf_token": token, "rename:quote": "tquote"}
        )
        assert done.status_code == 200 and "Installed tally 1.2.0." in done.text
        assert await say(site.runtime, "!tquote") == ["a tally quote"]
        assert (await audited(site, "marketplace.install"))[0]["target"] == "tally"

        # the settings form, generated from the schema
        page = done.text
        assert re.search(r'type="number" step="1" min="1" max="10"', page)
        assert re.search(r'type="number" step="any" min="0" max="1"', page)
        assert "what it says first; default: hi" in page
        assert '<option value="calm" selected>calm</option>' in page
        assert re.search(r"<textarea[^>]*>main</textarea>", page)  # the default, one a line
        assert 'type="password"' in page and 'placeholder="not set"' in page

        wrong = {
            "csrf_token": token,
            "setting:greeting": XSS,
            "setting:points": "11",
            "setting:ratio": "lots",
            "setting:mood": "calm",
        }
        refused = await http.post(site.page("/tally/settings"), data=wrong)
        assert refused.status_code == 400
        assert field_error(refused.text, "setting:ratio") == "Ratio must be a number."
        wrong["setting:ratio"] = "0.25"
        refused = await http.post(site.page("/tally/settings"), data=wrong)
        points = field_error(refused.text, "setting:points")
        assert points == "11 is greater than the maximum of 10."
        assert field_error(refused.text, "setting:greeting").endswith("is too long.")
        assert XSS not in refused.text and "&lt;img src=x" in refused.text  # kept, as text
        assert 'name="setting:ratio" value="0.25"' in refused.text
        assert (await site.runtime.need(INSTALLS).get(site.home, "tally")).config == {}

        good = {
            "csrf_token": token,
            "setting:greeting": "hey",
            "setting:points": "7",
            "setting:ratio": "0.25",
            "setting:loud": "true",
            "setting:mood": "wild",
            "setting:channels": "main\n\n  side  \n",
            "setting:token": "s3cret-token-value",
        }
        saved = await http.post(site.page("/tally/settings"), data=good)
        assert saved.status_code == 200 and "Saved the settings of tally." in saved.text
        config = (await site.runtime.need(INSTALLS).get(site.home, "tally")).config
        assert config == {
            "greeting": "hey",
            "points": 7,
            "ratio": 0.25,
            "loud": True,
            "mood": "wild",
            "channels": ["main", "side"],
            "token": "s3cret-token-value",
        }
        assert "s3cret-token-value" not in saved.text and 'placeholder="set"' in saved.text
        assert await say(site.runtime, "!count") == ["hey: 7"]
        (chat,) = await say(site.runtime, "!module config tally", role="owner")
        assert "token=(set)" in chat and "s3cret" not in chat  # chat keeps the secret too
        good["setting:token"] = ""  # blank keeps the secret; an unticked box is off
        del good["setting:loud"]
        await http.post(site.page("/tally/settings"), data=good)
        config = (await site.runtime.need(INSTALLS).get(site.home, "tally")).config
        assert config["token"] == "s3cret-token-value" and config["loud"] is False
        latest, first = await audited(site, "marketplace.config")
        assert first["detail"]["keys"] == sorted(RICH_SCHEMA["properties"])
        assert "token" not in latest["detail"]["keys"]  # the blank secret was not set again

        off = await http.post(site.page("/tally/switch"), data={"csrf_token": token})
        assert "tally is off here now." in off.text
        assert await say(site.runtime, "!count") == []
        on = await http.post(
            site.page("/tally/switch"), data={"csrf_token": token, "enabled": "true"}
        )
        assert "tally is on here now." in on.text

        gone = await http.post(
            site.page("/tally/uninstall"), data={"csrf_token": token, "purge": "yes"}
        )
        assert gone.status_code == 200
        assert "Uninstalled tally and deleted what it stored." in gone.text
        assert (await audited(site, "marketplace.uninstall"))[0]["detail"] == {"purge": True}
        assert await say(site.runtime, "!tquote") == []


@pytest.mark.parametrize("mode", ["embedded"])
async def test_the_music_modules_settings_use_the_same_form(site: Site) -> None:
    async with httpx2.AsyncClient(base_url=site.url) as http:
        token = await person(http, site, "ann", "owner")
        page = await http.get(site.page("/music"))
        assert page.status_code == 200
        assert re.search(r'name="setting:max_seconds" value="600"\s+type="number"', page.text)
        assert '<option value="everyone" selected>everyone</option>' in page.text
        explicit = r'type="checkbox"[^>]*name="setting:spotify_explicit"[^>]*checked'
        assert re.search(explicit, page.text)
        assert "the longest song allowed, in seconds (0: any length); from 0 to 86400" in page.text
        assert YOUTUBE_KEY not in page.text  # the bot's key is a setting, never a module's
        form = {
            "csrf_token": token,
            "setting:max_seconds": "120",
            "setting:min_level": "root",
            "setting:region": "US",
            "setting:search_source": "youtube",
            "setting:spotify_explicit": "true",
        }
        refused = await http.post(site.page("/music/settings"), data=form)
        assert refused.status_code == 400
        assert field_error(refused.text, "setting:min_level") == "Choose one of the options."
        form["setting:min_level"] = "vip"
        form["setting:region"] = "USA"
        refused = await http.post(site.page("/music/settings"), data=form)
        assert "does not match" in field_error(refused.text, "setting:region")
        form["setting:region"] = "de"
        assert (await http.post(site.page("/music/settings"), data=form)).status_code == 200
        (said,) = await say(site.runtime, "!module config music", role="owner")
        assert "max_seconds=120" in said and "min_level=vip" in said and "region=de" in said
        assert "spotify_explicit=True" in said and "search_source=youtube" in said

        off = await http.post(
            site.page("/music/switch"), data={"csrf_token": token, "enabled": "false"}
        )
        assert "music is off here now." in off.text
        assert await say(site.runtime, "!queue") == []
        core = await http.get(site.page("/core"))
        assert "always on (part of the bot's core)" in core.text
        assert "/core/switch" not in core.text


@pytest.mark.parametrize("mode", ["embedded"])
async def test_a_schema_beyond_the_form_is_edited_as_json(site: Site) -> None:
    async with httpx2.AsyncClient(base_url=site.url) as http:
        token = await person(http, site, "ann", "admin")
        data = {"csrf_token": token}
        await http.post(site.page("/nested/install"), data=data)
        page = await http.get(site.page("/nested"))
        assert XSS not in page.text and "&lt;script&gt;alert(2)&lt;/script&gt;" in page.text
        assert 'href="javascript:' not in page.text  # its homepage is no link
        assert re.search(r'<textarea id="setting-raw" name="raw"[^>]*>\{\}</textarea>', page.text)
        bad = await http.post(site.page("/nested/settings"), data={**data, "raw": "{nope"})
        assert field_error(bad.text, "raw").startswith("This is not JSON")
        over = '{"limits": {"per_day": 500}}'
        bad = await http.post(site.page("/nested/settings"), data={**data, "raw": over})
        assert field_error(bad.text, "raw") == (
            "Limits.per_day: 500 is greater than the maximum of 100."
        )
        assert "per_day&#34;: 500" in bad.text  # what was typed is kept
        ok = '{"limits": {"per_day": 50}}'
        assert (await http.post(site.page("/nested/settings"), data={**data, "raw": ok})).is_success
        config = (await site.runtime.need(INSTALLS).get(site.home, "nested")).config
        assert config == {"limits": {"per_day": 50}}


@pytest.mark.parametrize("mode", ["embedded"])
async def test_a_moderator_reads_and_cannot_change(site: Site) -> None:
    installs = site.runtime.need(INSTALLS)
    await installs.install(site.home, "tally", actor="test", renames={"quote": "tq"})
    await installs.install(site.other, "nested", actor="test")
    async with httpx2.AsyncClient(base_url=site.url) as http:
        token = await person(http, site, "mo", "moderator")
        listing = await http.get(site.page())
        assert listing.status_code == 200 and "installing, switching and settings" in listing.text
        page = await http.get(site.page("/tally"))
        assert page.status_code == 200 and "<code>!tq</code>" in page.text
        assert "<form" not in page.text.split("<main", 1)[1]  # read-only
        assert "<dt>points</dt><dd>1</dd>" in page.text
        assert "<dt>token</dt><dd>not set</dd>" in page.text
        for action, form in (
            ("/tally/settings", {"setting:points": "3"}),
            ("/tally/switch", {"enabled": "false"}),
            ("/tally/uninstall", {}),
            ("/nested/review", {}),
            ("/nested/install", {}),
        ):
            refused = await http.post(site.page(action), data={"csrf_token": token, **form})
            assert refused.status_code == 403, action
            assert "needs the admin role" in refused.text
        assert (await installs.get(site.home, "tally")).enabled
        assert (await http.get(site.page(community=site.other))).status_code == 404
        nested = await http.get(site.page("/nested"))  # installed in the other community only
        assert "not installed" in nested.text
        no_token = await http.post(site.page("/tally/switch"), data={"enabled": "false"})
        assert no_token.status_code == 403 and "security token" in no_token.text
        assert (await http.get(site.page("/nosuchmodule"))).status_code == 404


@pytest.mark.parametrize("mode", ["embedded"])
async def test_health_is_shown_as_module_list_says_it(site: Site) -> None:
    installs = site.runtime.need(INSTALLS)
    await installs.install(site.home, "tally", actor="test", renames={"quote": "tq"})
    assert await say(site.runtime, "!count") == ["hi: 1"]
    (listed,) = await say(site.runtime, "!module list", role="owner")
    described = re.search(r"tally 1\.2\.0 \(on, ok, p99 (\d+) ms\)", listed)
    assert described is not None
    async with httpx2.AsyncClient(base_url=site.url) as http:
        await person(http, site, "mo", "moderator")
        listing = (await http.get(site.page())).text
        row = re.search(r'modules/tally">tally</a></th>(.*?)</tr>', listing, re.S)
        assert row is not None
        cells = re.findall(r"<td>([^<]*)</td>", row.group(1))
        assert cells == ["1.2.0", "on", "closed", "0", f"{described.group(1)} ms"]
        module = (await http.get(site.page("/tally"))).text
        assert f"breaker closed, 0 errors, p99 {described.group(1)} ms" in module

        # the API lists the same figures beside each module; one no router called has none
        moderator = await site.runtime.directory.ensure_identity("twitch", "77", login="mia")
        await site.runtime.directory.set_role(site.home, moderator, "moderator")
        _, key = await apikeys.create_key(site.runtime.db, "mia", kind="user", user_id=moderator)
        listed_over_api = await http.get(
            f"/api/v1/marketplace/communities/{site.home}/modules",
            headers={"Authorization": f"Bearer {key}"},
        )
        assert listed_over_api.status_code == 200, listed_over_api.text
        items = {item["name"]: item for item in listed_over_api.json()["items"]}
        health = items["tally"]["health"]
        assert (health["breaker"], health["calls"], health["errors"], health["refused"]) == (
            "closed",
            1,
            0,
            0,
        )
        assert f"{health['p99_ms']:.0f}" == described.group(1)
        assert items["memories"]["health"] is None


@pytest.mark.parametrize("mode", ["embedded"])
async def test_serve_portal_alone_serves_the_page(settings: Settings) -> None:
    async with (
        serving(settings, services={"portal"}) as (url, runtime),
        httpx2.AsyncClient(base_url=url) as http,
    ):
        user = await signed_in(http, runtime, "pat")
        home = await runtime.directory.resolve_entity("console:local", "console", name="Home")
        await runtime.directory.set_role(home.community_id, user, "admin")
        page = await http.get(f"/c/{home.community_id}/modules/music")
        assert page.status_code == 200 and 'name="setting:max_seconds"' in page.text
