"""``!so`` typed on Discord, through the fake Discord and the real Discord collector: the
person mentioned has linked their Twitch account, so chat is told to follow their Twitch and
Twitch's own shoutout goes to it from the channel the Discord server connected."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import SecretStr

from tests.fakes.twitch import FakeTwitch
from tests.integration.test_discord_collector import World, world
from tests.integration.test_shoutouts import PENGUIN, SO_PENGUIN, STREAMER, connect_channel
from waddlebot.infra.secretbox import SecretBox

__all__ = ["world"]  # the Discord world of test_discord_collector.py


@pytest.fixture
async def twitch() -> AsyncIterator[FakeTwitch]:
    async with FakeTwitch() as fake:
        fake.add_user(STREAMER, "streamer", "Streamer")
        fake.add_user(PENGUIN, "penguinz", "Penguinz")
        fake.set_channel(PENGUIN, game_id="504461", game_name="Celeste")
        yield fake


@pytest.fixture
def more_settings(twitch: FakeTwitch) -> dict[str, Any]:
    """The Discord world with Twitch's API (the fake's)."""
    client = twitch.register_client()
    return {
        "secret_keys": [SecretStr(SecretBox.generate_key())],  # Twitch's tokens are sealed
        "twitch_client_id": client.client_id,
        "twitch_client_secret": SecretStr(client.secret),
        "twitch_helix_url": twitch.helix_url,
        "twitch_auth_url": twitch.auth_url,
        "twitch_eventsub_ws_url": twitch.eventsub_ws_url,
    }


async def test_so_of_a_discord_member_linked_to_twitch_shouts_out_their_twitch(
    world: World, twitch: FakeTwitch
) -> None:
    runtime, fake = world.runtime, world.fake
    # alice, on Discord, has linked her Twitch account (penguinz)
    alice = await runtime.directory.ensure_identity("discord", world.alice.id, login="alice")
    await runtime.directory.ensure_identity("twitch", PENGUIN, login="penguinz")
    pending = await runtime.identity.start_link(alice, "twitch", PENGUIN)
    assert await runtime.identity.verify("twitch", PENGUIN, pending.code) == alice
    # the Discord server's community has connected the streamer's Twitch channel
    place = await runtime.directory.resolve_entity(
        f"discord:{world.guild.id}:{world.general}", "discord"
    )
    client_id = next(iter(twitch.state.clients))
    await connect_channel(runtime, twitch, client_id, place.community_id)
    await twitch.go_live(STREAMER, emit=False)  # Twitch shouts out from live channels only

    # the server's owner types "!so @alice": Discord sends the mention as <@id>
    await fake.post_message(
        world.general, world.owner, f"!so <@{world.alice.id}>", mentions=[world.alice]
    )
    await fake.wait_for_sent(1, world.general)
    # Twitch was asked before chat was answered: all the answer is here
    (shoutout,) = twitch.shoutouts
    assert (shoutout.from_broadcaster_id, shoutout.to_broadcaster_id) == (STREAMER, PENGUIN)
    assert [m.content for m in fake.sent(world.general)] == [SO_PENGUIN]
