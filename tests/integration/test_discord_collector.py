"""The Discord collector end to end against the fake Discord (tests/fakes/discord), with the
real py-cord client: messages and slash commands in, answers out, rate limits and a dropped
gateway connection."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from tests.fakes.discord import FakeDiscord
from tests.fakes.discord.model import Callback, Guild, Interaction, User
from tests.fakes.discord.wire import SEND_MESSAGES
from tests.support.connections import links, reported, states
from tests.support.harness import make_settings, serving
from waddlebot.infra import metrics
from waddlebot.infra.assignment import assign
from waddlebot.platforms import DISCORD
from waddlebot.platforms.discord.interactions import PATH as INTERACTIONS
from waddlebot.runtime import Runtime
from waddlebot.settings import Settings


@dataclass
class World:
    fake: FakeDiscord
    runtime: Runtime
    guild: Guild
    alice: User
    owner: User
    general: str
    interactions: str  # the HTTP interactions endpoint


@pytest.fixture
def more_settings() -> dict[str, Any]:
    """Settings a test module adds to the world's (another module overrides this fixture)."""
    return {}


@pytest.fixture
async def world(
    tmp_path: Path,
    migrated_postgres_url: str,
    redis_url: str,
    key_prefix: str,
    more_settings: dict[str, Any],
) -> AsyncIterator[World]:
    """The distributed mode (PostgreSQL and Redis), so two processes can share the lead."""
    async with FakeDiscord() as fake:
        owner = fake.add_user(username="olga")
        guild = fake.add_guild("Waddle Den", owner=owner, channels=("general",))
        alice = fake.add_user(username="alice")
        guild.add_member(alice)
        settings = make_settings(
            database_url=migrated_postgres_url,
            redis_url=redis_url,
            stream_prefix=key_prefix,
            auto_migrate=True,
            data_dir=str(tmp_path),
            discord_token=fake.token,
            discord_application_id=fake.application_id,
            discord_api_url=fake.api_url,
            discord_guild_ready_timeout=0.05,
            discord_public_key=fake.public_key,
            discord_inline_wait_seconds=1.5,  # a loaded machine still answers inline
            module_timeout_seconds=5.0,
            assignment_heartbeat_seconds=0.2,
            **more_settings,
        )
        async with serving(settings) as (url, runtime):
            collector = runtime.collector(DISCORD)
            assert collector is not None
            await fake.wait_until(collector.is_ready, what="the collector ready")
            general = next(c for c in guild.channels.values() if c.name == "general")
            yield World(fake, runtime, guild, alice, owner, general.id, f"{url}{INTERACTIONS}")


async def test_a_message_with_ping_is_answered_in_the_channel(world: World) -> None:
    said = await world.fake.post_message(world.general, world.alice, "!ping")
    (answer,) = await world.fake.wait_for_sent(1, world.general)
    assert answer.content == "pong"
    assert answer.message_reference is not None
    assert answer.message_reference["message_id"] == said["id"]


def first_response(world: World, interaction: Interaction) -> Callback:
    (callback,) = [c for c in world.fake.callbacks if c.interaction_id == interaction.id]
    return callback


async def test_a_fast_slash_command_through_the_gateway_is_answered_inline(world: World) -> None:
    interaction = await world.fake.slash_command("ping", channel=world.general, user=world.alice)
    await world.fake.wait_until(lambda: interaction.acknowledged, what="a response")
    callback = first_response(world, interaction)
    assert (callback.type, callback.data["content"]) == (4, "pong")
    assert callback.accepted
    assert world.fake.followups(interaction) == []  # not sent twice


async def test_a_slow_module_gets_a_deferred_response_then_a_follow_up(world: World) -> None:
    interaction = await world.fake.slash_command(
        "slow",
        channel=world.general,
        user=world.alice,
        options=[{"type": 3, "name": "seconds", "value": "2.0"}],
    )
    await world.fake.wait_until(lambda: world.fake.followups(interaction), what="a follow-up")
    assert first_response(world, interaction).type == 5  # "thinking..." within the 3 s
    assert [m.content for m in world.fake.followups(interaction)] == ["finally"]


