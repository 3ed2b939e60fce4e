"""The portal's Serverless page over HTTP: the community's ``#`` functions (the example
eightball on the fake Lambda, answering in chat) with their engine, version, state and health,
the calls per day against the daily budget, the budget form (the API's checks and audit entry),
the budget line on the Modules page, and who may do what (tests/browser/test_portal_functions.py
drives it in a browser)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx2
import pytest

from tests.integration.test_portal import signed_in
from tests.integration.test_portal_modules import SECRET, tally_module
from tests.integration.test_serverless_commands import (  # noqa: F401 - fixtures
    ANSWER,
    QUESTION,
    Engines,
    configured,
    engines,
    zips,
)
from tests.support.harness import say, serving, serving_app
from waddlebot.features.shared import CATALOGUE, FUNCTION_BUDGETS, INSTALLS
from waddlebot.runtime import Runtime
from waddlebot.sdk.server import create_module_app
from waddlebot.settings import Settings

XSS = '"><script>alert(1)</script>'


@dataclass
class Site:
    url: str
    runtime: Runtime
    home: int  # console:local, where say() talks; eightball and tally are installed here
    other: int

    def page(self, path: str = "", community: int | None = None) -> str:
        return f"/c/{community or self.home}/functions{path}"


@pytest.fixture
async def site(settings: Settings, engines: Engines) -> AsyncIterator[Site]:  # noqa: F811
    async with (
        serving(configured(settings, engines)) as (url, runtime),
        serving_app(create_module_app(tally_module(), SECRET.encode())) as tally_url,
    ):
        catalogue = runtime.need(CATALOGUE)
        await catalogue.register_function("lambda", engines.aws.arn("eightball"), actor="op")
        await catalogue.register(tally_url, SECRET, actor="op")
        home = await runtime.directory.resolve_entity("console:local", "console", name="Home")
        other = await runtime.directory.resolve_entity("console:far", "console", name="Far")
        installs = runtime.need(INSTALLS)
        await installs.install(home.community_id, "eightball", actor="test")
        await installs.install(home.community_id, "tally", actor="test", renames={"quote": "tq"})
        yield Site(url, runtime, home.community_id, other.community_id)


async def person(http: httpx2.AsyncClient, site: Site, login: str, role: str) -> str:
    """Sign ``login`` in with ``role`` at home; the CSRF token for their forms."""
    user = await signed_in(http, site.runtime, login)
    await site.runtime.directory.set_role(site.home, user, role)
    return str(http.cookies["waddlebot_csrf"])


def text(html: str) -> str:
    """The page's words, tags and runs of white space gone."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


async def audited(site: Site, action: str) -> list[dict[str, Any]]:
    await site.runtime.audit.flush()
    rows = await site.runtime.audit.recent(200, community_id=site.home)
    return [{"actor": row.actor, "detail": row.detail} for row in rows if row.action == action]


