"""The Aliases page of the portal over HTTP: defining, changing, finding and removing aliases
with the checks ``!alias`` makes shown at their field, forcing one over a command for admins
only, escaped output, and one community's aliases never in another's page."""

from __future__ import annotations

import httpx2
import pytest

from tests.integration.test_portal import signed_in
from tests.integration.test_portal_commands import community, field_error, token
from tests.support.harness import serving
from waddlebot.features.commands.service import Changes
from waddlebot.settings import Settings

pytestmark = pytest.mark.parametrize("mode", ["embedded"])
XSS = "!so <script>alert(1)</script>"


async def test_a_moderator_defines_changes_and_removes_aliases(settings: Settings) -> None:
    async with serving(settings) as (url, runtime), httpx2.AsyncClient(base_url=url) as http:
        user = await signed_in(http, runtime, "mo")
        home = await community(runtime, "console:local", "Penguins")
        other = await community(runtime, "console:elsewhere", "Others")
        await runtime.directory.set_role(home, user, "moderator")
        await runtime.aliases.define(other, "theirs", "so them", forced=False, actor="test")
        await runtime.commands.add(home, "hello", Changes(response="hi"))
        base = f"/c/{home}/aliases"
        page = await http.get(base)
        assert page.status_code == 200 and "No aliases yet." in page.text
        assert "theirs" not in page.text and 'name="forced"' not in page.text

        added = await http.post(base, data={**token(http), "name": "hi", "runs": "!so $1"})
        assert added.status_code == 200 and "Added the alias !hi." in added.text
        howdy = await http.post(base, data={**token(http), "name": "howdy", "runs": "!hello"})
        assert howdy.status_code == 200, howdy.text[-1500:]
        changed = await http.post(base, data={**token(http), "name": "hi", "runs": XSS})
        assert "Changed the alias !hi." in changed.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in changed.text
        assert "<script>alert" not in changed.text

        rows = await http.get(f"{base}/rows", params={"q": "hello"})
        assert "!howdy" in rows.text and "!hi<" not in rows.text
        form = await http.get(base, params={"name": "howdy"})
        assert 'value="!hello"' in form.text and "Change !howdy" in form.text

        hx = {"HX-Request": "true", "X-CSRF-Token": http.cookies["waddlebot_csrf"]}
        gone = await http.post(f"{base}/remove", data={"name": "howdy"}, headers=hx)
        assert "Removed the alias !howdy." in gone.text and "<html" not in gone.text
        assert await runtime.aliases.lookup(home, "howdy") is None
        theirs = await http.post(f"{base}/remove", data={**token(http), "name": "theirs"})
        assert theirs.status_code == 404 and await runtime.aliases.lookup(other, "theirs")

        await runtime.audit.flush()
        actions = sorted(row.action for row in await runtime.audit.recent(20, community_id=home))
        assert actions == ["alias.define"] * 3 + ["alias.remove", "custom_command.add"]


async def test_alias_mistakes_and_forcing(settings: Settings) -> None:
    async with serving(settings) as (url, runtime), httpx2.AsyncClient(base_url=url) as http:
        user = await signed_in(http, runtime, "mo")
        home = await community(runtime, "console:local", "Penguins")
        await runtime.directory.set_role(home, user, "moderator")
        await runtime.commands.add(home, "hello", Changes(response="hi"))
        base = f"/c/{home}/aliases"
        cases = [
            ({"name": "9lives", "runs": "!so"}, "name", "is not an alias name"),
            ({"name": "ping", "runs": "!so"}, "name", "!ping is a built-in command"),
            ({"name": "hello", "runs": "!so"}, "name", "!hello is a custom command here"),
            ({"name": "unalias", "runs": "!so"}, "name", "cannot be shadowed"),
            ({"name": "x", "runs": "so"}, "runs", "An alias runs a command"),
            ({"name": "x", "runs": "!nothing"}, "runs", "!nothing is not a command here."),
        ]
        for data, field, message in cases:
            answer = await http.post(base, data={**token(http), **data})
            assert answer.status_code == 400, data
            assert message in field_error(answer.text, field), data
        forced = {**token(http), "name": "ping", "runs": "!so $1", "forced": "on"}
        refused = await http.post(base, data=forced)
        assert refused.status_code == 403 and await runtime.aliases.lookup(home, "ping") is None
        assert (await http.post(base, data={"name": "x", "runs": "!so"})).status_code == 403

        await runtime.directory.set_role(home, user, "admin")
        assert 'name="forced"' in (await http.get(base)).text
        done = await http.post(base, data=forced)
        assert done.status_code == 200 and "(forced over a command)" in done.text