async def test_a_module_slower_than_three_seconds_is_deferred_in_time(world: World) -> None:
    """With the default wait: the fake refuses a first response after Discord's 3 s."""
    collector = world.runtime.collector(DISCORD)
    assert collector is not None
    collector.inline_wait = Settings.model_fields["discord_inline_wait_seconds"].default
    interaction = await world.fake.slash_command(
        "slow",
        channel=world.general,
        user=world.alice,
        options=[{"type": 3, "name": "seconds", "value": "3.2"}],
    )
    await world.fake.wait_until(
        lambda: world.fake.followups(interaction), what="a follow-up", timeout=10
    )
    deferral = first_response(world, interaction)
    assert (deferral.type, deferral.accepted) == (5, True)
    assert [m.content for m in world.fake.followups(interaction)] == ["finally"]


async def test_an_answer_longer_than_a_message_is_deferred_and_follows_in_parts(
    world: World,
) -> None:
    text = " ".join(["waddle"] * 400)  # 2,799 characters: two messages
    interaction = await world.fake.slash_command(
        "echo",
        channel=world.general,
        user=world.alice,
        options=[{"type": 3, "name": "text", "value": text}],
    )
    await world.fake.wait_until(
        lambda: len(world.fake.followups(interaction)) == 2, what="two follow-ups"
    )
    assert first_response(world, interaction).type == 5
    parts = [m.content for m in world.fake.followups(interaction)]
    assert " ".join(parts) == text
    assert all(len(part) <= 2000 for part in parts)


async def test_a_429_is_waited_out_and_the_message_still_arrives(world: World) -> None:
    world.fake.force_429("POST /channels/{channel_id}/messages", 1, retry_after=0.2)
    await world.fake.post_message(world.general, world.alice, "!echo still here")
    (answer,) = await world.fake.wait_for_sent(1, world.general)
    assert answer.content == "still here"


async def test_a_dropped_gateway_resumes_without_losing_what_came_meanwhile(
    world: World,
) -> None:
    with world.fake.gateway_held():
        await world.fake.drop_connection()
        await world.fake.post_message(world.general, world.alice, "!echo while away")
    await world.fake.wait_for_resume()
    (answer,) = await world.fake.wait_for_sent(1, world.general)
    assert answer.content == "while away"


async def test_user_text_never_pings_everyone(world: World) -> None:
    await world.fake.post_message(world.general, world.alice, "!echo @everyone look")
    (answer,) = await world.fake.wait_for_sent(1, world.general)
    assert answer.content == "@everyone look"
    assert "everyone" not in (answer.allowed_mentions or {}).get("parse", [])


async def test_user_text_pings_nobody_but_the_person_answered(world: World) -> None:
    bob = world.fake.add_user(username="bob")
    world.guild.add_member(bob)
    await world.fake.post_message(world.general, world.alice, f"!echo <@{bob.id}> wake up")
    (answer,) = await world.fake.wait_for_sent(1, world.general)
    assert answer.content == f"<@{bob.id}> wake up"  # shown, not pinged
    assert answer.mentions == [world.alice.id]  # the reply pings only the person it answers


async def test_a_slash_command_over_the_signed_http_endpoint_is_answered(world: World) -> None:
    interaction, result = await world.fake.send_interaction(
        world.interactions,
        "echo",
        channel=world.general,
        user=world.alice,
        options=[{"type": 3, "name": "text", "value": "over http"}],
    )
    assert result.status == 200
    assert result.json["type"] == 4  # answered in the HTTP response itself
    assert result.json["data"]["content"] == "over http"
    original = world.fake.original_response(interaction)
    assert original is not None and original.content == "over http"


async def test_a_slow_module_over_the_http_endpoint_is_deferred_then_follows(
    world: World,
) -> None:
    interaction, result = await world.fake.send_interaction(
        world.interactions,
        "slow",
        channel=world.general,
        user=world.alice,
        options=[{"type": 3, "name": "seconds", "value": "2.0"}],
    )
    assert (result.status, result.text) == (200, '{"type":5}')
    await world.fake.wait_until(lambda: world.fake.followups(interaction), what="a follow-up")
    assert [m.content for m in world.fake.followups(interaction)] == ["finally"]


async def test_the_endpoint_refuses_what_discord_would_not_send(world: World) -> None:
    sender, url = world.fake.interactions, world.interactions
    assert (await sender.ping(url)).text == '{"type":1}'
    for refused in (sender.bad_signature, sender.tampered, sender.unsigned):
        assert (await refused(url)).status == 401
    assert (await sender.garbage_signature(url)).status == 401
    body = json.dumps({"type": 1, "id": "1", "token": "t"}).encode()
    replayed = await sender.send_raw(url, body, timestamp=str(int(time.time()) - 3600))
    assert replayed.status == 401  # signed, but an hour old
    assert (await sender.unknown_type(url)).status == 400
    assert (await sender.malformed(url)).status == 400