@pytest.mark.parametrize("mode", ["embedded", "distributed"])
async def test_the_page_shows_the_functions_their_calls_and_sets_the_budget(site: Site) -> None:
    for _ in range(2):
        (answer,) = await say(site.runtime, QUESTION)
        assert answer.startswith(ANSWER)
    async with httpx2.AsyncClient(base_url=site.url) as http:
        token = await person(http, site, "ann", "admin")
        home = await http.get(f"/c/{site.home}/")
        assert f'href="{site.page()}"' in home.text and "Serverless" in home.text
        page = await http.get(site.page())
        assert page.status_code == 200
        row = re.search(r'modules/eightball">eightball</a></th>(.*?)</tr>', page.text, re.S)
        assert row is not None
        cells = re.findall(r"<td>([^<]*)</td>", row.group(1))
        assert cells == ["AWS Lambda", "1.0.0", "on", "closed", "0"]
        assert "modules/tally" not in page.text  # an HTTP module has no serverless calls
        words = text(page.text)
        assert "Serverless calls today: 2 (no limit)." in words
        assert "The operator's default budget." in words
        today = datetime.now(UTC).date().isoformat()
        assert re.search(rf"<th scope=\"row\">{today}</th>\s*<td>2</td>", page.text)
        assert "<meter" not in page.text  # no budget, nothing to measure against

        saved = await http.post(site.page("/budget"), data={"csrf_token": token, "daily": "5"})
        assert saved.status_code == 303
        assert saved.headers["location"] == f"{site.page()}#budget"
        page = await http.get(site.page())
        assert "Serverless calls today: 2 of 5 a day." in text(page.text)
        assert 'min="0" max="5"' in page.text and 'value="2"' in page.text  # the meter
        assert "40% of the budget" in page.text
        assert 'name="daily" min="0" step="1" value="5"' in page.text
        assert (await audited(site, "marketplace.function_budget"))[0]["detail"] == {"daily": 5}
        (chat,) = await say(site.runtime, "!module budget", role="owner")
        assert chat.startswith("Serverless calls today: 2 of 5")  # chat says the same

        modules = await http.get(f"/c/{site.home}/modules")  # the budget line there too
        line = re.search(r'<p id="budget-line">(.*?)</p>', modules.text, re.S)
        assert line is not None and "2 of 5 a day." in line.group(1)
        assert f'<a href="{site.page()}">Calls and budget</a>' in line.group(1)
        eightball = await http.get(f"/c/{site.home}/modules/eightball")
        assert "2 of 5 a day." in eightball.text
        tally = await http.get(f"/c/{site.home}/modules/tally")
        assert 'id="budget-line"' not in tally.text

        back = await http.post(
            site.page("/budget"), data={"csrf_token": token, "daily": "5", "default": "yes"}
        )
        assert back.status_code == 303
        assert await site.runtime.need(FUNCTION_BUDGETS).own(site.home) is None
        latest = (await audited(site, "marketplace.function_budget"))[0]
        assert latest["detail"] == {"daily": None}


@pytest.mark.parametrize("mode", ["embedded"])
async def test_a_wrong_budget_is_shown_at_its_field_and_changes_nothing(site: Site) -> None:
    budgets = site.runtime.need(FUNCTION_BUDGETS)
    await budgets.set(site.home, 100, actor="test")
    async with httpx2.AsyncClient(base_url=site.url) as http:
        token = await person(http, site, "ann", "owner")
        for typed, said in (
            ("", "Give the calls a day as a whole number, 0 for no limit."),
            ("lots", "Input should be a valid integer, unable to parse string as an integer."),
            ("-3", "Input should be greater than or equal to 0."),
            ("20000000", "A daily budget is 0 (no limit) to 10,000,000 calls."),
            (XSS, "Input should be a valid integer, unable to parse string as an integer."),
        ):
            refused = await http.post(
                site.page("/budget"), data={"csrf_token": token, "daily": typed}
            )
            assert refused.status_code == 400, typed
            field = re.search(r'<input type="number" id="budget-daily"[^>]*>', refused.text)
            assert field is not None
            assert 'aria-invalid="true"' in field.group(0)
            assert "budget-daily-error" in field.group(0)
            error = re.search(r'<p class="error" id="budget-daily-error">([^<]*)</p>', refused.text)
            assert error is not None and error.group(1) == said, typed
            assert XSS not in refused.text  # what was typed is kept, as text
        assert "&#34;&gt;&lt;script&gt;" in refused.text
        assert await budgets.own(site.home) == 100


@pytest.mark.parametrize("mode", ["embedded"])
async def test_a_moderator_reads_and_may_not_set_the_budget(site: Site) -> None:
    budgets = site.runtime.need(FUNCTION_BUDGETS)
    await budgets.set(site.home, 50, actor="test")
    async with httpx2.AsyncClient(base_url=site.url) as http:
        token = await person(http, site, "mo", "moderator")
        page = await http.get(site.page())
        assert page.status_code == 200 and "eightball" in page.text
        assert "Serverless calls today: 0 of 50 a day." in text(page.text)
        assert "the budget is set by the community's admins" in page.text
        assert "<form" not in page.text.split("<main", 1)[1]  # read-only
        refused = await http.post(site.page("/budget"), data={"csrf_token": token, "daily": "0"})
        assert refused.status_code == 403 and "needs the admin role" in refused.text
        assert await budgets.own(site.home) == 50
        assert (await http.get(site.page(community=site.other))).status_code == 404
        no_token = await http.post(site.page("/budget"), data={"daily": "0"})
        assert no_token.status_code == 403 and "security token" in no_token.text
        assert await budgets.own(site.home) == 50
