"""Importing other bots' commands over HTTP (embedded and distributed): each sample export
is imported, and the commands then answer in chat."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest

from tests.support.harness import say, serving
from waddlebot.features.identity import apikeys
from waddlebot.runtime import Runtime
from waddlebot.settings import Settings

SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "imports"


@dataclass
class World:
    http: httpx2.AsyncClient
    runtime: Runtime
    community: int  # the console's community
    other: int
    admin: dict[str, str]
    moderator: dict[str, str]
    other_admin: dict[str, str]  # admin of the other community only


async def user_key(runtime: Runtime, user_id: int) -> dict[str, str]:
    _, key = await apikeys.create_key(runtime.db, f"user-{user_id}", kind="user", user_id=user_id)
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
async def world(settings: Settings) -> AsyncIterator[World]:
    async with serving(settings) as (url, runtime), httpx2.AsyncClient(base_url=url) as http:
        directory = runtime.directory
        home = (await directory.resolve_entity("console:local", "console")).community_id
        other = (await directory.resolve_entity("twitch:200", "twitch")).community_id
        admin = await directory.ensure_identity("twitch", "1", login="ada")
        moderator = await directory.ensure_identity("twitch", "2", login="mo")
        stranger = await directory.ensure_identity("twitch", "3", login="zed")
        await directory.set_role(home, admin, "admin")
        await directory.set_role(home, moderator, "moderator")
        await directory.set_role(other, stranger, "admin")
        yield World(
            http,
            runtime,
            home,
            other,
            await user_key(runtime, admin),
            await user_key(runtime, moderator),
            await user_key(runtime, stranger),
        )


async def post_import(
    world: World,
    source: str,
    payload: Any,
    *,
    headers: dict[str, str] | None = None,
    community: int | None = None,
    overwrite: bool = False,
) -> httpx2.Response:
    return await world.http.post(
        f"/api/v1/commands/communities/{community or world.community}/import",
        params={"source": source, "overwrite": str(overwrite).lower()},
        headers=world.admin if headers is None else headers,
        json={"payload": payload},
    )


def results(response: httpx2.Response) -> dict[str, dict[str, Any]]:
    assert response.status_code == 200, response.text
    return {result["name"]: result for result in response.json()["commands"]}


async def test_nightbot_import_answers_in_chat(world: World) -> None:
    export = (SAMPLES / "nightbot.json").read_text()
    response = await post_import(world, "nightbot", export)
    found = results(response)
    assert response.json()["imported"] == 6 and response.json()["skipped"] == 2
    assert found["ping"]["status"] == "skipped" and found["ping"]["reason"] == "reserved"
    # the shoutouts module's own !so (with the clip) takes the name
    assert found["so"]["status"] == "skipped" and found["so"]["reason"] == "reserved"
    assert found["uptime"]["status"] == "imported"
    assert found["uptime"]["warnings"] == [
        "$(twitch ...) has no counterpart here; it is left as written"
    ]
    runtime = world.runtime
    assert await say(runtime, "!hello") == ["Hello alice, welcome to the stream!"]
    assert await say(runtime, "!hug @bob") == ["alice gives bob a big hug"]
    assert await say(runtime, "!deaths", role="moderator", user="mia") == [
        "The streamer has died 42 times"  # the count carried over from Nightbot
    ]
    assert await say(runtime, "!deaths") == ["@alice, !deaths is for moderator level and up."]
    assert await say(runtime, "!so", role="vip") == ["@alice, !so is for moderator level and up."]
    assert await say(runtime, "!ping") == ["pong"]  # the built-in one


async def test_streamelements_import_answers_in_chat(world: World) -> None:
    export = json_payload("streamelements.json")
    found = results(await post_import(world, "streamelements", export))
    assert found["bad name!"]["reason"] == "invalid"
    assert found["oldgiveaway"]["status"] == "imported"
    assert found["pick"]["warnings"] == ["its aliases (!rps) are not imported"]
    runtime = world.runtime
    assert await say(runtime, "!discord") == ["Join the Discord, alice: https://discord.gg/example"]
    assert await say(runtime, "!discord", user="bob") == []  # 15 s global cooldown
    assert await say(runtime, "!say hello there", role="moderator") == ["hello there"]
    assert await say(runtime, "!oldgiveaway", role="owner") == []  # imported disabled
    (picked,) = await say(runtime, "!pick @bob", role="subscriber")
    assert picked.startswith("alice picks ") and picked.endswith(" for bob")
    assert picked.split()[2] in ("rock", "paper", "scissors")
    info = await runtime.commands.get(world.community, "discord")
    assert info is not None and (info.cooldown, info.user_cooldown, info.count) == (15, 30, 5)


async def test_phantombot_import_answers_in_chat(world: World) -> None:
    export = (SAMPLES / "phantombot.txt").read_text()
    found = results(await post_import(world, "phantombot", export))
    assert all(result["status"] == "imported" for result in found.values())
    assert len(found["points"]["warnings"]) == 2
    runtime = world.runtime
    assert await say(runtime, "!welcome @bob") == ["Welcome alice! Say hi to bob too."]
    assert await say(runtime, "!lurk") == ["alice is lurking, enjoy the stream!"]
    assert await say(runtime, "!lurk the vibes") == ["alice is lurking, enjoy the!"]
    assert await say(runtime, "!raid") == ["1 raids so far, thanks everyone"]
    (rolled,) = await say(runtime, "!dice")
    assert rolled[:-1] == "alice rolls a " and rolled[-1] in "123456"
    assert await say(runtime, "!price") == ["Tickets cost ${price} today (lol)"]
    assert await say(runtime, "!points") == ["alice has (points) (pointname) (and counting)"]


async def test_existing_commands_skipped_then_overwritten(world: World) -> None:
    runtime = world.runtime
    await say(runtime, "!addcom !hello mine", role="moderator", user="mia")
    export = [{"name": "!hello", "message": "theirs $(user)", "userLevel": "everyone"}]
    kept = results(await post_import(world, "nightbot", export))
    assert kept["hello"]["status"] == "skipped" and kept["hello"]["reason"] == "exists"
    assert await say(runtime, "!hello") == ["mine"]
    replaced = results(await post_import(world, "nightbot", export, overwrite=True))
    assert replaced["hello"]["status"] == "replaced"
    assert await say(runtime, "!hello") == ["theirs alice"]
    twice = [*export, {"name": "!HELLO", "message": "again"}]
    again = (await post_import(world, "nightbot", twice, overwrite=True)).json()["commands"]
    assert [result["reason"] for result in again] == ["", "duplicate"]

    await runtime.audit.flush()
    rows = await runtime.audit.recent(100, community_id=world.community)
    actions = [row.action for row in reversed(rows) if row.action.startswith("custom_command.")]
    assert actions == ["custom_command.add", *["custom_command.import"] * 3]  # one per import
    imports = [row for row in reversed(rows) if row.action == "custom_command.import"]
    assert imports[1].detail["replaced"] == ["hello"] and imports[1].target == "import:nightbot"
    assert imports[1].actor.startswith("user:")


async def test_only_admins_import(world: World) -> None:
    export = [{"name": "!x", "message": "hi"}]
    refused = await post_import(world, "nightbot", export, headers=world.moderator)
    assert refused.status_code == 403
    foreign = await post_import(world, "nightbot", export, headers=world.other_admin)
    assert foreign.status_code == 403
    anonymous = await post_import(world, "nightbot", export, headers={})
    assert anonymous.status_code == 401
    own = await post_import(
        world, "nightbot", export, headers=world.other_admin, community=world.other
    )
    assert own.status_code == 200
    assert await world.runtime.commands.get(world.community, "x") is None


async def test_bad_requests(world: World) -> None:
    assert (await post_import(world, "mixitupbot", [])).status_code == 422
    unreadable = await post_import(world, "nightbot", "{not json")
    assert unreadable.status_code == 422 and "not JSON" in unreadable.json()["detail"]
    empty = await post_import(world, "phantombot", "")
    assert empty.json()["commands"] == [] and empty.json()["imported"] == 0


def json_payload(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text())


async def test_an_alias_keeps_its_name_from_an_import(world: World) -> None:
    await world.runtime.aliases.define(world.community, "hi", "ping", forced=False, actor="test")
    found = results(await post_import(world, "phantombot", "!hi hello there\n!yo hey"))
    assert (found["hi"]["status"], found["hi"]["reason"]) == ("skipped", "reserved")
    assert "alias" in found["hi"]["detail"] and found["yo"]["status"] == "imported"
