"""``waddlebot mcp serve`` as an MCP client sees it, with the official ``mcp`` client: over
streamable HTTP at ``/mcp`` of a running WaddleBot (both backends), and once over stdio as the
process an assistant starts. Tools are those the key's person may use in the community;
refusals come back as tool errors; a bad key is 401."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import pytest
import pytest_asyncio
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from tests.support.harness import say, serving
from tests.support.module_settings import module_settings
from waddlebot.features.calendar.events import NewEvent
from waddlebot.features.identity import apikeys
from waddlebot.runtime import Runtime
from waddlebot.settings import Settings

READING = {
    "quote_search",
    "quote_random",
    "quote_latest",
    "calendar_upcoming",
    "inventory_search",
    "inventory_list",
    "custom_command_list",
    "community_info",
}
WADDLEBOT = str(Path(sys.executable).parent / "waddlebot")


@dataclass
class World:
    url: str
    runtime: Runtime
    settings: Settings
    place: int  # the console channel "mcp"'s community: mo is a moderator, bob a member
    elsewhere: int  # a community where nobody here has a role
    mo_writes: str
    mo_reads: str
    bob_writes: str


@pytest.fixture(scope="module", params=["embedded", "distributed"])
def settings(request: pytest.FixtureRequest) -> Settings:
    return module_settings(request, request.param, rate_user_per_30s=500)


async def _key(runtime: Runtime, user_id: int, scopes: str) -> str:
    _, key = await apikeys.create_key(
        runtime.db, f"mcp-{user_id}-{scopes}", scopes, kind="user", user_id=user_id
    )
    return key


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(settings: Settings) -> AsyncIterator[World]:
    async with serving(settings) as (url, runtime):
        directory = runtime.directory
        place = (await directory.resolve_entity("console:mcp", "console")).community_id
        elsewhere = (await directory.resolve_entity("twitch:900", "twitch")).community_id
        mo = await directory.ensure_identity("twitch", "1", login="mo")
        bob = await directory.ensure_identity("twitch", "2", login="bob")
        await directory.set_role(place, mo, "moderator")
        await directory.set_role(place, bob, "member")
        yield World(
            url,
            runtime,
            settings,
            place,
            elsewhere,
            await _key(runtime, mo, "*"),
            await _key(runtime, mo, "read"),
            await _key(runtime, bob, "*"),
        )


@asynccontextmanager
async def client(world: World, key: str, community: int | None = 0) -> AsyncIterator[Client]:
    """An MCP client of ``/mcp?community=`` (``world.place`` unless given; None: no
    community said), sending ``key``."""
    query = "" if community is None else f"?community={community or world.place}"
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=30)
    async with (
        http,
        Client(streamable_http_client(f"{world.url}/mcp{query}", http_client=http)) as mcp,
    ):
        yield mcp


async def tool_names(mcp: Client) -> set[str]:
    return {tool.name for tool in (await mcp.list_tools()).tools}


def text_of(result: Any) -> str:
    return "".join(part.text for part in result.content)


@pytest.mark.asyncio(loop_scope="module")
async def test_the_tools_listed_are_those_the_key_may_use(world: World) -> None:
    async with client(world, world.mo_reads) as mcp:
        assert await tool_names(mcp) == READING
    async with client(world, world.mo_writes) as mcp:
        assert await tool_names(mcp) == READING | {"quote_add", "calendar_event_add"}
    async with client(world, world.bob_writes) as mcp:  # a member adds events, not quotes
        assert await tool_names(mcp) == READING | {"calendar_event_add"}
    async with client(world, world.bob_writes, community=None) as mcp:  # bob's only community
        info = await mcp.call_tool("community_info", {})
    assert json.loads(text_of(info))["places"] == [
        {"id": "console:mcp", "platform": "console", "live": False}
    ]


@pytest.mark.asyncio(loop_scope="module")
async def test_calendar_upcoming_shows_an_event_added_through_the_service(world: World) -> None:
    start = (datetime.now(UTC) + timedelta(days=3)).replace(second=0, microsecond=0)
    wanted = NewEvent(title="Movie night", starts_at=start, timezone="UTC")
    event = await world.runtime.calendar.add(
        world.place, wanted, creator_user_id=None, creator_name="", level=None
    )
    async with client(world, world.mo_reads) as mcp:
        result = await mcp.call_tool("calendar_upcoming", {"limit": 5})
    assert not result.is_error
    shown = {
        "id": event.id,
        "title": "Movie night",
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(minutes=60)).isoformat(),
        "timezone": "UTC",
        "going": 0,
    }
    assert result.structured_content == {"events": [shown]}
    assert json.loads(text_of(result)) == {"events": [shown]}


@pytest.mark.asyncio(loop_scope="module")
async def test_a_quote_added_with_a_write_key_is_one_chat_shows(world: World) -> None:
    async with client(world, world.mo_reads) as mcp:
        refused = await mcp.call_tool("quote_add", {"text": "Read-only"})
    assert refused.is_error
    assert text_of(refused) == "quote_add changes things, and this caller may only read"

    async with client(world, world.mo_writes) as mcp:
        added = await mcp.call_tool("quote_add", {"text": "Waddle on", "said_by": "pingu"})
        bad = await mcp.call_tool("quote_add", {"text": ""})
    assert not added.is_error
    number = json.loads(text_of(added))["number"]
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    assert await say(world.runtime, f"!quote {number}", channel="mcp") == [
        f'Quote #{number}: "Waddle on" - pingu ({today})'
    ]
    assert bad.is_error
    assert text_of(bad) == "quote_add: text: '' should be non-empty"

    async with client(world, world.bob_writes) as mcp:  # a member: !quote add needs a VIP
        low = await mcp.call_tool("quote_add", {"text": "Me too"})
    assert (low.is_error, text_of(low)) == (True, "quote_add needs a higher role in this community")


@pytest.mark.asyncio(loop_scope="module")
async def test_a_switched_off_feature_has_no_tools(world: World) -> None:
    runtime = world.runtime
    off = (await runtime.directory.resolve_entity("console:mcp-off", "console")).community_id
    mo = await runtime.directory.ensure_identity("twitch", "1", login="mo")
    await runtime.directory.set_role(off, mo, "moderator")
    assert await say(
        runtime, "!module disable inventory", user="owner", role="owner", channel="mcp-off"
    ) == ["inventory is off here now."]
    async with client(world, world.mo_writes, community=off) as mcp:
        listed = await tool_names(mcp)
        called = await mcp.call_tool("inventory_list", {})
    assert "inventory_list" not in listed
    assert "inventory_search" not in listed
    assert "quote_search" in listed
    assert (called.is_error, text_of(called)) == (True, "there is no tool named 'inventory_list'")


@pytest.mark.asyncio(loop_scope="module")
async def test_resources_are_listed_and_read(world: World) -> None:
    await world.runtime.community.rename(world.place, "Penguin Club", actor="test")
    async with client(world, world.mo_reads) as mcp:
        listed = {str(resource.uri) for resource in (await mcp.list_resources()).resources}
        read = await mcp.read_resource("waddlebot://community")
    assert listed == {
        "waddlebot://community",
        "waddlebot://calendar/upcoming",
        "waddlebot://quotes/latest",
        "waddlebot://inventory",
        "waddlebot://commands",
    }
    info = json.loads(read.contents[0].text)  # type: ignore[union-attr]
    assert (info["name"], info["places"][0]["id"]) == ("Penguin Club", "console:mcp")


@pytest.mark.asyncio(loop_scope="module")
async def test_keys_and_communities_are_checked_before_mcp(world: World) -> None:
    ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    accept = {"Accept": "application/json, text/event-stream"}
    async with httpx2.AsyncClient(base_url=world.url) as http:
        none = await http.post("/mcp", json=ping, headers=accept)
        bad = await http.post("/mcp", json=ping, headers={**accept, "X-API-Key": "wbk_nope"})
        outside = await http.post(
            f"/mcp?community={world.elsewhere}",
            json=ping,
            headers={**accept, "X-API-Key": world.mo_writes},
        )
        garbled = await http.post(
            "/mcp?community=abc", json=ping, headers={**accept, "X-API-Key": world.mo_writes}
        )
        stream = await http.get("/mcp", headers={**accept, "X-API-Key": world.mo_writes})
    assert (stream.status_code, stream.headers["allow"]) == (405, "POST")
    assert (none.status_code, bad.status_code) == (401, 401)
    assert bad.json()["detail"] == (
        "a valid API key is required (Authorization: Bearer <key> or X-API-Key)"
    )
    assert bad.headers["www-authenticate"] == "Bearer"
    assert outside.status_code == 403
    assert outside.json()["detail"] == f"this key has no role in community {world.elsewhere}"
    assert garbled.status_code == 400


@pytest.mark.asyncio(loop_scope="module")
async def test_stdio_server_acts_as_the_key_in_its_environment(world: World) -> None:
    """The process an assistant starts: the key only in the environment."""
    env = {
        "WADDLEBOT_DATABASE_URL": world.settings.database_url,
        "WADDLEBOT_DATA_DIR": world.settings.data_dir,
        "WADDLEBOT_MCP_API_KEY": world.mo_reads,
        "WADDLEBOT_LOG_LEVEL": "WARNING",
    }
    if world.settings.distributed:  # beside the deployment: its PostgreSQL and Redis
        env["WADDLEBOT_REDIS_URL"] = world.settings.redis_url
        env["WADDLEBOT_STREAM_PREFIX"] = world.settings.stream_prefix
    server = StdioServerParameters(
        command=WADDLEBOT,
        args=["mcp", "serve", "--stdio", "--community", str(world.place)],
        env=env,
    )
    async with Client(server) as mcp:
        listed = await tool_names(mcp)
        answer = await mcp.call_tool("community_info", {})
        refused = await mcp.call_tool("quote_add", {"text": "nope"})
    assert listed == READING
    assert json.loads(text_of(answer))["places"][0]["id"] == "console:mcp"
    assert (refused.is_error, text_of(refused)) == (
        True,
        "quote_add changes things, and this caller may only read",
    )


def test_stdio_server_refuses_a_bad_key_with_one_line(tmp_path: Path) -> None:
    """What an assistant's log shows when the key in its configuration is wrong."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "WADDLEBOT_DATA_DIR": str(tmp_path),
        "WADDLEBOT_MCP_API_KEY": "wbk_revoked",
    }
    done = subprocess.run(
        [WADDLEBOT, "mcp", "serve", "--stdio"],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.strip().splitlines()[-1] == (
        "WADDLEBOT_MCP_API_KEY is not a valid API key (revoked, expired or mistyped)"
    )
