"""The Twitch collector end to end against the fake Twitch (tests/fakes/twitch): accounts
connected through the OAuth flow, subscriptions made, EventSub deliveries over webhooks and
over the WebSocket, answers sent through Helix; and the webhook's refusals."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
from prometheus_client import REGISTRY
from structlog.testing import capture_logs

from tests.fakes.twitch import FakeTwitch, payloads
from tests.fakes.twitch.webhook import WebhookSender, challenge, notification, revocation
from tests.support.connections import links, reported, states
from tests.support.harness import chat_event, free_port, make_settings, say, serving, until
from tests.support.twitch_channels import not_served_once
from waddlebot.core.events import EventType
from waddlebot.infra import keys, metrics
from waddlebot.infra.codec import decode_envelope, encode_envelope
from waddlebot.infra.connections import Report
from waddlebot.infra.secretbox import SecretBox
from waddlebot.platforms import TWITCH
from waddlebot.platforms.twitch import collector as twitch_collector
from waddlebot.runtime import Runtime

SECRET = "s3cret-for-eventsub-tests"
API_KEY = "wb-test-service-key"
BOT, STREAMER, VIEWER = "9001", "1337", "4242"


@dataclass
class World:
    twitch: FakeTwitch
    url: str
    runtime: Runtime
    http: httpx2.AsyncClient
    client_id: str

    @property
    def webhook(self) -> str:
        return f"{self.url}/collectors/twitch/eventsub"

    def link(self, purpose: str, community: int | None = None) -> str:
        twitch = self.runtime.collector(TWITCH)
        assert twitch is not None
        return twitch.connect.ticket_url(purpose=purpose, community_id=community, actor="test")

    async def connect(
        self, user_id: str, *, community: int | None = None, purpose: str = ""
    ) -> httpx2.Response:
        """Go through the OAuth flow as ``user_id``, as a browser would."""
        purpose = purpose or ("bot" if community is None else "broadcaster")
        self.twitch.authorize_as(user_id)
        return await self.http.get(self.link(purpose, community), follow_redirects=True)

    async def replies(self) -> list[Any]:
        return self.twitch.sent_chat(STREAMER)


@pytest.fixture(params=["webhook", "websocket"])
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def extra_settings() -> dict[str, Any]:
    """Settings a test changes (by parametrizing this name)."""
    return {}


@pytest.fixture
async def world(
    transport: str,
    extra_settings: dict[str, Any],
    tmp_path: Path,
    migrated_postgres_url: str,
    redis_url: str,
    key_prefix: str,
) -> AsyncIterator[World]:
    async with FakeTwitch(ws_keepalive_bounds=(1, 600)) as twitch:
        port = free_port()
        public = f"http://127.0.0.1:{port}"
        client = twitch.register_client(
            redirect_uris=[f"{public}/collectors/twitch/oauth/callback"]
        )
        twitch.add_user(BOT, "waddlebot", "WaddleBot")
        twitch.add_user(STREAMER, "streamer", "Streamer")
        twitch.add_user(VIEWER, "viewer", "Viewer")
        settings = make_settings(
            database_url=migrated_postgres_url,
            redis_url=redis_url,
            stream_prefix=key_prefix,
            auto_migrate=True,
            data_dir=str(tmp_path),
            secret_keys=SecretBox.generate_key(),
            api_key=API_KEY,
            twitch_client_id=client.client_id,
            twitch_client_secret=client.secret,
            twitch_transport=transport,
            twitch_public_url=public,
            twitch_eventsub_secret=SECRET,
            twitch_helix_url=twitch.helix_url,
            twitch_auth_url=twitch.auth_url,
            twitch_eventsub_ws_url=twitch.eventsub_ws_url + "?keepalive_timeout_seconds=10",
            **extra_settings,
        )
        async with serving(settings, port=port) as (url, runtime), httpx2.AsyncClient() as http:
            yield World(twitch, url, runtime, http, client.client_id)
        await twitch.settle()


async def _connected(world: World) -> None:
    """The bot account and the streamer's channel (into the streamer's community)."""
    page = await world.connect(BOT)
    assert page.status_code == 200 and "is connected (bot)" in page.text
    community = await world.runtime.directory.resolve_entity(f"twitch:{STREAMER}", "twitch")
    page = await world.connect(STREAMER, community=community.community_id)
    assert page.status_code == 200 and "is connected (broadcaster)" in page.text
    twitch = world.runtime.collector(TWITCH)
    assert twitch is not None
    if twitch.transport == "webhook":
        report = await twitch.sync_subscriptions()
        assert not report.failed
    await until(
        lambda: len(world.twitch.subscriptions(status="enabled")) >= 10  # 9 + whispers
    )


async def test_a_chat_command_is_answered_in_the_channel(world: World) -> None:
    await _connected(world)
    chat = payloads.chat_message(broadcaster=STREAMER, chatter=VIEWER, text="!ping")
    await world.twitch.emit("channel.chat.message", chat)
    await until(lambda: any(m.text == "pong" for m in world.twitch.sent_chat(STREAMER)))
    (answer,) = [m for m in world.twitch.sent_chat(STREAMER) if m.text == "pong"]
    assert answer.sender_id == BOT
    assert answer.reply_parent_message_id == chat["message_id"]


async def test_a_follow_reaches_a_listening_module(world: World) -> None:
    await _connected(world)
    await world.twitch.emit("channel.follow", payloads.follow(broadcaster=STREAMER, user=VIEWER))
    await until(
        lambda: any("thanks for the follow" in m.text for m in world.twitch.sent_chat(STREAMER))
    )


@pytest.mark.parametrize("transport", ["webhook"], indirect=True)
@pytest.mark.parametrize("extra_settings", [{"bus_maxlen": 3}])
async def test_the_webhook_answers_503_while_the_router_is_behind_and_takes_the_retry(
    world: World,
) -> None:
    """Twitch sends a delivery again after a non-2xx: refused while more than
    ``WADDLEBOT_BUS_MAXLEN`` events wait, it is taken once the backlog is down."""
    bus = world.runtime.ports.bus
    # a consumer group that reads only when the test says: the slowest reader of events
    await bus.ensure_group(keys.EVENTS_STREAM, "laggard")
    waiting = [chat_event("hello", message_id=f"earlier-{i}") for i in range(4)]
    await bus.publish(keys.EVENTS_STREAM, [encode_envelope(e) for e in waiting])
    refusals = metrics.EVENTS_REFUSED.labels("twitch")._value.get()
    subscription = payloads.example("channel.follow")["subscription"]
    follow = notification(subscription, payloads.example_event("channel.follow"))
    async with WebhookSender() as sender:
        refused = await sender.send(world.webhook, SECRET, follow)
        assert refused.status == 503, refused.body
        assert refused.response_headers["retry-after"] == "5"
        assert "the router is behind: 4 events waiting" in refused.body
        assert metrics.EVENTS_REFUSED.labels("twitch")._value.get() == refusals + 1

        caught_up = await bus.read(keys.EVENTS_STREAM, "laggard", "test", 10, 0)
        await bus.ack(keys.EVENTS_STREAM, "laggard", [m.id for m in caught_up])
        again = refused
        async with asyncio.timeout(10):
            while not again.ok:  # as Twitch does, with the same message id
                assert again.status == 503, again.body
                await asyncio.sleep(0.05)
                again = await sender.redeliver(world.webhook, SECRET, again)
        assert again.status == 204
    (taken,) = await bus.read(keys.EVENTS_STREAM, "laggard", "test", 10, 0)
    assert decode_envelope(taken.data).event.type == EventType.FOLLOW


@pytest.mark.parametrize("transport", ["webhook"], indirect=True)
async def test_the_webhook_refuses_what_twitch_would_not_send(world: World) -> None:
    subscription = payloads.example("channel.follow")["subscription"]
    event = payloads.example_event("channel.follow")
    follow = notification(subscription, event)
    async with WebhookSender() as sender:
        good = await sender.send(world.webhook, SECRET, follow)
        assert good.status == 204
        again = await sender.redeliver(world.webhook, SECRET, good)
        assert again.status == 204  # acknowledged, not processed twice
        forged = await sender.send_bad_signature(world.webhook, SECRET, follow)
        assert forged.status == 403
        stale = await sender.send_stale(world.webhook, SECRET, notification(subscription, event))
        assert stale.status == 400
        broken = await sender.send_malformed(world.webhook, SECRET, subscription)
        assert broken.status == 400
        unknown = notification({**subscription, "type": "channel.ban"}, event)
        assert (await sender.send(world.webhook, SECRET, unknown)).status == 400
        message, text = challenge(subscription)
        answered = await sender.send(world.webhook, SECRET, message)
        assert (answered.status, answered.body) == (200, text)
        revoked = revocation({**subscription, "status": "authorization_revoked"})
        assert (await sender.send(world.webhook, SECRET, revoked)).status == 204
    events = await world.runtime.ports.bus.length(keys.EVENTS_STREAM)
    assert events == 1  # the good follow once; the redelivery and the refused ones not at all
    status = await world.http.get(
        f"{world.url}/api/v1/twitch/status",
        headers={"Authorization": f"Bearer {API_KEY}"},
    )
    listed = {s["id"]: s["status"] for s in status.json()["subscriptions"]}
    assert listed[subscription["id"]] == "authorization_revoked"


@pytest.mark.parametrize("transport", ["websocket"], indirect=True)
async def test_a_websocket_reconnect_loses_no_event(world: World) -> None:
    await _connected(world)
    texts = [f"!echo n{n}" for n in range(20)]
    emitting = asyncio.gather(
        *(
            world.twitch.emit(
                "channel.chat.message",
                payloads.chat_message(broadcaster=STREAMER, chatter=VIEWER, text=text),
            )
            for text in texts
        )
    )
    await world.twitch.ws_reconnect()
    await emitting
    await until(lambda: len(world.twitch.sent_chat(STREAMER)) >= 20, timeout=60)
    answered = sorted(m.text for m in world.twitch.sent_chat(STREAMER))
    assert answered == sorted(f"n{n}" for n in range(20))


async def test_the_oauth_state_cannot_be_forged_or_replayed(world: World) -> None:
    bad = await world.http.get(
        f"{world.url}/collectors/twitch/oauth/callback", params={"code": "x", "state": "forged"}
    )
    assert bad.status_code == 400 and "not valid" in bad.text
    denied = await world.http.get(
        f"{world.url}/collectors/twitch/oauth/callback",
        params={"error": "access_denied", "error_description": "The user denied you access"},
    )
    assert denied.status_code == 400 and "denied" in denied.text
    expired = await world.http.get(
        f"{world.url}/collectors/twitch/oauth/start", params={"ticket": "nope"}
    )
    assert expired.status_code == 400


async def test_a_verification_code_is_whispered_and_verified_in_chat(world: World) -> None:
    await _connected(world)
    hello = payloads.chat_message(broadcaster=STREAMER, chatter=VIEWER, text="hi all")
    await world.twitch.emit("channel.chat.message", hello)  # WaddleBot now knows the viewer
    async with asyncio.timeout(10):  # until the router has seen the viewer say hello
        while await world.runtime.identity.find_user("twitch", VIEWER) is None:
            await asyncio.sleep(0.02)
    assert await say(world.runtime, f"!identity link twitch {VIEWER}", user="vic") == [
        "I sent a code to your twitch account by private message. "
        "Type !verify <code> there within 10 minutes."
    ]
    await until(lambda: bool(world.twitch.whispers))
    (whisper,) = world.twitch.whispers
    assert (whisper.from_user_id, whisper.to_user_id) == (BOT, VIEWER)
    code = whisper.text.split("!verify ")[1].split()[0]
    verify = payloads.chat_message(broadcaster=STREAMER, chatter=VIEWER, text=f"!verify {code}")
    await world.twitch.emit("channel.chat.message", verify)
    await until(lambda: any("Linked!" in m.text for m in world.twitch.sent_chat(STREAMER)))


@pytest.mark.parametrize("transport", ["webhook"], indirect=True)
async def test_sync_replaces_revoked_subscriptions(world: World) -> None:
    await _connected(world)
    (raids,) = world.twitch.subscriptions(type_="channel.raid")
    await world.twitch.revoke_subscription(raids.id, "authorization_revoked")
    twitch = world.runtime.collector(TWITCH)
    assert twitch is not None
    report = await twitch.sync_subscriptions()
    assert report.removed == ["channel.raid (authorization_revoked)"]
    assert report.created == ["channel.raid"] and not report.failed
    await until(
        lambda: [s.status for s in world.twitch.subscriptions(type_="channel.raid")] == ["enabled"]
    )


async def test_the_streamers_own_account_can_be_the_bot(world: World) -> None:
    community = await world.runtime.directory.resolve_entity(f"twitch:{STREAMER}", "twitch")
    page = await world.connect(STREAMER, community=community.community_id, purpose="both")
    assert page.status_code == 200 and "is connected (both)" in page.text
    twitch = world.runtime.collector(TWITCH)
    assert twitch is not None and twitch.bot_user_id == STREAMER
    if twitch.transport == "webhook":
        assert not (await twitch.sync_subscriptions()).failed
    await until(lambda: len(world.twitch.subscriptions(status="enabled")) >= 10)
    chat = payloads.chat_message(broadcaster=STREAMER, chatter=VIEWER, text="!ping")
    await world.twitch.emit("channel.chat.message", chat)
    await until(lambda: any(m.text == "pong" for m in world.twitch.sent_chat(STREAMER)))


@pytest.mark.parametrize("transport", ["webhook"], indirect=True)
async def test_a_connect_link_works_once(world: World) -> None:
    link = world.link("bot")
    world.twitch.authorize_as(BOT)
    assert (await world.http.get(link, follow_redirects=True)).status_code == 200
    again = await world.http.get(link, follow_redirects=True)
    assert again.status_code == 400 and "used already" in again.text


async def test_two_twitch_processes_answer_once_and_take_over(world: World) -> None:
    """Every process takes webhooks, one (holding a lease) sends and keeps the sockets."""
    await _connected(world)
    settings = world.runtime.settings.model_copy(update={"router_consumer": "second"})
    second = await Runtime.start(settings, services=("twitch",))
    try:
        first_twitch, second_twitch = world.runtime.collector(TWITCH), second.collector(TWITCH)
        assert first_twitch is not None and second_twitch is not None
        assert (first_twitch.leading, second_twitch.leading) == (True, False)
        assert second_twitch.bot_user_id == BOT  # read from the database, not passed along
        for n in range(5):
            chat = payloads.chat_message(broadcaster=STREAMER, chatter=VIEWER, text=f"!echo {n}")
            await world.twitch.emit("channel.chat.message", chat)
        await until(lambda: len(world.twitch.sent_chat(STREAMER)) >= 5)
        await first_twitch.stop()  # the leader goes away (and gives the lease up)
        await second_twitch.try_lead()
        assert second_twitch.leading
        # with websockets the new leader's sessions subscribe afresh (Twitch disabled the old
        # leader's subscriptions when its connections closed)
        await until(lambda: len(world.twitch.subscriptions(status="enabled")) >= 10)
        chat = payloads.chat_message(broadcaster=STREAMER, chatter=VIEWER, text="!echo after")
        await world.twitch.emit("channel.chat.message", chat)
        await until(lambda: any(m.text == "after" for m in world.twitch.sent_chat(STREAMER)))
        assert sorted(m.text for m in world.twitch.sent_chat(STREAMER)) == [
            "0",
            "1",
            "2",
            "3",
            "4",
            "after",
        ]
    finally:
        await second.stop()


@pytest.mark.parametrize("transport", ["websocket"], indirect=True)
async def test_websocket_channels_are_shared_and_move_when_a_process_stops(world: World) -> None:
    """Each process subscribes its share of the channels on sessions of its own; the share
    of one that stops moves to the other; every line is answered once all along."""
    others = ["5001", "5002"]
    await _connected(world)
    for user in others:
        world.twitch.add_user(user, f"streamer{user}")
        community = await world.runtime.directory.resolve_entity(f"twitch:{user}", "twitch")
        page = await world.connect(user, community=community.community_id)
        assert page.status_code == 200
    channels = [STREAMER, *others]
    items = {"whispers", *(f"channel:{c}" for c in channels)}
    settings = world.runtime.settings.model_copy(update={"router_consumer": "second"})
    second = await Runtime.start(settings, services=("twitch",))
    first_twitch, second_twitch = world.runtime.collector(TWITCH), second.collector(TWITCH)
    assert first_twitch is not None and second_twitch is not None
    try:
        await until(
            lambda: (
                len(first_twitch.channels.held) == len(second_twitch.channels.held) == 2
                and set(first_twitch.channels.held) | set(second_twitch.channels.held) == items
                and not not_served_once(world.twitch, BOT, channels)
            ),
            timeout=30,
        )
        await _echo_once_in_each(world, channels, "shared")
    finally:
        await second.stop()
    await until(
        lambda: (
            set(first_twitch.channels.held) == items
            and not not_served_once(world.twitch, BOT, channels)
        ),
        timeout=30,
    )
    await _echo_once_in_each(world, channels, "alone")
    assert world.twitch.twin_subscriptions == []


async def _echo_once_in_each(world: World, channels: list[str], text: str) -> None:
    for channel in channels:
        chat = payloads.chat_message(broadcaster=channel, chatter=VIEWER, text=f"!echo {text}")
        deliveries = await world.twitch.emit("channel.chat.message", chat)
        assert [d.delivered for d in deliveries] == [True]
    await until(lambda: all(_said(world, c, text) for c in channels))
    assert all(_said(world, c, text) == 1 for c in channels)


def _said(world: World, channel: str, text: str) -> int:
    return sum(m.text == text for m in world.twitch.sent_chat(channel))


@pytest.mark.parametrize("transport", ["webhook"], indirect=True)
async def test_a_process_without_a_bot_account_says_so_once(world: World) -> None:
    """Not at every look a following process takes at the database (every few seconds)."""
    settings = world.runtime.settings.model_copy(update={"router_consumer": "second"})
    with capture_logs() as logs:
        second = await Runtime.start(settings, services=("twitch",))
        try:
            twitch = second.collector(TWITCH)
            assert twitch is not None and not twitch.leading
            for _ in range(3):
                await twitch.try_lead()  # follows: reads the bot account again
        finally:
            await second.stop()
    told = [e for e in logs if "no Twitch bot account" in str(e.get("event"))]
    assert len(told) == 1
    assert "waddlebot twitch connect --bot" in told[0]["event"]


@pytest.fixture
def chores_every_round(monkeypatch: pytest.MonkeyPatch) -> None:
    """The lead renewed every 50 ms and the streams' poll due at each renewal."""
    monkeypatch.setattr(twitch_collector, "LEAD_SECONDS", 0.05)
    monkeypatch.setattr(twitch_collector, "STREAM_POLL_SECONDS", 0.0)


