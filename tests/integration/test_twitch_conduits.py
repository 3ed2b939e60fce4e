"""The Twitch collector over an EventSub conduit (``WADDLEBOT_TWITCH_TRANSPORT=conduit``),
end to end against the fake Twitch on PostgreSQL and Redis: the conduit made and its
subscriptions made once, chat through a shard's session answered, the shards split between
two processes and handed over when one stops, and disabled shards pointed at a session again.

The claim rounds run every few seconds by themselves; the tests run them (``claim()``) where
they wait for one, as they run ``try_lead()`` for the lead."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.twitch import payloads
from tests.integration import test_twitch_collector as collector_tests
from tests.integration.test_cli import run
from tests.integration.test_twitch_collector import STREAMER, VIEWER, World, _connected
from tests.support.harness import until
from waddlebot.platforms import TWITCH
from waddlebot.platforms.twitch.collector import TwitchCollector
from waddlebot.runtime import Runtime

SHARDS = 4

world = collector_tests.world  # the collector's world, with the transport below


@pytest.fixture
def transport() -> str:
    return "conduit"


@pytest.fixture
def extra_settings() -> dict[str, Any]:
    return {"twitch_conduit_shards": SHARDS}


def _collector(runtime: Runtime) -> TwitchCollector:
    collector = runtime.collector(TWITCH)
    assert collector is not None
    return collector


def _sessions(world: World) -> dict[str, str]:
    """Shard id -> session id of every enabled shard, as Twitch sees them."""
    return {s.id: s.transport["session_id"] for s in world.twitch.shards(status="enabled")}


def _serving(world: World, *collectors: TwitchCollector) -> bool:
    """Every shard enabled, each on the session of the collector holding it."""
    sessions = _sessions(world)
    held = {shard: c.conduit.session_of(shard) for c in collectors for shard in c.conduit.held}
    return len(sessions) == SHARDS and {str(k): v for k, v in held.items()} == sessions


def _cli_env(world: World) -> dict[str, str]:
    """What ``waddlebot twitch status`` needs to see the running processes' deployment."""
    settings = world.runtime.settings
    names = ("database_url", "redis_url", "stream_prefix", "data_dir", "twitch_client_id")
    names += ("twitch_transport", "twitch_helix_url", "twitch_auth_url")
    env = {f"WADDLEBOT_{name.upper()}": str(getattr(settings, name)) for name in names}
    env["WADDLEBOT_TWITCH_CLIENT_SECRET"] = settings.twitch_client_secret.get_secret_value()
    env["WADDLEBOT_SECRET_KEYS"] = settings.secret_keys[0].get_secret_value()
    return env


async def _answered(world: World, text: str) -> None:
    said = payloads.chat_message(broadcaster=STREAMER, chatter=VIEWER, text=f"!echo {text}")
    await world.twitch.emit("channel.chat.message", said)
    await until(lambda: any(m.text == text for m in world.twitch.sent_chat(STREAMER)))


async def test_chat_arrives_through_the_conduit_and_is_answered(world: World) -> None:
    twitch = _collector(world.runtime)
    await _connected(world)
    (conduit,) = world.twitch.conduit_list(world.client_id)
    assert len(conduit.shards) == SHARDS
    await until(lambda: _serving(world, twitch))
    assert twitch.conduit.held == [0, 1, 2, 3]
    subscriptions = world.twitch.subscriptions(status="enabled")
    assert {s.method for s in subscriptions} == {"conduit"}
    assert {s.transport["conduit_id"] for s in subscriptions} == {conduit.id}
    assert "conduit.shard.disabled" in {s.type for s in subscriptions}

    await _answered(world, "hello")
    (answer,) = [m for m in world.twitch.sent_chat(STREAMER) if m.text == "hello"]
    assert answer.reply_parent_message_id  # answered as the reply to the chat message

    report = await twitch.sync_subscriptions()  # made once: a second sync makes nothing
    assert report.created == [] and not report.failed
    assert len(world.twitch.subscriptions()) == len(subscriptions)


async def test_two_processes_split_the_shards_and_the_survivor_takes_them_all(
    world: World, tmp_path: Path
) -> None:
    first = _collector(world.runtime)
    await _connected(world)
    await until(lambda: _serving(world, first))
    settings = world.runtime.settings.model_copy(update={"router_consumer": "second"})
    other = await Runtime.start(settings, services=("twitch",))
    try:
        second = _collector(other)
        await second.conduit.claim()  # counts itself in; every shard is still held
        await first.conduit.claim()  # sheds down to its fair share
        await second.conduit.claim()  # takes what was shed
        assert len(first.conduit.held) == len(second.conduit.held) == SHARDS // 2
        assert not set(first.conduit.held) & set(second.conduit.held)
        await until(lambda: _serving(world, first, second))
        await _answered(world, "split")
        status = await asyncio.to_thread(run, ["twitch", "status"], tmp_path, _cli_env(world))
        assert status.returncode == 0, status.stdout + status.stderr
        (conduit,) = world.twitch.conduit_list(world.client_id)
        assert f"conduit {conduit.id}: {SHARDS} shards" in status.stdout
        for shard in second.conduit.held:
            session = second.conduit.session_of(shard)
            line = f"shard {shard}: enabled, session {session}, held by second-twitch"
            assert line in status.stdout.splitlines()

        await first.stop()  # the leader goes away, and gives its shards up
        await second.conduit.claim()
        assert second.conduit.held == [0, 1, 2, 3]
        await second.try_lead()
        assert second.leading
        await until(lambda: _serving(world, second))
        await _answered(world, "after")
    finally:
        await other.stop()


async def test_a_disabled_shard_is_pointed_at_a_session_again(world: World) -> None:
    twitch = _collector(world.runtime)
    await _connected(world)
    await until(lambda: _serving(world, twitch))
    (conduit,) = world.twitch.conduit_list(world.client_id)

    # its session ends (a Twitch-side error): the socket starts another, the shard follows it
    before = _sessions(world)
    await world.twitch.ws_close(before["1"], code=4000)
    await until(lambda: _serving(world, twitch) and _sessions(world)["1"] != before["1"])

    # Twitch disables it with the session still open: conduit.shard.disabled comes over
    # another shard, and the shard is pointed at its session again
    world.twitch.disable_shard(conduit.id, "2")
    assert "2" not in _sessions(world)
    await until(lambda: _serving(world, twitch))
    await _answered(world, "still here")
