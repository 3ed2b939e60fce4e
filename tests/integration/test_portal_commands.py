"""The Commands pages of the portal over HTTP: adding, searching, editing and deleting custom
commands with errors at their fields; importing another bot's export (a preview that changes
nothing, then the import) for admins only; the audit rows the chat and API write; one
community's commands never in another's pages (tests/browser/test_portal_commands.py drives
the pages in a browser)."""

from __future__ import annotations

import html
import re
from pathlib import Path

import httpx2
import pytest

from tests.integration.test_portal import signed_in
from tests.support.harness import serving
from waddlebot.features.commands.service import Changes
from waddlebot.runtime import Runtime
from waddlebot.settings import Settings

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "imports"
XSS = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
pytestmark = pytest.mark.parametrize("mode", ["embedded"])


def token(http: httpx2.AsyncClient) -> dict[str, str]:
    return {"csrf_token": http.cookies["waddlebot_csrf"]}


def command(name: str, response: str, **fields: str) -> dict[str, str]:
    return {"name": name, "response": response, "level": "100", "cooldown": "0", **fields}


def field_error(html: str, field: str) -> str:
    found = re.search(rf'<p class="error" id="{field}-error">([^<]*)</p>', html)
    assert found is not None, f"no error at {field}"
    return found.group(1)


async def community(runtime: Runtime, key: str, name: str) -> int:
    entity = await runtime.directory.resolve_entity(key, "console", name=name)
    return entity.community_id


async def test_a_moderator_adds_searches_edits_and_deletes(settings: Settings) -> None:
    async with serving(settings) as (url, runtime), httpx2.AsyncClient(base_url=url) as http:
        user = await signed_in(http, runtime, "mo")
        home = await community(runtime, "console:local", "Penguins")
        other = await community(runtime, "console:elsewhere", "Others")
        await runtime.directory.set_role(home, user, "moderator")
        await runtime.commands.add(other, "secret", _changes("of the other community"))
        base = f"/c/{home}/commands"

        page = await http.get(base)
        assert page.status_code == 200 and "No custom commands yet." in page.text
        assert "$(random.pick a &#39;b c&#39; d)" in page.text  # the variables reference
        assert f'href="/c/{home}/commands/import"' not in page.text  # an admin's page

        added = await http.post(base, data={**token(http), **command("!Hello", "Hi $(user)!")})
        assert added.status_code == 200 and "Added !hello." in added.text
        await http.post(base, data={**token(http), **command("hug", XSS, cooldown="5")})
        assert (await runtime.commands.get(home, "hug")).response == XSS  # type: ignore[union-attr]

        rows = await http.get(f"{base}/rows", params={"q": "hi"})
        assert "!hello" in rows.text and "!hug" not in rows.text
        rows = await http.get(f"{base}/rows", params={"q": "img"})
        assert "!hug" in rows.text and "&lt;script&gt;alert(2)&lt;/script&gt;" in rows.text
        assert "<script>" not in rows.text and "secret" not in (await http.get(base)).text
        assert "No command matches" in (await http.get(f"{base}/rows?q=zzz")).text

        form = await http.get(f"{base}/edit", params={"name": "hello"})
        assert form.status_code == 200 and "Hi $(user)!" in form.text
        edit = command("hello", "Hello there", level="500", user_cooldown="30")
        saved = await http.post(f"{base}/edit", data={**token(http), **edit})
        assert saved.status_code == 200 and "Saved !hello." in saved.text
        info = await runtime.commands.get(home, "hello")
        assert info is not None and (info.response, info.level, info.user_cooldown) == (
            "Hello there",
            500,
            30,
        )
        assert not info.enabled  # the box was not ticked
        assert (await http.get(f"{base}/edit?name=secret")).status_code == 404

        hx = {"HX-Request": "true", "X-CSRF-Token": http.cookies["waddlebot_csrf"]}
        gone = await http.post(f"{base}/delete", data={"name": "hug"}, headers=hx)
        assert gone.status_code == 200 and "Deleted !hug." in gone.text
        assert "<html" not in gone.text  # just the row
        missing = await http.post(f"{base}/delete", data={**token(http), "name": "secret"})
        assert missing.status_code == 404 and await runtime.commands.get(other, "secret")

        await runtime.audit.flush()
        actions = [row.action for row in await runtime.audit.recent(20, community_id=home)]
        assert sorted(actions) == sorted(
            ["custom_command.add"] * 2 + ["custom_command.edit", "custom_command.delete"]
        )