async def test_the_module_commands_become_slash_commands(world: World) -> None:
    collector = world.runtime.collector(DISCORD)
    assert collector is not None
    specs = [route.spec for route in world.runtime.registry.routes()]
    made = await collector.sync_commands(specs, guild_id=world.guild.id)
    registered = {c.name for c in world.fake.commands(world.guild)}
    assert {"ping", "help", "echo", "alias", "timer"} <= registered
    assert registered == {c["name"] for c in made.commands}


async def test_a_private_answer_to_a_slash_command_is_ephemeral(world: World) -> None:
    interaction = await world.fake.slash_command("secret", channel=world.general, user=world.alice)
    await world.fake.wait_until(lambda: interaction.acknowledged, what="a response")
    callback = first_response(world, interaction)
    assert (callback.type, callback.data["content"]) == (4, "psst")
    assert callback.data["flags"] & 64  # only alice sees it
    original = world.fake.original_response(interaction)
    assert original is not None and original.ephemeral
    assert world.fake.dms(world.alice) == []


async def test_a_private_answer_after_a_deferral_goes_by_dm(world: World) -> None:
    """A follow-up is as public as its deferral was, so a late private answer goes by DM."""
    collector = world.runtime.collector(DISCORD)
    assert collector is not None
    collector.inline_wait = 0.0  # no time to answer inline
    interaction = await world.fake.slash_command("secret", channel=world.general, user=world.alice)
    await world.fake.wait_until(lambda: world.fake.followups(interaction), what="a follow-up")
    assert first_response(world, interaction).type == 5
    assert [m.content for m in world.fake.followups(interaction)] == [
        "I sent you the answer by private message."
    ]
    assert [m.content for m in world.fake.dms(world.alice)] == ["psst"]


async def test_a_community_gives_its_own_discord_roles_a_level(world: World) -> None:
    mods = world.guild.add_role("Mods")  # no moderation permission of its own
    bob = world.fake.add_user(username="bob")
    world.guild.add_member(bob, [mods.id])
    await world.fake.post_message(world.general, bob, "!modonly")
    (refused,) = await world.fake.wait_for_sent(1, world.general)
    assert refused.content == "@bob, !modonly is for moderator level and up."
    await world.fake.post_message(
        world.general, world.owner, f"!community rolelevel <@&{mods.id}> moderator"
    )
    (answer,) = (await world.fake.wait_for_sent(2, world.general))[1:]
    assert answer.content == f"<@&{mods.id}> now gives moderator level here."
    assert answer.allowed_mentions is not None  # the role is shown, never pinged
    assert "roles" not in answer.allowed_mentions.get("parse", [])
    await world.fake.post_message(world.general, bob, "!modonly")
    (granted,) = (await world.fake.wait_for_sent(3, world.general))[2:]
    assert granted.content == "hello moderator bob"


async def test_a_stopping_collector_ends_its_gateway_session_cleanly(world: World) -> None:
    collector = world.runtime.collector(DISCORD)
    assert collector is not None
    session = world.fake.session()
    (connection,) = [c for c in world.fake.gateway.connections if c.session is session]
    with capture_logs() as logs:
        await collector.stop()  # hands its shard over, as on a rebalance
    await world.fake.wait_until(connection.gone.is_set, what="the connection ended")
    # a close frame saying 1000, from the bot: Discord ends the session, nothing is left
    # to resume (py-cord on its own cut the socket and tried a RESUME, logged as an error)
    assert (connection.close_code, connection.closed_by) == (1000, "client")
    assert not session.resumable
    assert [e["event"] for e in logs if e["log_level"] in ("error", "critical")] == []
    assert not session.resumes


async def test_with_two_discord_processes_one_sends(world: World) -> None:
    settings = world.runtime.settings.model_copy(update={"router_consumer": "second"})
    second = await Runtime.start(settings, services=("discord",))
    try:
        first_discord, second_discord = world.runtime.collector(DISCORD), second.collector(DISCORD)
        assert first_discord is not None and second_discord is not None
        assert (first_discord.leading, second_discord.leading) == (True, False)
        # the one shard settles on the replica the assignment names (by their random names)
        share = assign([first_discord.member, second_discord.member], ["0"])
        holder, other = (
            (first_discord, second_discord)
            if share[first_discord.member]
            else (second_discord, first_discord)
        )
        await world.fake.wait_until(
            lambda: holder.shards == [0] and holder.is_ready() and not other.shards,
            what="the shard on its replica",
        )
        await world.fake.post_message(world.general, world.alice, "!ping")
        (answer,) = await world.fake.wait_for_sent(1, world.general)
        assert answer.content == "pong"  # sent by the leader, whoever keeps the shard
        await first_discord.stop()  # the sender goes away; the other takes over
        assert await second_discord.try_lead()
        # and the gateway shard: handed over at the other's next heartbeat
        await world.fake.wait_until(second_discord.is_ready, what="the shard taken over")
        assert second_discord.shards == [0]
        await world.fake.post_message(world.general, world.alice, "!echo still answered")
        answers = await world.fake.wait_for_sent(2, world.general)
        assert [m.content for m in answers] == ["pong", "still answered"]
    finally:
        await second.stop()


