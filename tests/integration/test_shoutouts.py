"""Shoutouts end to end, embedded and distributed, against the fake Twitch: ``!so`` says who
to follow, sends Twitch's own shoutout from the community's channel and plays one of their
clips on the media overlay (their profile card when they have none); Twitch's 2-minute and
60-minute limits queue a shoutout rather than fail it; raids of a configured size are
shouted out; on Discord a linked person's Twitch is found; and the refusals."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx2
import orjson
import pytest
from pydantic import SecretStr

from tests.fakes.twitch import FakeTwitch
from tests.support.harness import say
from waddlebot.core.clock import ManualClock, SystemClock
from waddlebot.core.events import Amounts, Author, Event, EventType, new_id
from waddlebot.features.shoutouts.feature import SHOUTOUTS
from waddlebot.infra import overlay_keys
from waddlebot.infra.codec import Envelope
from waddlebot.infra.secretbox import SecretBox
from waddlebot.platforms.twitch.auth import Grant, Validation
from waddlebot.platforms.twitch.client import twitch_api
from waddlebot.router.pipeline import Incoming
from waddlebot.runtime import SERVICES, Runtime
from waddlebot.settings import Settings

STREAMER, PENGUIN, PUFFIN = "1337", "2000", "3000"
MOD = {"role": "moderator", "user": "mia"}
SO_PENGUIN = "Go follow Penguinz, last seen playing Celeste: https://twitch.tv/penguinz"


@dataclass
class World:
    runtime: Runtime
    twitch: FakeTwitch
    clock: ManualClock
    community: int  # the console's, whose Twitch channel is STREAMER's


@pytest.fixture
async def world(settings: Settings) -> AsyncIterator[World]:
    clock = ManualClock()
    async with FakeTwitch(clock=lambda: clock.now().timestamp()) as twitch:
        client = twitch.register_client()
        twitch.add_user(STREAMER, "streamer", "Streamer")
        twitch.add_user(PENGUIN, "penguinz", "Penguinz")
        twitch.add_user(PUFFIN, "puffin", "Puffin")
        twitch.set_channel(PENGUIN, game_id="504461", game_name="Celeste")
        configured = settings.model_copy(
            update={
                "module_timeout_seconds": 10.0,
                "secret_keys": [SecretStr(SecretBox.generate_key())],
                "twitch_client_id": client.client_id,
                "twitch_client_secret": SecretStr(client.secret),
                "twitch_helix_url": twitch.helix_url,
                "twitch_auth_url": twitch.auth_url,
                "overlay_public_url": "https://overlay.example",
            }
        )
        runtime = await Runtime.start(configured, [s for s in SERVICES if s != "twitch"])
        try:
            runtime.need(SHOUTOUTS).clock = clock
            community = await runtime.directory.resolve_entity("console:local", "console")
            await connect_channel(runtime, twitch, client.client_id, community.community_id)
            await twitch.go_live(STREAMER, emit=False)
            yield World(runtime, twitch, clock, community.community_id)
        finally:
            await runtime.stop()


async def connect_channel(runtime: Runtime, twitch: FakeTwitch, client_id: str, cid: int) -> None:
    """The streamer connected their channel to the community (as `twitch connect` does)."""
    token = twitch.issue_user_token(client_id, STREAMER, "moderator:manage:shoutouts")
    grant = Grant(token.access_token, token.refresh_token or "", 14_400, token.scopes)
    who = Validation(client_id, STREAMER, "streamer", token.scopes, 14_400)
    async with httpx2.AsyncClient() as http:
        api = twitch_api(runtime.settings, runtime.db, http, SystemClock())
        await api.tokens.save(grant, who, purpose="broadcaster", community_id=cid)


async def _updates(world: World, run: Any) -> tuple[Any, list[dict[str, Any]]]:
    """What ``run()`` returns, and the overlay updates it published."""
    sub = await world.runtime.ports.broadcast.subscribe(overlay_keys.channel(world.community))
    try:
        result = await run()
        found: list[dict[str, Any]] = []
        iterator = aiter(sub)
        while True:
            try:
                raw = await asyncio.wait_for(anext(iterator), 0.5)
            except TimeoutError:
                return result, found
            found.append(orjson.loads(raw))
    finally:
        await sub.close()


async def test_so_says_who_shouts_out_on_twitch_and_plays_a_clip(world: World) -> None:
    day = 86400
    world.twitch.add_clip(PENGUIN, "too long", clip_id="Long", view_count=900, duration=90, age=day)
    world.twitch.add_clip(PENGUIN, "too old", clip_id="Old", view_count=800, age=40 * day)
    world.twitch.add_clip(
        PENGUIN, "the jump", clip_id="Jump", view_count=50, duration=28.5, age=day
    )
    said, updates = await _updates(world, lambda: say(world.runtime, "!so @Penguinz", **MOD))
    assert said == [SO_PENGUIN]
    (shoutout,) = world.twitch.shoutouts
    assert (shoutout.from_broadcaster_id, shoutout.to_broadcaster_id) == (STREAMER, PENGUIN)
    assert shoutout.moderator_id == STREAMER
    (clip,) = [u["payload"] for u in updates if u["kind"] == "media"]
    assert clip == {
        "type": "clip",
        "url": "https://clips.twitch.tv/embed?clip=Jump&parent=overlay.example",
        "embed": True,
        "title": "the jump",
        "channel": "Penguinz",
        "duration": 28.5,
    }


async def test_without_clips_their_profile_card_is_shown(world: World) -> None:
    said, updates = await _updates(world, lambda: say(world.runtime, "!so puffin", **MOD))
    assert said == ["Go follow Puffin, last seen playing nothing yet: https://twitch.tv/puffin"]
    (card,) = [u["payload"] for u in updates if u["kind"] == "general"]
    assert card["title"] == "Puffin" and card["body"] == "Last seen playing nothing yet"
    assert card["image"] == f"https://static-cdn.jtvnw.net/user-default-pictures/{PUFFIN}.png"
    assert not [u for u in updates if u["kind"] == "media"]


async def test_twitchs_limits_queue_the_shoutout_until_it_may_go(world: World) -> None:
    shoutouts = world.runtime.need(SHOUTOUTS)
    assert await say(world.runtime, "!so penguinz", **MOD) == [SO_PENGUIN]
    world.clock.advance(seconds=30)
    assert await say(world.runtime, "!so puffin", **MOD) == [
        "Go follow Puffin, last seen playing nothing yet: https://twitch.tv/puffin",
        "Twitch allows a shoutout every 2 minutes and one per streamer an hour: its shoutout "
        "to Puffin goes out at 12:02 UTC (in 2 min).",
    ]
    assert [s.to_broadcaster_id for s in world.twitch.shoutouts] == [PENGUIN]
    world.clock.advance(seconds=60)
    assert await shoutouts.send_due() == 0
    world.clock.advance(seconds=30)
    assert await shoutouts.send_due() == 1
    assert [s.to_broadcaster_id for s in world.twitch.shoutouts] == [PENGUIN, PUFFIN]

    # the same streamer again: an hour after their first
    world.clock.advance(seconds=300)
    assert (await say(world.runtime, "!so penguinz", **MOD))[1].endswith(
        "its shoutout to Penguinz goes out at 13:00 UTC (in 53 min)."
    )
    world.clock.advance(minutes=52)
    assert await shoutouts.send_due() == 0
    world.clock.advance(minutes=1)
    assert await shoutouts.send_due() == 1
    assert [s.to_broadcaster_id for s in world.twitch.shoutouts] == [PENGUIN, PUFFIN, PENGUIN]
    first, second, third = world.twitch.shoutouts
    assert second.at - first.at >= 120 and third.at - first.at >= 3600


async def _raid(world: World, viewers: int) -> None:
    raid = Event(
        platform="twitch",
        entity_id=f"twitch:{STREAMER}",
        message_id=new_id(),
        type=EventType.RAID,
        author=Author(user_id=PENGUIN, login="penguinz", display_name="Penguinz"),
        amounts=Amounts(viewers=viewers),
    )
    await world.runtime.router.process([Incoming(Envelope(raid))])


async def test_a_raid_over_the_size_is_shouted_out_and_a_small_one_is_not(world: World) -> None:
    # the raided channel's community is the streamer's Twitch place
    twitch_place = await world.runtime.directory.resolve_entity(f"twitch:{STREAMER}", "twitch")
    client_id = next(iter(world.twitch.state.clients))
    await connect_channel(world.runtime, world.twitch, client_id, twitch_place.community_id)
    await _raid(world, viewers=4)
    assert world.twitch.shoutouts == []
    await _raid(world, viewers=5)
    (shoutout,) = world.twitch.shoutouts
    assert (shoutout.from_broadcaster_id, shoutout.to_broadcaster_id) == (STREAMER, PENGUIN)


async def test_refusals(world: World) -> None:
    assert await say(world.runtime, "!so penguinz", user="bob") == [
        "@bob, !so is for moderator level and up."
    ]
    assert await say(world.runtime, "!so @nobody_here", **MOD) == [
        "I can't find nobody_here on Twitch."
    ]
    assert world.twitch.shoutouts == []


async def test_so_of_a_linked_person_elsewhere_shouts_out_their_twitch(world: World) -> None:
    runtime = world.runtime
    user = await runtime.directory.ensure_identity("console", "pengu", login="pengu")
    await runtime.directory.ensure_identity("twitch", PENGUIN, login="penguinz")
    pending = await runtime.identity.start_link(user, "twitch", PENGUIN)
    assert await runtime.identity.verify("twitch", PENGUIN, pending.code) == user
    assert await say(runtime, "!so @pengu", **MOD) == [SO_PENGUIN]
    assert [s.to_broadcaster_id for s in world.twitch.shoutouts] == [PENGUIN]
