"""The dashboard's activity counts (written by the router, read from the shared cache,
embedded and distributed), its live stream's refusals, and the audit log over the API and
its portal page (tests/browser/test_portal_dashboard.py drives both pages in a browser)."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta

import httpx2
import pytest

from tests.integration.test_labels_api import user_key
from tests.integration.test_portal import signed_in
from tests.integration.test_portal_platforms import elsewhere_collectors
from tests.support.harness import say, serving
from waddlebot.infra import activity
from waddlebot.infra.db.models import PlatformToken
from waddlebot.runtime import Runtime
from waddlebot.settings import Settings

XSS = '<img src=x onerror="alert(1)">'


async def _community(runtime: Runtime, entity: str = "console:local", name: str = "Home") -> int:
    return (await runtime.directory.resolve_entity(entity, "console", name=name)).community_id


async def test_the_router_counts_each_communitys_minutes(settings: Settings) -> None:
    async with serving(settings) as (_, runtime):
        home = await _community(runtime)
        other = await _community(runtime, "console:elsewhere", "Elsewhere")
        before = time.time()
        assert await say(runtime, "hello there") == []
        assert await say(runtime, "!ping") == ["pong"]
        await say(runtime, "!boom")  # the module fails: a command error
        assert await say(runtime, "!ping", channel="elsewhere") == ["pong"]
        cache = runtime.ports.cache
        minutes = await activity.last_hour(cache, home)
        assert len(minutes) == activity.WINDOW_MINUTES
        counted = (
            sum(m.messages for m in minutes),
            sum(m.commands for m in minutes),
            sum(m.errors for m in minutes),
        )
        assert counted == (3, 2, 1)
        assert minutes[-1].minute >= activity.minute_of(before)
        elsewhere = await activity.last_hour(cache, other)
        assert sum(m.commands for m in elsewhere) == 1
        seen = await activity.last_seen(cache, ["console:local", "console:nowhere"])
        assert seen["console:nowhere"] is None
        assert (seen["console:local"] or 0) >= int(before)


async def test_the_dashboard_lists_the_last_command_errors(settings: Settings) -> None:
    async with serving(settings) as (url, runtime), httpx2.AsyncClient(base_url=url) as http:
        home = await _community(runtime)
        await _community(runtime, "console:elsewhere", "Elsewhere")
        await say(runtime, "!boom")  # the module fails
        await say(runtime, "!slow 5")  # it does not answer within the test's module timeout
        await say(runtime, "!boom", channel="elsewhere")
        cache = runtime.ports.cache
        assert sum(m.errors for m in await activity.last_hour(cache, home)) == 2
        failures = await activity.last_failures(cache, home)
        assert [(f.command, f.module, f.reason) for f in failures] == [
            ("!slow", "testkit", "timeout"),
            ("!boom", "testkit", "error"),
        ]
        user = await signed_in(http, runtime, "mo")
        await runtime.directory.set_role(home, user, "moderator")
        page = await http.get(f"/c/{home}/dashboard")
        assert page.status_code == 200
        listed = page.text.split('id="errors-title"')[1].split("</section>")[0]
        assert listed.count("<tr>") == 3  # the heading's row and the two errors here
        assert "!slow" in listed and "did not answer in time" in listed
        assert "!boom" in listed and "failed" in listed
        assert "kaboom" not in page.text  # what went wrong inside a module stays in the logs


async def test_a_community_keeps_its_last_errors_only(settings: Settings) -> None:
    async with serving(settings) as (_, runtime):
        home = await _community(runtime)
        cache = runtime.ports.cache
        for n in range(activity.FAILURES_KEPT + 3):
            failure = activity.Failure(n, f"!c{n}", "testkit", "error")
            await activity.note_failures(cache, [(home, failure)])
        kept = await activity.last_failures(cache, home)
        newest = activity.FAILURES_KEPT + 2
        assert [f.command for f in kept] == [f"!c{n}" for n in range(newest, 2, -1)]


async def _first_event(http: httpx2.AsyncClient, path: str) -> str:
    """The first ``minutes`` event of the dashboard's stream."""
    async with http.stream("GET", path) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert "default-src 'self'" in response.headers["content-security-policy"]
        event = ""
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "minutes":
                return line[6:]
    raise AssertionError("the stream ended without figures")


async def test_the_live_stream_is_for_the_communitys_moderators_only(settings: Settings) -> None:
    async with serving(settings) as (url, runtime), httpx2.AsyncClient(base_url=url) as http:
        home = await _community(runtime)
        other = await _community(runtime, "console:elsewhere", "Elsewhere")
        assert await say(runtime, "!ping") == ["pong"]
        signed_out = await http.get(f"/c/{home}/dashboard/live")
        assert signed_out.status_code == 303
        assert signed_out.headers["location"].startswith("/login?next=")
        user = await signed_in(http, runtime, "mo")
        await runtime.directory.set_role(home, user, "moderator")
        figures = json.loads(await _first_event(http, f"/c/{home}/dashboard/live"))
        assert figures["totals"] == {"messages": 1, "commands": 1, "errors": 0}
        assert len(figures["at"]) == len(figures["messages"]) == activity.WINDOW_MINUTES
        assert (await http.get(f"/c/{other}/dashboard/live")).status_code == 404
        assert (await http.get(f"/c/{other}/dashboard")).status_code == 404
        async with runtime.db.session() as session:
            session.add_all(
                [
                    PlatformToken(
                        platform="twitch",
                        account_id="1337",
                        login="penguin_tv",
                        purpose="broadcaster",
                        community_id=home,
                        access_token="sealed-access",
                        status="invalid",
                    ),
                    PlatformToken(
                        platform="twitch",
                        account_id="99",
                        login="their_channel",
                        purpose="broadcaster",
                        community_id=other,
                        access_token="sealed-other",
                    ),
                ]
            )
        page = await http.get(f"/c/{home}/dashboard")
        assert page.status_code == 200
        assert "penguin_tv" in page.text and "invalid" in page.text
        assert "their_channel" not in page.text and "sealed" not in page.text
        assert 'id="total-commands">1<' in page.text  # the figures as text, without script
        assert "console:local" in page.text and "console:elsewhere" not in page.text


