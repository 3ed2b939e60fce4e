"""The Timers page of the portal over HTTP: adding a timer with mistakes shown at their
field, finding, switching off and on, removing; the audit rows ``!timer`` writes; escaped
output; one community's timers never in another's page."""

from __future__ import annotations

import httpx2
import pytest

from tests.integration.test_portal import signed_in
from tests.integration.test_portal_commands import community, field_error, token
from tests.support.harness import serving
from waddlebot.settings import Settings

pytestmark = pytest.mark.parametrize("mode", ["embedded"])
XSS = '<img src=x onerror="alert(1)">'


def timer(name: str, minutes: str = "15", message: str = "Be kind!", **more: str) -> dict[str, str]:
    return {"name": name, "place": "console:local", "minutes": minutes, "message": message, **more}


async def test_a_moderator_adds_switches_and_removes_timers(settings: Settings) -> None:
    async with serving(settings) as (url, runtime), httpx2.AsyncClient(base_url=url) as http:
        user = await signed_in(http, runtime, "mo")
        home = await community(runtime, "console:local", "Penguins")
        other = await community(runtime, "console:elsewhere", "Others")
        await runtime.directory.set_role(home, user, "moderator")
        await runtime.timers.add(other, "console:elsewhere", "theirs", 10, "not yours")
        base = f"/c/{home}/timers"
        page = await http.get(base)
        assert page.status_code == 200 and "No timers yet." in page.text
        assert "theirs" not in page.text and "console:elsewhere" not in page.text
        assert "<code>$(uptime)</code>" in page.text

        added = await http.post(base, data={**token(http), **timer("rules", "1h", XSS)})
        assert added.status_code == 200 and "Added the timer rules." in added.text
        assert "&lt;img src=x" in added.text and "<img src=x" not in added.text
        info = await runtime.timers.get(home, "rules")
        assert info is not None and (info.interval_minutes, info.entity_id) == (60, "console:local")
        await http.post(base, data={**token(http), **timer("discord", lines="10")})
        rows = await http.get(f"{base}/rows", params={"q": "kind"})
        assert "discord" in rows.text and "rules" not in rows.text

        form = await http.get(f"{base}/edit", params={"name": "discord"})
        assert form.status_code == 200 and 'value="10"' in form.text
        edit = {**token(http), "name": "discord", "minutes": "2", "lines": "0", "message": "x"}
        wrong = await http.post(f"{base}/edit", data=edit)
        assert wrong.status_code == 400
        assert "every 5 to 1440 minutes" in field_error(wrong.text, "minutes")
        saved = await http.post(f"{base}/edit", data={**edit, "minutes": "20", "message": XSS})
        assert saved.status_code == 200 and "Saved the timer discord." in saved.text
        info = await runtime.timers.get(home, "discord")
        assert info is not None and (info.interval_minutes, info.min_lines) == (20, 0)
        assert info.message == XSS
        assert (await http.get(f"{base}/edit?name=theirs")).status_code == 404

        hx = {"HX-Request": "true", "X-CSRF-Token": http.cookies["waddlebot_csrf"]}
        off = await http.post(f"{base}/switch", data={"name": "discord"}, headers=hx)
        assert "Switch the timer discord on" in off.text and "<html" not in off.text
        assert not (await runtime.timers.get(home, "discord")).enabled  # type: ignore[union-attr]
        on = await http.post(f"{base}/switch", data={**token(http), "name": "discord", "on": "on"})
        assert "Switched the timer discord on." in on.text
        gone = await http.post(f"{base}/remove", data={"name": "rules"}, headers=hx)
        assert "Removed the timer rules." in gone.text
        theirs = await http.post(f"{base}/remove", data={**token(http), "name": "theirs"})
        assert theirs.status_code == 404 and await runtime.timers.get(other, "theirs")

        await runtime.audit.flush()
        actions = sorted(row.action for row in await runtime.audit.recent(20, community_id=home))
        assert actions == ["timer.add"] * 2 + [
            "timer.disable",
            "timer.edit",
            "timer.enable",
            "timer.remove",
        ]


async def test_timer_mistakes_are_shown_at_their_field(settings: Settings) -> None:
    async with serving(settings) as (url, runtime), httpx2.AsyncClient(base_url=url) as http:
        user = await signed_in(http, runtime, "mo")
        home = await community(runtime, "console:local", "Penguins")
        await community(runtime, "console:elsewhere", "Others")
        await runtime.directory.set_role(home, user, "moderator")
        await runtime.timers.add(home, "console:local", "taken", 10, "x")
        base = f"/c/{home}/timers"
        cases = [
            (timer("no good"), "name", "is not a timer name"),
            (timer("taken"), "name", "There is already a timer taken here."),
            (timer("x", minutes="soon"), "minutes", "Give the minutes"),
            (timer("x", minutes="2"), "minutes", "every 5 to 1440 minutes"),
            (timer("x", lines="many"), "lines", "whole number of chat lines"),
            (timer("x", message=" "), "message", "A timer needs a message."),
            (timer("x", place="console:elsewhere"), "place", "Choose where the timer posts."),
        ]
        for data, field, message in cases:
            answer = await http.post(base, data={**token(http), **data})
            assert answer.status_code == 400, data
            assert message in field_error(answer.text, field), data
        assert (await http.post(base, data=timer("x"))).status_code == 403  # no CSRF token
        assert await runtime.timers.get(home, "x") is None