async def test_mistakes_are_shown_at_their_field(settings: Settings) -> None:
    async with serving(settings) as (url, runtime), httpx2.AsyncClient(base_url=url) as http:
        user = await signed_in(http, runtime, "mo")
        home = await community(runtime, "console:local", "Penguins")
        await runtime.directory.set_role(home, user, "moderator")
        await runtime.aliases.define(home, "so", "!shoutout", forced=False, actor="test")
        await runtime.commands.add(home, "taken", _changes("x"))
        base = f"/c/{home}/commands"
        cases = [
            (command("no good", "x"), "name", "is not a command name"),
            (command("taken", "x"), "name", "There is already a custom command !taken here."),
            (command("help", "x"), "name", "!help is a built-in command"),
            (command("so", "x"), "name", "!so is an alias here"),
            (command("fine", ""), "response", "Say what the command answers"),
            (command("fine", "x" * 2001), "response", "at most 2000 characters"),
            (command("fine", "x", cooldown="soon"), "cooldowns", "whole seconds"),
            (command("fine", "x", cooldown="999999"), "cooldowns", "0 to 86400 seconds"),
            (command("fine", "x", level="7"), "level", "7 is not a level"),
        ]
        for data, field, message in cases:
            answer = await http.post(base, data={**token(http), **data})
            assert answer.status_code == 400, data
            assert message in field_error(answer.text, field), (data, answer.text[-800:])
            assert f'aria-describedby="{field}-error"' in answer.text
        assert await runtime.commands.get(home, "fine") is None
        assert (await http.post(base, data=command("fine", "x"))).status_code == 403  # no CSRF
        assert await runtime.commands.get(home, "fine") is None


async def test_importing_is_for_admins_and_previewed_first(settings: Settings) -> None:
    export = (FIXTURES / "nightbot.json").read_bytes()
    async with serving(settings) as (url, runtime), httpx2.AsyncClient(base_url=url) as http:
        user = await signed_in(http, runtime, "ad")
        home = await community(runtime, "console:local", "Penguins")
        await runtime.directory.set_role(home, user, "moderator")
        await runtime.commands.add(home, "hug", _changes("mine"))
        base = f"/c/{home}/commands/import"
        files = {"export": ("nightbot.json", export, "application/json")}
        source = {**token(http), "source": "nightbot"}
        assert (await http.get(base)).status_code == 403
        assert (await http.post(f"{base}/preview", data=source, files=files)).status_code == 403
        refused = await http.post(base, data={**source, "payload": export.decode()})
        assert refused.status_code == 403 and await runtime.commands.get(home, "hello") is None

        await runtime.directory.set_role(home, user, "admin")
        assert f'href="{base}"' in (await http.get(f"/c/{home}/commands")).text
        preview = await http.post(f"{base}/preview", data=source, files=files)
        assert preview.status_code == 200 and "Nothing has changed yet." in preview.text
        assert "skipped: clashes with one here" in preview.text  # !hug is there already
        assert "there is already a custom command !hug here" in preview.text
        assert await runtime.commands.get(home, "hello") is None
        payload = re.search(r'name="payload" value="([^"]*)"', preview.text)
        assert payload is not None

        done = await http.post(base, data={**source, "payload": html.unescape(payload.group(1))})
        assert done.status_code == 200 and "imported," in done.text
        hello = await runtime.commands.get(home, "hello")
        assert hello is not None and hello.response == "Hello $(user), welcome to the stream!"
        assert (await runtime.commands.get(home, "hug")).response == "mine"  # type: ignore[union-attr]
        await runtime.audit.flush()
        actions = [row.action for row in await runtime.audit.recent(20, community_id=home)]
        assert actions.count("custom_command.import") == 1

        bad = await http.post(
            f"{base}/preview", data=source, files={"export": ("x.json", b"{nope", "text/plain")}
        )
        assert bad.status_code == 400 and "The export is not JSON" in field_error(
            bad.text, "export"
        )
        empty = await http.post(f"{base}/preview", data={**source, "source": "mirc"})
        assert empty.status_code == 400
        assert "Choose the bot" in field_error(empty.text, "source")
        assert "Choose the export file." in field_error(empty.text, "export")


async def test_a_community_without_a_role_has_no_commands_page(settings: Settings) -> None:
    async with serving(settings) as (url, runtime), httpx2.AsyncClient(base_url=url) as http:
        await signed_in(http, runtime, "nobody")
        other = await community(runtime, "console:elsewhere", "Others")
        await runtime.commands.add(other, "secret", _changes("a well kept secret"))
        for path in ("commands", "commands/rows?q=s", "commands/edit?name=secret"):
            answer = await http.get(f"/c/{other}/{path}")
            assert answer.status_code == 404 and "well kept" not in answer.text, path
        answer = await http.post(
            f"/c/{other}/commands/delete", data={**token(http), "name": "secret"}
        )
        assert answer.status_code == 404 and await runtime.commands.get(other, "secret")


def _changes(response: str) -> Changes:
    return Changes(response=response)
