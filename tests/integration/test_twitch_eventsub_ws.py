"""The EventSub WebSocket client against the fake Twitch over real loopback: welcome and
subscriptions, notifications, a reconnect mid-stream that loses nothing, keepalive silence,
Twitch's close codes, revocations, and callbacks that fail."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx2
import pytest
from structlog.testing import capture_logs

from tests.fakes.twitch import FakeTwitch, Token, payloads
from tests.support.harness import until
from waddlebot.core.events import EventType
from waddlebot.platforms.twitch.eventsub_ws import (
    Backoff,
    EventSubWebSocket,
    describe_close,
    with_keepalive,
)
from waddlebot.platforms.twitch.translate import Notification, translate

BROADCASTER = "1337"
BOT = "9001"
VIEWER = "1234"
SCOPES = ("user:read:chat", "moderator:read:followers")
MOVED = "eventsub websocket moved to the reconnect URL"
STAYING = "eventsub websocket staying on the old connection until Twitch closes it"
WAIT = 10.0  # generous upper bound for anything to happen; never asserted on


@dataclass
class Rig:
    twitch: FakeTwitch
    http: httpx2.AsyncClient
    client_id: str
    token: Token
    ws: EventSubWebSocket
    welcomes: list[str] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)
    revocations: list[dict[str, Any]] = field(default_factory=list)
    # on_welcome creates the subscriptions unless this says no (given the welcome's number)
    subscribe_on: Callable[[int], bool] = lambda _: True
    # on_notification raises whatever this raises, after recording the notification
    check: Callable[[Notification], None] = lambda _: None

    async def on_welcome(self, session_id: str) -> None:
        self.welcomes.append(session_id)
        if self.subscribe_on(len(self.welcomes)):
            await self.subscribe(session_id, "channel.chat.message", user_id=BOT)
            await self.subscribe(session_id, "channel.follow", moderator_user_id=BOT)

    async def on_notification(self, notification: Notification) -> None:
        self.notifications.append(notification)
        self.check(notification)

    async def on_revocation(self, subscription: dict[str, Any]) -> None:
        self.revocations.append(subscription)

    async def subscribe(self, session_id: str, type_: str, **condition: str) -> dict[str, Any]:
        reply = await self.http.post(
            f"{self.twitch.helix_url}/eventsub/subscriptions",
            json={
                "type": type_,
                "version": payloads.version_of(type_),
                "condition": {"broadcaster_user_id": BROADCASTER, **condition},
                "transport": {"method": "websocket", "session_id": session_id},
            },
            headers={
                "Authorization": f"Bearer {self.token.access_token}",
                "Client-Id": self.client_id,
            },
        )
        assert reply.status_code == 202, reply.text
        created: dict[str, Any] = reply.json()["data"][0]
        return created

    def message_ids(self) -> list[str]:
        return [n.message_id for n in self.notifications]

    async def emit_chat(self, text: str = "Hi chat", **overrides: Any) -> str:
        event = payloads.chat_message(broadcaster=BROADCASTER, chatter=VIEWER, text=text)
        event.update(overrides)
        (delivery,) = await self.twitch.emit("channel.chat.message", event)
        assert delivery.message_id is not None
        return delivery.message_id


@contextlib.asynccontextmanager
async def rig(**options: Any) -> AsyncIterator[Rig]:
    """A fake Twitch with fast WebSocket timers (keepalive timeout 1 s, keepalives every
    0.2 s) and a running client; ``options`` go to the fake."""
    options.setdefault("ws_keepalive_interval", 0.2)
    options.setdefault("ws_keepalive_bounds", (1, 600))
    options.setdefault("ws_unused_timeout", 5.0)
    async with FakeTwitch(**options) as twitch, httpx2.AsyncClient(timeout=WAIT) as http:
        client = twitch.register_client()
        twitch.add_user(BROADCASTER, "cooler_user", "Cooler_User")
        twitch.add_user(BOT, "waddlebot", "WaddleBot", moderator_of=[BROADCASTER])
        twitch.add_user(VIEWER, "cool_user", "Cool_User")
        token = twitch.issue_user_token(client.client_id, BOT, *SCOPES)
        made: Rig

        async def on_welcome(session_id: str) -> None:
            await made.on_welcome(session_id)

        async def on_notification(notification: Notification) -> None:
            await made.on_notification(notification)

        async def on_revocation(subscription: dict[str, Any]) -> None:
            await made.on_revocation(subscription)

        ws = EventSubWebSocket(
            twitch.eventsub_ws_url,
            on_notification=on_notification,
            on_revocation=on_revocation,
            on_welcome=on_welcome,
            keepalive_timeout_seconds=1,
            keepalive_margin_seconds=0.5,
            backoff=Backoff(initial=0.01, maximum=0.05, reset_after=60.0),
            name="test",
        )
        made = Rig(twitch, http, client.client_id, token, ws)
        runner = asyncio.create_task(ws.run())
        try:
            yield made
        finally:
            await ws.stop()
            assert runner.done()
            await runner  # run() returned rather than failed


async def ready(r: Rig, welcomes: int = 1) -> str:
    """Wait for the ``welcomes``-th session to be subscribed; its id."""
    await until(lambda: len(r.welcomes) >= welcomes)
    async with asyncio.timeout(WAIT):
        session_id = await r.ws.wait_ready()
    assert session_id == r.welcomes[-1] == r.ws.session_id
    return session_id


def enabled_sessions(twitch: FakeTwitch) -> set[str]:
    return {s.transport["session_id"] for s in twitch.subscriptions(status="enabled")}


# --- welcome and notifications --------------------------------------------------------------


async def test_welcome_creates_subscriptions_and_notifications_arrive() -> None:
    async with rig() as r:
        session_id = await ready(r)
        assert r.twitch.ws_sessions == [session_id]
        assert enabled_sessions(r.twitch) == {session_id}
        assert len(r.twitch.subscriptions(status="enabled")) == 2

        chat = payloads.chat_message(broadcaster=BROADCASTER, chatter=VIEWER, text="!ping")
        (chat_delivery,) = await r.twitch.emit("channel.chat.message", chat)
        follow = payloads.follow(broadcaster=BROADCASTER, user=VIEWER)
        (follow_delivery,) = await r.twitch.emit("channel.follow", follow)
        await until(lambda: len(r.notifications) == 2)

        got_chat, got_follow = r.notifications
        assert got_chat.message_id == chat_delivery.message_id
        assert got_chat.subscription_type == "channel.chat.message"
        assert got_chat.subscription_version == "1"
        assert dict(got_chat.event) == chat
        assert isinstance(got_chat.timestamp, datetime) and got_chat.timestamp.tzinfo
        assert got_follow.message_id == follow_delivery.message_id
        assert got_follow.subscription_type == "channel.follow"
        assert got_follow.subscription_version == "2"
        assert dict(got_follow.event) == follow

        event = translate(got_chat)
        assert event is not None and event.type is EventType.CHAT_MESSAGE
        assert event.text == "!ping" and event.author is not None
        assert event.author.user_id == VIEWER
        assert r.welcomes == [session_id]


# --- reconnect ---------------------------------------------------------------------------------


async def test_a_reconnect_mid_stream_loses_and_repeats_nothing() -> None:
    total = 80
    async with rig() as r:
        session_id = await ready(r)
        sent: list[str] = []

        async def produce() -> None:
            for n in range(total):
                sent.append(await r.emit_chat(f"event {n}"))
                await asyncio.sleep(0.002)

        producer = asyncio.create_task(produce())
        await until(lambda: len(r.notifications) >= 10)
        with capture_logs() as logs:
            (url,) = await r.twitch.ws_reconnect(session_id)
            emitted_before_the_move = len(sent)
            assert "reconnect_id=" in url
            await producer
            await until(lambda: any(e["event"] == MOVED for e in logs))
        assert emitted_before_the_move < total  # events kept coming during the move
        assert len(sent) == len(set(sent)) == total  # each emit reached the session
        await until(lambda: len(r.notifications) >= total)
        # One more after everything: once it is in, anything doubled would have shown up.
        sent.append(await r.emit_chat("after the move"))
        await until(lambda: r.message_ids()[-1:] == sent[-1:])

        assert Counter(r.message_ids()) == Counter(sent)
        assert r.welcomes == [session_id]  # subscriptions carried over: no second on_welcome
        assert r.ws.session_id == session_id and r.twitch.ws_sessions == [session_id]
        assert enabled_sessions(r.twitch) == {session_id}
        session = r.twitch.hub.sessions[session_id]
        assert session.status == "connected" and session.reconnect_id is None


async def test_a_reconnect_with_a_burst_of_concurrent_emits_loses_nothing() -> None:
    total = 40
    async with rig() as r:
        session_id = await ready(r)
        results = await asyncio.gather(
            *(r.emit_chat(f"burst {n}") for n in range(total // 2)),
            r.twitch.ws_reconnect(session_id),
            *(r.emit_chat(f"burst {n}") for n in range(total // 2, total)),
        )
        sent = [m for m in results if isinstance(m, str)]
        assert len(sent) == total
        await until(lambda: r.twitch.hub.sessions[session_id].reconnect_id is None)
        await until(lambda: len(r.notifications) >= total)
        sent.append(await r.emit_chat("after the burst"))
        await until(lambda: r.message_ids()[-1:] == sent[-1:])
        assert Counter(r.message_ids()) == Counter(sent)
        assert r.welcomes == [session_id]


async def test_a_refused_reconnect_url_keeps_the_old_connection_until_4004() -> None:
    async with rig(ws_reconnect_grace=0.5) as r:
        first = await ready(r)
        with capture_logs() as logs:
            await r.twitch.ws_reconnect(first)
            # The fake has no knob for a reconnect URL it refuses: forget the pending move
            # before the client can open it (no await in between), so it gets 4007.
            r.twitch.hub._reconnecting.clear()
            await until(lambda: any(e["event"] == STAYING for e in logs))
            during_grace = await r.emit_chat("still on the old connection")
            await until(lambda: r.message_ids() == [during_grace])
            second = await ready(r, welcomes=2)
        assert second != first
        codes = [e["code"] for e in logs if e["event"] == "eventsub websocket closed"]
        assert codes == [4007, 4004]
        assert enabled_sessions(r.twitch) == {second}
        after = await r.emit_chat("fresh session")
        await until(lambda: r.message_ids() == [during_grace, after])


async def test_keepalive_silence_starts_a_fresh_session() -> None:
    async with rig() as r:
        first = await ready(r)
        with capture_logs() as logs:
            r.twitch.ws_pause_keepalives(first)
            second = await ready(r, welcomes=2)
        assert second != first
        assert any(
            e["event"] == "eventsub websocket went silent; treating it as dead"
            and e["log_level"] == "warning"
            for e in logs
        )
        # the old session's subscriptions died with it; on_welcome made new ones
        assert enabled_sessions(r.twitch) == {second}
        message_id = await r.emit_chat("still here")
        await until(lambda: r.message_ids() == [message_id])


# --- close codes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "level"),
    [
        (4000, "warning"),
        (4001, "error"),
        (4002, "warning"),
        (4004, "warning"),
        (4005, "warning"),
        (4006, "warning"),
        (4007, "warning"),
    ],
)
async def test_a_server_close_starts_a_fresh_session(code: int, level: str) -> None:
    async with rig() as r:
        first = await ready(r)
        with capture_logs() as logs:
            await r.twitch.ws_close(first, code)
            second = await ready(r, welcomes=2)
        assert second != first
        (closed,) = [e for e in logs if e["event"] == "eventsub websocket closed"]
        assert closed["code"] == code and closed["log_level"] == level
        assert closed["meaning"] == describe_close(code)[0]
        assert enabled_sessions(r.twitch) == {second}
        message_id = await r.emit_chat("back again")
        await until(lambda: r.message_ids() == [message_id])


async def test_an_unused_session_closed_with_4003_is_logged_and_retried() -> None:
    async with rig(ws_unused_timeout=0.3) as r:
        r.subscribe_on = lambda welcome: welcome > 1  # the first session subscribes nothing
        with capture_logs() as logs:
            second = await ready(r, welcomes=2)
        (closed,) = [e for e in logs if e["event"] == "eventsub websocket closed"]
        assert closed["code"] == 4003 and closed["log_level"] == "error"
        assert "scopes" in closed["meaning"]
        assert enabled_sessions(r.twitch) == {second}
        message_id = await r.emit_chat("subscribed this time")
        await until(lambda: r.message_ids() == [message_id])


# --- revocations and failing callbacks ---------------------------------------------------


async def test_a_revocation_reaches_on_revocation() -> None:
    async with rig() as r:
        session_id = await ready(r)
        (chat_subscription,) = r.twitch.subscriptions("channel.chat.message")
        await r.twitch.revoke_subscription(chat_subscription.id)
        await until(lambda: len(r.revocations) == 1)
        (revoked,) = r.revocations
        assert revoked["id"] == chat_subscription.id
        assert revoked["type"] == "channel.chat.message"
        assert revoked["status"] == "authorization_revoked"
        assert revoked["transport"]["session_id"] == session_id
        # the connection and the other subscription live on
        (follow,) = await r.twitch.emit("channel.follow", payloads.follow(broadcaster=BROADCASTER))
        await until(lambda: r.message_ids() == [follow.message_id])
        assert r.welcomes == [session_id]


async def test_a_failing_callback_does_not_stop_later_notifications() -> None:
    async with rig() as r:
        session_id = await ready(r)

        def check(notification: Notification) -> None:
            if notification.event.get("message", {}).get("text") == "boom":
                raise RuntimeError("the bus is down")
            translate(notification)  # raises for a malformed payload, as ingest does

        r.check = check
        with capture_logs() as logs:
            boom = await r.emit_chat("boom")
            malformed = await r.emit_chat("no chatter", chatter_user_id=None)
            fine = await r.emit_chat("fine")
            await until(lambda: len(r.notifications) == 3)
        assert r.message_ids() == [boom, malformed, fine]
        failures = [e for e in logs if e["event"] == "eventsub notification handler failed"]
        assert [e["message_id"] for e in failures] == [boom, malformed]
        assert all(e["log_level"] == "error" for e in failures)
        assert r.welcomes == [session_id] and r.ws.session_id == session_id


# --- small pieces ------------------------------------------------------------------------


def test_backoff_grows_is_capped_and_jittered() -> None:
    backoff = Backoff(initial=1.0, maximum=8.0, factor=2.0, jitter=0.25)
    for failures, base in [(0, 1.0), (1, 2.0), (2, 4.0), (3, 8.0), (10, 8.0), (10_000, 8.0)]:
        delays = {backoff.delay(failures) for _ in range(50)}
        assert all(base * 0.75 <= d <= base for d in delays)
        assert len(delays) > 1


def test_the_keepalive_is_asked_for_in_the_url() -> None:
    assert with_keepalive("wss://eventsub.wss.twitch.tv/ws", None) == (
        "wss://eventsub.wss.twitch.tv/ws"
    )
    assert with_keepalive("wss://host/ws?a=1&keepalive_timeout_seconds=5", 30) == (
        "wss://host/ws?a=1&keepalive_timeout_seconds=30"
    )
