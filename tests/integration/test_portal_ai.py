"""The AI page of the portal over HTTP: today's tokens against the budget and the last 7 or
30 days (as the usage endpoint counts them), the budget, the provider order and models, and
the MCP servers (added, their tools allowed, checked against a real MCP server on loopback and
over stdio, removed), each saved as ``!module config ai`` saves it (checked against the
schema, mistakes at their field, audited); no key or URL secret shown; moderators read only;
another community's member sees nothing; a community with the module off is told so."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx2
import pytest
from pydantic import SecretStr

from tests.fakes.mcp_weather import weather_server
from tests.integration.test_ai_tools import WEATHER_COMMAND
from tests.integration.test_portal import signed_in
from tests.integration.test_portal_commands import community, field_error, token
from tests.support.harness import free_port, serving, serving_app
from waddlebot.features.ai.budget import TOKEN_BUDGET
from waddlebot.features.ai.providers import Completion
from waddlebot.features.shared import INSTALLS
from waddlebot.runtime import Runtime
from waddlebot.settings import Settings

pytestmark = pytest.mark.parametrize("mode", ["embedded"])
XSS = '<img src=x onerror="alert(1)">'
OPENAI_KEY = "sk-never-on-the-page"


@dataclass
class Site:
    runtime: Runtime
    http: httpx2.AsyncClient  # signed in as the community's admin
    url: str
    home: int
    other: int
    weather: str  # the MCP server's URL

    @property
    def page(self) -> str:
        return f"/c/{self.home}/ai"

    async def config(self) -> dict[str, Any]:
        return dict((await self.runtime.need(INSTALLS).get(self.home, "ai")).config)

    async def post(self, path: str, **data: Any) -> httpx2.Response:
        return await self.http.post(self.page + path, data={**token(self.http), **data})


def operator_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "ai_daily_tokens": 1000,
            "ai_openai_api_key": SecretStr(OPENAI_KEY),
            "ai_openai_url": "https://portal:hunter2@openai.example/v1?token=abc",
            "ai_mcp_commands": {"weather": WEATHER_COMMAND},
        }
    )


@pytest.fixture
async def site(settings: Settings) -> AsyncIterator[Site]:
    async with (
        serving_app(weather_server().streamable_http_app()) as weather,
        serving(operator_settings(settings)) as (url, runtime),
        httpx2.AsyncClient(base_url=url) as http,
    ):
        admin = await signed_in(http, runtime, "ada")
        home = await community(runtime, "console:local", "Penguins")
        other = await community(runtime, "console:elsewhere", "Others")
        await runtime.directory.set_role(home, admin, "admin")
        yield Site(runtime, http, url, home, other, f"{weather}/mcp")


def tools_offered(page: str) -> list[str]:
    return re.findall(r'name="tool" value="([^"]*)"', page)


def error_at(page: str, field: str) -> str:
    return html.unescape(field_error(page, field))


async def test_usage_today_and_the_last_days_against_the_budget(site: Site) -> None:
    budget = site.runtime.need(TOKEN_BUDGET)
    await budget.book(
        site.home, "ollama", Completion("hi", prompt_tokens=200, completion_tokens=100)
    )
    await budget.book(site.home, "openai", Completion("hi", prompt_tokens=40, completion_tokens=2))
    await budget.book(site.other, "ollama", Completion("x", prompt_tokens=999))

    page = await site.http.get(site.page)
    assert page.status_code == 200
    assert "342 of 1,000 tokens used today (UTC)." in page.text
    assert 'max="1000"' in page.text and 'value="342"' in page.text  # the meter
    assert "(the operator's)" in page.text
    rows = re.findall(r"<tr><th scope=\"row\">(\d{4}-\d\d-\d\d)</th>(.*?)</tr>", page.text, re.S)
    assert len(rows) == 7
    cells = re.findall(r"<td>([^<]*)</td>", rows[0][1])
    assert cells == ["342", "0", "200", "100", "40", "2"]  # tokens, refused, per provider

    month = await site.http.get(site.page, params={"days": 30})
    assert month.text.count('<th scope="row">') == 30 + 2  # the days and the two providers
    assert 'aria-current="page">Last 30 days' in month.text
    assert (await site.http.get(site.page, params={"days": "abc"})).status_code == 400

    # the operator's set-up, without its key nor the secrets of a URL
    assert "<code>https://openai.example/v1</code>" in page.text
    for secret in (OPENAI_KEY, "hunter2", "token=abc", WEATHER_COMMAND):
        assert secret not in page.text
    assert "<code>weather</code>" in page.text  # the command's name only


async def test_an_admin_sets_the_budget_and_the_providers(site: Site) -> None:
    for typed, said in (
        ("lots", "Daily_tokens must be an integer."),
        ("-5", "-5 is less than the minimum of 0."),
        ("2000000000", "2000000000 is greater than the maximum of 1000000000."),
    ):
        wrong = await site.post("/budget", daily_tokens=typed)
        assert wrong.status_code == 400, typed
        assert error_at(wrong.text, "daily-tokens") == said
        assert f'value="{typed}"' in wrong.text  # what was typed is kept
    saved = await site.post("/budget", daily_tokens="500")
    assert saved.status_code == 200 and "Saved the daily budget." in saved.text
    assert (await site.config())["daily_tokens"] == 500
    assert "0 of 500 tokens used today" in saved.text and "(this community's)" in saved.text

    twice = await site.post(
        "/providers", provider_1="openai", provider_2="openai", model_ollama="m", model_openai="m"
    )
    assert twice.status_code == 400 and "non-unique" in error_at(twice.text, "provider-1")
    empty = await site.post("/providers", provider_1="ollama", model_ollama="", model_openai="m")
    assert empty.status_code == 400 and error_at(empty.text, "model-ollama")
    done = await site.post(
        "/providers",
        provider_1="openai",
        provider_2="ollama",
        model_ollama="qwen3:8b",
        model_openai=XSS,
    )
    assert done.status_code == 200 and "Saved the providers." in done.text
    assert "<strong>openai</strong>, then <strong>ollama</strong>" in done.text
    assert "&lt;img src=x" in done.text and XSS not in done.text
    config = await site.config()
    assert (config["provider_order"], config["model_ollama"], config["model_openai"]) == (
        ["openai", "ollama"],
        "qwen3:8b",
        XSS,
    )
    only = await site.post(
        "/providers", provider_1="ollama", provider_2="", model_ollama="a", model_openai="b"
    )
    assert only.status_code == 200 and (await site.config())["provider_order"] == ["ollama"]

    await site.runtime.audit.flush()
    rows = await site.runtime.audit.recent(20, community_id=site.home)
    assert [row.action for row in rows] == ["marketplace.config"] * 3
    assert rows[-1].detail == {"keys": ["daily_tokens"]}


async def test_an_admin_adds_checks_allows_and_removes_mcp_servers(site: Site) -> None:
    cases = [
        ({"name": "Bad Name", "url": site.weather}, "mcp-name", "does not match"),
        ({"name": "", "url": site.weather}, "mcp-name", "Give the server a name."),
        ({"name": "x"}, "mcp-url", "Give the server's URL, or choose a command"),
        ({"name": "x", "url": "ftp://x", "command": "weather"}, "mcp-url", "not both"),
        ({"name": "x", "url": "ftp://x"}, "mcp-url", "does not match"),
        ({"name": "x", "url": site.weather, "tools": "a" * 70}, "mcp-tools", "does not match"),
    ]
    for data, field, said in cases:
        wrong = await site.post("/mcp", **data)
        assert wrong.status_code == 400, data
        assert said in error_at(wrong.text, field), data
    assert (await site.config()).get("mcp_servers") is None

    added = await site.post("/mcp", name="weather", url=site.weather, tools="forecast")
    assert added.status_code == 200 and "Added the MCP server weather." in added.text
    again = await site.post("/mcp", name="weather", command="weather")
    assert "There is a server named weather here already." in error_at(again.text, "mcp-name")
    await site.post("/mcp", name="local", command="weather")
    down = f"http://127.0.0.1:{free_port()}/mcp"
    await site.post("/mcp", name="down", url=down + "?" + XSS)
    config = await site.config()
    assert config["mcp_servers"] == [
        {"name": "weather", "url": site.weather},
        {"name": "local", "command": "weather"},
        {"name": "down", "url": down + "?" + XSS},
    ]
    assert config["mcp_tools"] == ["weather.forecast"]

    checked = await site.post("/mcp/check", server="weather")
    assert checked.status_code == 200
    assert tools_offered(checked.text) == ["forecast", "radar", "bulletin"]
    assert 'value="forecast" checked' in checked.text and "weather offers 3 tools" in checked.text
    over_stdio = await site.post("/mcp/check", server="local")  # the operator's command line
    assert tools_offered(over_stdio.text) == ["forecast", "radar", "bulletin"]
    unreachable = await site.post("/mcp/check", server="down")
    assert unreachable.status_code == 200
    assert "The down server could not be reached, or did not speak MCP." in unreachable.text
    assert "&lt;img src=x" in unreachable.text and XSS not in unreachable.text
    nobody = await site.post("/mcp/check", server="nobody")
    assert nobody.status_code == 404 and "There is no server named nobody here." in nobody.text

    ticked = await site.http.post(
        f"{site.page}/mcp/tools",
        data={
            **token(site.http),
            "server": "weather",
            "ticked": "yes",
            "tool": ["forecast", "radar"],
        },
    )
    assert "The model may call these tools of weather: forecast, radar." in ticked.text
    typed = await site.post("/mcp/tools", server="local", tools="local.forecast, bulletin")
    assert typed.status_code == 200
    assert (await site.config())["mcp_tools"] == [
        "weather.forecast",
        "weather.radar",
        "local.forecast",
        "local.bulletin",
    ]
    long = await site.post("/mcp/tools", server="local", tools="b" * 70)
    assert long.status_code == 400 and "does not match" in error_at(long.text, "tools-local")

    removed = await site.post("/mcp/remove", server="weather")
    assert "Removed the MCP server weather and its tools." in removed.text
    config = await site.config()
    assert [server["name"] for server in config["mcp_servers"]] == ["local", "down"]
    assert config["mcp_tools"] == ["local.forecast", "local.bulletin"]
    assert (await site.post("/mcp/remove", server="weather")).status_code == 404


async def test_a_moderator_reads_and_is_refused_every_change(site: Site) -> None:
    installs = site.runtime.need(INSTALLS)
    await installs.configure(
        site.home,
        "ai",
        {"daily_tokens": 700, "mcp_servers": [{"name": "weather", "url": site.weather}]},
        actor="test",
    )
    async with httpx2.AsyncClient(base_url=site.url) as http:
        mo = await signed_in(http, site.runtime, "mo")
        await site.runtime.directory.set_role(site.home, mo, "moderator")
        page = await http.get(site.page)
        assert page.status_code == 200
        assert "This community set 700 tokens a day." in page.text
        assert '<h3 id="server-weather">weather</h3>' in page.text
        assert '<form method="post" action="/c/' not in page.text.replace('action="/logout"', "")
        for path, data in (
            ("/budget", {"daily_tokens": "1"}),
            ("/providers", {"provider_1": "openai", "model_ollama": "a", "model_openai": "b"}),
            ("/mcp", {"name": "x", "url": "https://x.example/mcp"}),
            ("/mcp/tools", {"server": "weather", "tools": "forecast"}),
            ("/mcp/check", {"server": "weather"}),
            ("/mcp/remove", {"server": "weather"}),
        ):
            refused = await http.post(site.page + path, data={**token(http), **data})
            assert refused.status_code == 403, path
        assert (await site.config())["daily_tokens"] == 700
        assert len((await site.config())["mcp_servers"]) == 1

        elsewhere = await http.get(f"/c/{site.other}/ai")
        assert elsewhere.status_code == 404
    no_csrf = await site.http.post(f"{site.page}/budget", data={"daily_tokens": "5"})
    assert no_csrf.status_code == 403 and (await site.config())["daily_tokens"] == 700


async def test_with_the_module_off_the_page_says_so_and_changes_nothing(site: Site) -> None:
    await site.runtime.need(INSTALLS).set_enabled(site.home, "ai", False, actor="test")
    page = await site.http.get(site.page)
    assert page.status_code == 200
    assert "is switched off in this community" in page.text
    assert f'href="/c/{site.home}/modules/ai"' in page.text
    assert "Tokens today" not in page.text
    refused = await site.post("/budget", daily_tokens="5")
    assert refused.status_code == 409 and "switched off" in refused.text
    assert "daily_tokens" not in await site.config()