def guild_id_on_shard(shard: int, shard_count: int = 2) -> str:
    """A snowflake that Discord routes to ``shard`` (``(id >> 22) % shard_count``)."""
    return str((1_000 * shard_count + shard) << 22)


async def test_two_shard_processes_split_the_guilds_and_both_answer(
    tmp_path: Path, migrated_postgres_url: str, redis_url: str, key_prefix: str
) -> None:
    async with FakeDiscord() as fake:
        alice = fake.add_user(username="alice")
        guilds = [
            fake.add_guild(f"Den {shard}", guild_id=guild_id_on_shard(shard), owner=alice)
            for shard in (0, 1)
        ]
        channels = [next(iter(g.channels.values())).id for g in guilds]
        base = make_settings(
            database_url=migrated_postgres_url,
            redis_url=redis_url,
            stream_prefix=key_prefix,
            auto_migrate=True,
            data_dir=str(tmp_path),
            discord_token=fake.token,
            discord_application_id=fake.application_id,
            discord_api_url=fake.api_url,
            discord_guild_ready_timeout=0.05,
            discord_shard_count=2,
        )
        first = await Runtime.start(base.model_copy(update={"discord_shard_id": 0}))
        second = await Runtime.start(
            base.model_copy(update={"discord_shard_id": 1, "router_consumer": "second"}),
            services=("discord",),
        )
        try:
            for runtime in (first, second):
                collector = runtime.collector(DISCORD)
                assert collector is not None
                await fake.wait_until(collector.client.is_ready, what="both shards ready")
            assert sorted(s.shard for s in fake.sessions) == [(0, 2), (1, 2)]
            for channel in channels:
                await fake.post_message(channel, alice, "!ping")
            for channel in channels:
                (answer,) = await fake.wait_for_sent(1, channel)
                assert answer.content == "pong"
            for session in fake.sessions:  # each shard saw its own guild's message only
                seen = {d["d"]["guild_id"] for d in session.dispatches("MESSAGE_CREATE")}
                assert seen <= {guilds[session.shard[0]].id}
                assert guilds[session.shard[0]].id in seen
        finally:
            await second.stop()
            await first.stop()


async def test_a_channel_that_refuses_the_bot_is_not_tried_again_and_again(world: World) -> None:
    """Discord bans bots that make thousands of invalid requests: after a 403 in a channel,
    the replies meant for it are logged and counted, not sent into the same refusal."""
    quiet = world.guild.add_channel("announcements")
    world.guild.set_overwrite(quiet.id, world.guild.id, deny=SEND_MESSAGES)  # @everyone
    refused = metrics.DELIVERED.labels("discord", "refused")
    before = refused._value.get()
    for _ in range(5):
        await world.fake.post_message(quiet.id, world.alice, "!ping")
    await world.fake.wait_until(
        lambda: refused._value.get() - before >= 5, what="five replies refused"
    )
    assert world.fake.sent(quiet.id) == []
    assert len(world.fake.invalid_requests) == 1


async def test_the_gateway_shards_state_is_reported_and_follows_a_drop(world: World) -> None:
    ports = world.runtime.ports
    (ready,) = links(await reported(ports, "discord", lambda r: states(r) == ["ready"]))
    assert ready.name == "shard 0" and ready.session == world.fake.session().id
    assert ready.covers == (f"discord:{world.guild.id}",)  # which servers it carries
    with world.fake.gateway_held():  # the next connection waits before its HELLO
        await world.fake.drop_connection()
        await reported(ports, "discord", lambda r: states(r) == ["disconnected"])
    await world.fake.wait_for_resume()
    (back,) = links(await reported(ports, "discord", lambda r: states(r) == ["ready"]))
    assert back.session == ready.session  # resumed, not identified anew
    assert back.since is not None and ready.since is not None and back.since > ready.since