async def test_the_audit_log_for_admins_filtered_and_paged(settings: Settings) -> None:
    async with serving(settings) as (url, runtime), httpx2.AsyncClient(base_url=url) as http:
        home = await _community(runtime)
        other = await _community(runtime, "console:elsewhere", "Elsewhere")
        user = await signed_in(http, runtime, "ada")
        await runtime.directory.set_role(home, user, "moderator")
        base = f"/c/{home}/audit"
        assert (await http.get(base)).status_code == 403  # admins only, as the API
        http.headers.update(await user_key(runtime, user))  # for the API; the pages take
        # the portal's cookie
        api = f"/api/v1/audit/communities/{home}/entries"
        assert (await http.get(api)).status_code == 403
        await runtime.directory.set_role(home, user, "admin")
        await say(runtime, "!modonly")  # refused: audited as a deny
        await say(runtime, "!modonly", role="moderator", user="mia")  # allowed: audited
        for n in range(3):
            runtime.audit.change("label.create", XSS, f"label:l{n}", home, {"note": XSS})
        runtime.audit.change("label.create", "user:9", "label:theirs", other)
        await runtime.audit.flush()

        everything = (await http.get(api)).json()
        actions = [item["action"] for item in everything["items"]]
        assert actions.count("command.modonly") == 2 and actions.count("label.create") == 3
        assert everything["next"] is None
        assert "label:theirs" not in str(everything)
        denied = (await http.get(api, params={"decision": "deny"})).json()["items"]
        assert [(i["action"], i["actor"]) for i in denied] == [
            ("command.modonly", "alice"),
            ("api.refused", f"user:{user}@127.0.0.1"),  # the moderator's try above
        ]
        mine = (await http.get(api, params={"actor": f"user:{user}"})).json()["items"]
        assert [i["action"] for i in mine] == ["api.refused"]
        commands = (await http.get(api, params={"action": "command."})).json()["items"]
        assert {i["decision"] for i in commands} == {"allow", "deny"}
        later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        assert (await http.get(api, params={"since": later})).json()["items"] == []
        first = (await http.get(api, params={"limit": 2})).json()
        second = (await http.get(api, params={"limit": 2, "cursor": first["next"]})).json()
        ids = [i["id"] for i in first["items"] + second["items"]]
        assert ids == sorted(ids, reverse=True) and len(set(ids)) == 4
        assert ids == [i["id"] for i in everything["items"][:4]]
        assert (await http.get(api, params={"cursor": "bm9wZQ"})).status_code == 422
        assert (await http.get(api, params={"since": "2026-01-01T00:00"})).status_code == 422

        page = await http.get(base, params={"action": "label.create"})
        assert page.status_code == 200
        assert XSS not in page.text and "&lt;img src=x" in page.text
        assert page.text.count("label:l") == 3 and "label:theirs" not in page.text
        partial = await http.get(base, params={"decision": "deny"}, headers={"HX-Request": "1"})
        assert partial.status_code == 200 and "<html" not in partial.text
        assert partial.text.count("command.modonly") == 1
        wrong = await http.get(base, params={"since": "yesterday", "decision": "maybe"})
        assert wrong.status_code == 400
        assert 'id="since" name="since" value="yesterday" aria-invalid="true"' in wrong.text
        assert 'aria-describedby="decision-error"' in wrong.text
        backwards = await http.get(
            base, params={"since": "2026-12-06T10:00", "until": "2026-12-06T09:00"}
        )
        assert backwards.status_code == 400 and "After the start." in backwards.text
        forged = await http.get(base, params={"cursor": "bm9wZQ"})
        assert forged.status_code == 400 and "start again" in forged.text
        assert (await http.get(f"/c/{other}/audit")).status_code == 404
        # the pages only read: nothing to post, with a token or without
        assert (await http.post(base, data={"action": "x"})).status_code == 405


@pytest.mark.parametrize("mode", ["distributed"])
async def test_the_dashboard_says_each_platforms_connection_health_in_a_line(
    settings: Settings,
) -> None:
    async with (
        serving(settings, services={"portal"}) as (url, runtime),
        httpx2.AsyncClient(base_url=url) as http,
    ):
        community = await _community(runtime)
        reporters = await elsewhere_collectors(runtime, community)
        try:
            user = await signed_in(http, runtime, "mo")
            await runtime.directory.set_role(community, user, "moderator")
            shown = (await http.get(f"/c/{community}/dashboard")).text
            lines = re.findall(r'<li class="(health-\w+)">(.*?)</li>', shown)
            assert lines == [
                ("health-ok", "Twitch: 2 of 2 EventSub sessions ready"),
                ("health-degraded", "Discord: 1 of 2 gateway shards ready"),
            ]
        finally:
            for reporter in reporters:
                await reporter.stop()
        shown = (await http.get(f"/c/{community}/dashboard")).text
        assert "Discord: no collector is reporting" in shown  # gone, not shown connected