@pytest.mark.parametrize("transport", ["webhook"], indirect=True)
async def test_the_leader_does_its_chores_again_when_they_are_due(
    chores_every_round: None, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The streams' poll (and the hourly validation) come round while the process leads,
    not only once at its start: the leadership's own loop runs them."""
    twitch = world.runtime.collector(TWITCH)
    assert twitch is not None and twitch.leading
    polls: list[float] = []

    async def poll() -> None:
        polls.append(asyncio.get_running_loop().time())

    monkeypatch.setattr(twitch, "poll_streams", poll)
    await until(lambda: len(polls) >= 3)


@pytest.mark.parametrize("transport", ["websocket"], indirect=True)
async def test_a_stream_live_before_it_was_connected_is_found_live(world: World) -> None:
    """No stream.online ever came (the channel went live before WaddleBot listened): the
    leader's poll of Helix finds it, for timers and $(uptime) / $(game) alike."""
    await world.twitch.go_live(STREAMER, game_name="Celeste", emit=False)
    await _connected(world)
    twitch = world.runtime.collector(TWITCH)
    assert twitch is not None
    await twitch.poll_streams()
    place = f"twitch:{STREAMER}"
    await _wait_for_live(world, place, True)
    for text in ("!addcom !up Live for $(uptime), playing $(game)", "!up"):
        said = payloads.chat_message(
            broadcaster=STREAMER, chatter=STREAMER, badges=["broadcaster"], text=text
        )
        await world.twitch.emit("channel.chat.message", said)
    await until(lambda: any("playing Celeste" in m.text for m in world.twitch.sent_chat(STREAMER)))
    await world.twitch.go_offline(STREAMER, emit=False)
    await twitch.poll_streams()
    await _wait_for_live(world, place, False)


async def _wait_for_live(world: World, place: str, live: bool) -> None:
    async with asyncio.timeout(10):
        while ((await world.runtime.streams.of(place)).since is not None) != live:
            await asyncio.sleep(0.02)


@pytest.mark.parametrize("transport", ["websocket"], indirect=True)
async def test_the_leader_counts_the_tokens_and_a_refused_one_shows(world: World) -> None:
    """``waddlebot_twitch_tokens`` is what the WaddleBotTwitchTokenInvalid alert reads."""
    await _connected(world)
    twitch = world.runtime.collector(TWITCH)
    assert twitch is not None
    await twitch.count_tokens()
    assert _tokens("bot") == {"ok": 1, "invalid": 0, "missing_scopes": 0}
    assert _tokens("broadcaster") == {"ok": 1, "invalid": 0, "missing_scopes": 0}
    await world.twitch.disconnect_app(world.client_id, BOT)  # the bot's account took it back
    await twitch.tokens.validate_all()
    await twitch.count_tokens()
    assert _tokens("bot") == {"ok": 0, "invalid": 1, "missing_scopes": 0}
    assert _tokens("broadcaster")["ok"] == 1


def _tokens(purpose: str) -> dict[str, float | None]:
    return {
        state: REGISTRY.get_sample_value(
            "waddlebot_twitch_tokens", {"purpose": purpose, "state": state}
        )
        for state in ("ok", "invalid", "missing_scopes")
    }


@pytest.mark.parametrize("transport", ["websocket"], indirect=True)
async def test_the_eventsub_sessions_are_reported_and_a_closed_one_comes_back(
    world: World,
) -> None:
    await _connected(world)
    ports = world.runtime.ports

    def both_ready(found: list[Report]) -> bool:
        return sorted((k.name, k.state) for k in links(found)) == [
            ("bot session", "ready"),
            ("channel session", "ready"),
        ]

    sessions = {k.name: k for k in links(await reported(ports, "twitch", both_ready))}
    bot, own = sessions["bot session"], sessions["channel session"]
    assert bot.covers == own.covers == (f"twitch:{STREAMER}",)
    assert (bot.platform_wide, own.platform_wide) == (True, False)  # own: that channel's only
    assert set(world.twitch.ws_sessions) == {bot.session, own.session}

    await world.twitch.ws_close(bot.session)  # Twitch ends it: a fresh session follows
    await reported(ports, "twitch", lambda r: "disconnected" in states(r))

    def bot_back(found: list[Report]) -> bool:
        return both_ready(found) and bot.session not in {k.session for k in links(found)}

    back = {k.name: k for k in links(await reported(ports, "twitch", bot_back))}
    assert back["bot session"].session in world.twitch.ws_sessions
    assert back["channel session"].session == own.session  # the other one was not touched
