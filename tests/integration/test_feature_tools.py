"""The features' tools (core/tools.py) through the runtime's Toolbox, on one WaddleBot per
backend: what each answers, that they change what chat then shows, and the refusals (a level
too low, a read-only caller, bad arguments, a service's own refusal)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio

from tests.support.harness import say
from tests.support.module_settings import module_settings
from waddlebot.core.permissions import Level
from waddlebot.core.tools import Caller, Toolbox, ToolRefused
from waddlebot.features.commands.service import Changes
from waddlebot.features.shared import TOOLS
from waddlebot.runtime import Runtime
from waddlebot.settings import Settings

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture(scope="module", params=["embedded", "distributed"])
def settings(request: pytest.FixtureRequest) -> Settings:
    return module_settings(request, request.param, rate_user_per_30s=500)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    rt = await Runtime.start(settings)
    try:
        yield rt
    finally:
        await rt.stop()


async def community(runtime: Runtime, channel: str) -> int:
    """The community of a console channel (one per test: the runtime is shared)."""
    return (await runtime.directory.resolve_entity(f"console:{channel}", "console")).community_id


async def person(runtime: Runtime, login: str) -> int:
    return await runtime.directory.ensure_identity("twitch", login, login=login)


async def call(runtime: Runtime, caller: Caller, name: str, **arguments: Any) -> Any:
    tools: Toolbox = runtime.need(TOOLS)
    return await tools.call(runtime, caller, name, arguments)


def viewer(community_id: int, user_id: int | None = None, *, may_write: bool = True) -> Caller:
    return Caller(community_id, user_id, int(Level.EVERYONE), may_write)


def moderator(community_id: int, user_id: int, *, may_write: bool = True) -> Caller:
    return Caller(community_id, user_id, int(Level.MODERATOR), may_write)


async def test_every_feature_declares_its_tools(runtime: Runtime) -> None:
    tools: Toolbox = runtime.need(TOOLS)
    declared = {tool.name: tools.feature_of(tool.name) for tool in tools}
    assert {name: feature for name, feature in declared.items() if feature != "ai"} == {
        "quote_search": "memories",
        "quote_random": "memories",
        "quote_latest": "memories",
        "quote_add": "memories",
        "calendar_upcoming": "calendar",
        "calendar_event_add": "calendar",
        "inventory_search": "inventory",
        "inventory_list": "inventory",
        "custom_command_list": "commands",
        "community_info": "community",
    }


async def test_quotes(runtime: Runtime) -> None:
    place = await community(runtime, "quotes")
    mo = await person(runtime, "mo")
    assert await call(runtime, viewer(place), "quote_random") == {"count": 0, "quote": None}
    with pytest.raises(ToolRefused, match="quote_add needs a higher role in this community"):
        await call(runtime, viewer(place), "quote_add", text="I never lose")
    with pytest.raises(ToolRefused, match="quote_add changes things, and this caller may only"):
        await call(runtime, moderator(place, mo, may_write=False), "quote_add", text="x")

    added = await call(
        runtime, moderator(place, mo), "quote_add", text="Pizza is a vegetable", said_by="@bob"
    )
    assert {k: added[k] for k in ("number", "text", "said_by")} == {
        "number": 1,
        "text": "Pizza is a vegetable",
        "said_by": "bob",
    }
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    assert await say(runtime, "!quote 1", channel="quotes") == [
        f'Quote #1: "Pizza is a vegetable" - bob ({today})'
    ]
    found = await call(runtime, viewer(place), "quote_search", text="pizza", limit=3)
    assert found["total"] == 1
    assert [q["number"] for q in found["quotes"]] == [1]
    assert (await call(runtime, viewer(place), "quote_random"))["quote"]["number"] == 1
    await call(runtime, moderator(place, mo), "quote_add", text="Fish is a fruit")
    latest = await call(runtime, viewer(place), "quote_latest", limit=5)
    assert [(q["number"], q["text"]) for q in latest["quotes"]] == [
        (2, "Fish is a fruit"),
        (1, "Pizza is a vegetable"),
    ]
    with pytest.raises(ToolRefused, match="quote_search: limit: 11 is greater than"):
        await call(runtime, viewer(place), "quote_search", text="pizza", limit=11)


async def test_calendar(runtime: Runtime) -> None:
    place = await community(runtime, "calendar")
    mo, bob = await person(runtime, "mo"), await person(runtime, "bob")
    start = (datetime.now(UTC) + timedelta(days=2)).replace(second=0, microsecond=0)
    pending = await call(
        runtime, viewer(place, bob), "calendar_event_add", title="Bob's party", starts_at=str(start)
    )
    assert pending["status"] == "pending"
    night = await call(
        runtime,
        moderator(place, mo),
        "calendar_event_add",
        title="Movie night",
        starts_at=start.replace(tzinfo=None).isoformat(),  # in the community's zone: UTC
        description="Bring snacks",
        duration_minutes=120,
    )
    assert night["status"] == "approved"
    assert await call(runtime, viewer(place), "calendar_upcoming") == {
        "events": [
            {
                "id": night["id"],
                "title": "Movie night",
                "starts_at": start.isoformat(),
                "ends_at": (start + timedelta(minutes=120)).isoformat(),
                "timezone": "UTC",
                "going": 0,
                "description": "Bring snacks",
            }
        ]
    }
    assert await call(runtime, viewer(place), "calendar_upcoming", days=1) == {"events": []}
    with pytest.raises(ToolRefused, match="that start has passed already"):
        await call(
            runtime,
            moderator(place, mo),
            "calendar_event_add",
            title="Gone",
            starts_at="2001-01-01",
        )
    with pytest.raises(ToolRefused, match="starts_at: give an ISO 8601 time"):
        await call(
            runtime, moderator(place, mo), "calendar_event_add", title="When?", starts_at="soon"
        )


async def test_inventory(runtime: Runtime) -> None:
    place = await community(runtime, "inventory")
    bob = await person(runtime, "bob")
    await runtime.inventory.add(place, "Camera", "a Sony A7", ["video"])
    await runtime.inventory.add(place, "Tripod")
    await runtime.inventory.checkout(place, "Camera", bob, "bob")
    available = await call(runtime, viewer(place), "inventory_list", state="available")
    assert available == {"total": 1, "items": [{"name": "Tripod", "available": True}]}
    found = await call(runtime, viewer(place), "inventory_search", text="#video")
    assert found["total"] == 1
    camera = found["items"][0]
    assert (camera["name"], camera["available"], camera["holder"]) == ("Camera", False, "bob")
    assert (camera["description"], camera["labels"]) == ("a Sony A7", ["video"])
    assert (await call(runtime, viewer(place), "inventory_list", limit=1))["total"] == 2


async def test_custom_commands(runtime: Runtime) -> None:
    place = await community(runtime, "commands")
    commands = runtime.commands
    await commands.add(place, "discord", Changes(response="Join us at discord.gg/x"))
    await commands.add(place, "secret", Changes(response="mods only", level=int(Level.MODERATOR)))
    await commands.add(place, "dc", Changes(alias_of="discord"))
    await commands.add(place, "off", Changes(response="gone", enabled=False))
    assert await call(runtime, viewer(place), "custom_command_list") == {
        "total": 2,
        "commands": [
            {"name": "dc", "alias_of": "discord"},
            {"name": "discord", "response": "Join us at discord.gg/x"},
        ],
    }
    mo = await person(runtime, "mo")
    found = await call(runtime, moderator(place, mo), "custom_command_list", search="MODS")
    assert found == {"total": 1, "commands": [{"name": "secret", "response": "mods only"}]}


async def test_community_info(runtime: Runtime) -> None:
    place = await community(runtime, "info")
    await runtime.community.rename(place, "Penguin Club", actor="test")
    assert await call(runtime, viewer(place), "community_info") == {
        "name": "Penguin Club",
        "command_prefix": "!",
        "timezone": "UTC",
        "owners": [],
        "places": [{"id": "console:info", "platform": "console", "live": False}],
    }
