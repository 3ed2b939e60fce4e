"""The Helix client against the fake Twitch over loopback HTTP: tokens and their renewal, the
``Ratelimit-*`` bookkeeping and 429s (with a controlled clock), errors, and what each call
returns."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx2
import pytest
from prometheus_client import REGISTRY
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from websockets.asyncio.client import connect

from tests.fakes.twitch import FakeTwitch
from tests.support.harness import free_port, serving_app
from tests.support.twitch import BOT, BOT_SCOPES, AdvancingSleep, FakeClock, FakeTokens, Flaky
from waddlebot.platforms.twitch.helix import HelixClient, HelixError

BROADCASTER = "1337"
VIEWER = "1234"
RAIDER = "4242"


@dataclass
class World:
    twitch: FakeTwitch
    clock: FakeClock
    sleep: AdvancingSleep
    tokens: FakeTokens
    helix: HelixClient
    http: httpx2.AsyncClient
    flaky: Flaky
    client_id: str
    requests: list[httpx2.Request] = field(default_factory=list)


@contextlib.asynccontextmanager
async def world(
    *, advance: bool = True, echo_chat: bool = False, **options: Any
) -> AsyncIterator[World]:
    clock = FakeClock()
    sleep = AdvancingSleep(clock, advance=advance)
    flaky = Flaky()
    requests: list[httpx2.Request] = []

    async def record(request: httpx2.Request) -> None:
        requests.append(request)

    async with (
        FakeTwitch(clock=clock, echo_chat=echo_chat, **options) as twitch,
        httpx2.AsyncClient(transport=flaky, event_hooks={"request": [record]}, timeout=10) as http,
    ):
        client = twitch.register_client()
        twitch.add_user(BROADCASTER, "cooler_user", "Cooler_User", broadcaster_type="partner")
        twitch.add_user(BOT, "waddlebot", "WaddleBot", moderator_of=[BROADCASTER])
        twitch.add_user(VIEWER, "cool_user", "Cool_User")
        twitch.add_user(RAIDER, "raider", "Raider")
        tokens = FakeTokens(twitch, client.client_id, {BOT: BOT_SCOPES})
        helix = HelixClient(
            http,
            base_url=twitch.helix_url,
            client_id=client.client_id,
            tokens=tokens,
            clock=clock,
            sleep=sleep,
        )
        yield World(twitch, clock, sleep, tokens, helix, http, flaky, client.client_id, requests)


@pytest.fixture
async def w() -> AsyncIterator[World]:
    async with world() as made:
        yield made


def throttled_count(token: str) -> float:
    return (
        REGISTRY.get_sample_value("waddlebot_twitch_helix_throttled_total", {"token": token}) or 0
    )


# --- tokens and headers ----------------------------------------------------------------------


async def test_every_call_carries_the_right_token_and_the_client_id(w: World) -> None:
    await w.helix.get_users(ids=[VIEWER])
    await w.helix.send_chat_message(BROADCASTER, BOT, "hello")
    app, bot = w.requests
    assert app.headers["Client-Id"] == w.client_id
    assert app.headers["Authorization"] == f"Bearer {await w.tokens.app_token()}"
    assert bot.headers["Client-Id"] == w.client_id
    assert bot.headers["Authorization"] == f"Bearer {w.tokens.users[BOT].access_token}"
    assert json.loads(bot.content) == {
        "broadcaster_id": BROADCASTER,
        "sender_id": BOT,
        "message": "hello",
    }


async def test_a_refused_token_is_renewed_once_and_the_call_retried(w: World) -> None:
    await w.helix.send_chat_message(BROADCASTER, BOT, "first")
    old = w.tokens.users[BOT].access_token
    w.twitch.revoke_token(old)
    result = await w.helix.send_chat_message(BROADCASTER, BOT, "second")
    assert result.is_sent
    assert w.tokens.renewed == [BOT]
    assert w.tokens.users[BOT].access_token != old
    assert [r.text for r in w.twitch.sent_chat(BROADCASTER)] == ["first", "second"]

    w.twitch.expire(await w.tokens.app_token())
    assert [u.id for u in await w.helix.get_users(ids=[VIEWER])] == [VIEWER]
    assert w.tokens.renewed == [BOT, "app"]


async def test_a_token_refused_twice_is_a_permanent_error(w: World) -> None:
    w.tokens.scopes[BOT] = ("user:read:chat",)  # no user:write:chat, renewed or not
    with pytest.raises(HelixError) as caught:
        await w.helix.send_chat_message(BROADCASTER, BOT, "hello")
    assert caught.value.status == 401
    assert not caught.value.transient
    assert "Missing scope" in str(caught.value)
    assert w.tokens.renewed == [BOT]
    assert w.twitch.chat_log == []


# --- rate limits -----------------------------------------------------------------------------


async def test_an_empty_bucket_waits_until_its_reset_instead_of_earning_a_429() -> None:
    async with world(helix_points_per_minute=3) as w:
        for _ in range(3):
            await w.helix.get_users(ids=[VIEWER])
        assert w.sleep.calls == []
        reset = float(w.twitch.gate.bucket(w.client_id).headers()["Ratelimit-Reset"])
        before = w.clock()
        await w.helix.get_users(ids=[VIEWER])
        assert w.sleep.calls == [pytest.approx(reset - before)]
        assert w.twitch.gate.throttled == 0
        # the user token has its own bucket, untouched by the app token's calls
        await w.helix.send_chat_message(BROADCASTER, BOT, "mine")
        assert len(w.sleep.calls) == 1


async def test_a_429_waits_until_the_reset_and_tries_again() -> None:
    async with world(helix_points_per_minute=3) as w:
        await w.helix.get_users(ids=[VIEWER])
        # someone else spends the rest of the app's points behind the client's back
        token = await w.tokens.app_token()
        headers = {"Authorization": f"Bearer {token}", "Client-Id": w.client_id}
        for _ in range(3):
            await w.http.get(f"{w.twitch.helix_url}/users", params={"id": VIEWER}, headers=headers)
        assert w.twitch.gate.throttled == 1
        before = throttled_count("app")
        users = await w.helix.get_users(logins=["cool_user"])
        assert [u.id for u in users] == [VIEWER]
        assert w.twitch.gate.throttled == 2
        assert len(w.sleep.calls) == 1 and w.sleep.calls[0] >= 1
        assert throttled_count("app") == before + 1


async def test_429_after_429_gives_up_after_three_tries() -> None:
    async with world(helix_points_per_minute=1, advance=False) as w:  # time stands still
        await w.helix.get_users(ids=[VIEWER])
        w.helix._buckets.clear()  # forget what Twitch said: the next calls go out blind
        with pytest.raises(HelixError) as caught:
            await w.helix.get_users(ids=[VIEWER])
        assert caught.value.status == 429
        assert caught.value.transient
        assert "3 tries" in str(caught.value)
        assert w.twitch.gate.throttled == 3
        assert len(w.sleep.calls) == 2


# --- transient failures ------------------------------------------------------------------------


async def test_server_errors_are_transient(w: World) -> None:
    w.flaky.fail["/helix/chat/messages"] = 1
    with pytest.raises(HelixError) as caught:
        await w.helix.send_chat_message(BROADCASTER, BOT, "hello")
    assert caught.value.status == 503
    assert caught.value.transient
    assert (await w.helix.send_chat_message(BROADCASTER, BOT, "hello")).is_sent


async def test_network_errors_are_transient() -> None:
    async with httpx2.AsyncClient(timeout=2) as http:
        helix = HelixClient(
            http,
            base_url=f"http://127.0.0.1:{free_port()}/helix",
            client_id="c",
            tokens=_StaticTokens(),
        )
        with pytest.raises(HelixError) as caught:
            await helix.get_stream(BROADCASTER)
    assert caught.value.transient
    assert caught.value.status is None


class _StaticTokens:
    async def app_token(self, *, renew: bool = False) -> str:
        return "token"

    async def user_token(self, account_id: str, *, renew: bool = False) -> str:
        return "token"


# --- chat, whispers, shoutouts ------------------------------------------------------------------


async def test_send_chat_message_threads_a_reply(w: World) -> None:
    w.twitch.add_chat_message(BROADCASTER, "cc106a89-parent")
    result = await w.helix.send_chat_message(
        BROADCASTER, BOT, "pong", reply_parent_message_id="cc106a89-parent"
    )
    (record,) = w.twitch.chat_log
    assert result.is_sent
    assert result.message_id == record.message_id
    assert (result.drop_code, result.drop_message) == ("", "")
    assert record.reply_parent_message_id == "cc106a89-parent"
    assert (record.channel_id, record.sender_id, record.text) == (BROADCASTER, BOT, "pong")


@pytest.mark.parametrize("code", ["msg_subsonly", "automod_blocked", "channel_banned"])
async def test_a_dropped_chat_message_says_why(w: World, code: str) -> None:
    w.twitch.drop_next_chat(code)
    result = await w.helix.send_chat_message(BROADCASTER, BOT, "hello")
    assert not result.is_sent
    assert result.drop_code == code
    assert result.drop_message
    assert result.message_id == ""


async def test_a_message_over_500_characters_is_refused(w: World) -> None:
    with pytest.raises(HelixError) as caught:
        await w.helix.send_chat_message(BROADCASTER, BOT, "x" * 501)
    assert caught.value.status == 400
    assert not caught.value.transient


async def test_send_whisper(w: World) -> None:
    await w.helix.send_whisper(BOT, VIEWER, "your code is 123456")
    (whisper,) = w.twitch.whispers
    assert (whisper.from_user_id, whisper.to_user_id, whisper.text) == (
        BOT,
        VIEWER,
        "your code is 123456",
    )


async def test_whisper_errors(w: World) -> None:
    with pytest.raises(HelixError) as to_self:
        await w.helix.send_whisper(BOT, BOT, "hello me")
    assert to_self.value.status == 400
    assert not to_self.value.transient
    for n in range(3):
        await w.helix.send_whisper(BOT, VIEWER, f"quick {n}")
    # Twitch's whisper limit (3 a second) is not the point bucket: no waiting, no retrying
    with pytest.raises(HelixError) as too_fast:
        await w.helix.send_whisper(BOT, VIEWER, "one too many")
    assert too_fast.value.status == 429
    assert too_fast.value.transient
    assert w.sleep.calls == []
    assert len(w.twitch.whispers) == 3


async def test_send_shoutout(w: World) -> None:
    await w.twitch.go_live(BROADCASTER, emit=False)
    await w.helix.send_shoutout(BROADCASTER, RAIDER, BOT)
    (shoutout,) = w.twitch.shoutouts
    assert (shoutout.from_broadcaster_id, shoutout.to_broadcaster_id, shoutout.moderator_id) == (
        BROADCASTER,
        RAIDER,
        BOT,
    )
    with pytest.raises(HelixError) as cooldown:  # one per 2 minutes
        await w.helix.send_shoutout(BROADCASTER, VIEWER, BOT)
    assert cooldown.value.status == 429
    assert w.sleep.calls == []


# --- users, streams, clips -------------------------------------------------------------------


async def test_get_users_by_id_and_login(w: World) -> None:
    found = await w.helix.get_users(ids=[BROADCASTER], logins=["COOL_USER", "nobody_here"])
    by_id = {u.id: u for u in found}
    assert set(by_id) == {BROADCASTER, VIEWER}
    streamer = by_id[BROADCASTER]
    assert (streamer.login, streamer.display_name, streamer.broadcaster_type) == (
        "cooler_user",
        "Cooler_User",
        "partner",
    )
    assert streamer.profile_image_url.startswith("https://")
    assert streamer.created_at
    assert await w.helix.get_users() == []
    assert len(w.requests) == 1


async def test_get_users_takes_more_than_100_in_several_calls(w: World) -> None:
    ids = [str(100_000 + n) for n in range(150)]
    for user_id in ids:
        w.twitch.add_user(user_id)
    found = await w.helix.get_users(ids=ids)
    assert sorted(u.id for u in found) == ids
    assert len(w.requests) == 2


async def test_get_stream(w: World) -> None:
    assert await w.helix.get_stream(BROADCASTER) is None
    await w.twitch.go_live(
        BROADCASTER, title="Speedrun", game_name="Celeste", viewer_count=42, emit=False
    )
    stream = await w.helix.get_stream(BROADCASTER)
    assert stream is not None
    assert (stream.user_id, stream.user_login, stream.title) == (
        BROADCASTER,
        "cooler_user",
        "Speedrun",
    )
    assert (stream.game_name, stream.viewer_count) == ("Celeste", 42)
    assert stream.started_at == datetime.fromtimestamp(int(w.clock()), UTC)


async def test_get_clips_pages(w: World) -> None:
    for n in range(25):
        w.twitch.add_clip(BROADCASTER, f"clip {n}", creator_id=VIEWER, view_count=n)
    w.twitch.add_clip(RAIDER, "not this channel's")
    first = await w.helix.get_clips(BROADCASTER)
    assert len(first.clips) == 20 and first.cursor
    rest = await w.helix.get_clips(BROADCASTER, first=20, after=first.cursor)
    assert len(rest.clips) == 5 and rest.cursor is None
    clips = first.clips + rest.clips
    assert [c.title for c in clips] == [f"clip {n}" for n in reversed(range(25))]  # most viewed
    clip = clips[21]
    assert clip.url.endswith(clip.id)
    assert (clip.broadcaster_id, clip.broadcaster_name) == (BROADCASTER, "Cooler_User")
    assert (clip.creator_id, clip.creator_name, clip.view_count) == (VIEWER, "Cool_User", 3)
    assert clip.duration == 30.0


# --- EventSub subscriptions ---------------------------------------------------------------------


@contextlib.asynccontextmanager
async def callback_server() -> AsyncIterator[str]:
    """A webhook callback that answers Twitch's challenge."""

    async def receive(request: Request) -> Response:
        body = json.loads(await request.body())
        if "challenge" in body:
            return PlainTextResponse(body["challenge"])
        return Response(status_code=204)

    async with serving_app(Starlette(routes=[Route("/cb", receive, methods=["POST"])])) as url:
        yield f"{url}/cb"


async def test_webhook_subscriptions_created_listed_across_pages_and_deleted(w: World) -> None:
    async with callback_server() as callback:
        transport = {"method": "webhook", "callback": callback, "secret": "s3cret-for-webhooks"}
        created = [
            await w.helix.create_subscription(
                "channel.raid", "1", {"to_broadcaster_user_id": str(500_000 + n)}, transport
            )
            for n in range(101)
        ]
        await w.twitch.settle()
    first = created[0]
    assert first["type"] == "channel.raid"
    assert first["status"] == "webhook_callback_verification_pending"
    assert "secret" not in first["transport"]
    listed = await w.helix.list_subscriptions()
    assert sorted(s["id"] for s in listed) == sorted(s["id"] for s in created)  # two pages
    assert {s["status"] for s in listed} == {"enabled"}
    assert len(await w.helix.list_subscriptions(status="enabled")) == 101
    assert await w.helix.list_subscriptions(status="authorization_revoked") == []

    assert await w.helix.delete_subscription(first["id"]) is True
    assert await w.helix.delete_subscription(first["id"]) is False
    assert len(await w.helix.list_subscriptions()) == 100


async def test_a_duplicate_subscription_is_a_409(w: World) -> None:
    async with callback_server() as callback:
        transport = {"method": "webhook", "callback": callback, "secret": "s3cret-for-webhooks"}
        condition = {"to_broadcaster_user_id": BROADCASTER}
        await w.helix.create_subscription("channel.raid", "1", condition, transport)
        with pytest.raises(HelixError) as caught:
            await w.helix.create_subscription("channel.raid", "1", condition, transport)
        await w.twitch.settle()
    assert caught.value.status == 409
    assert not caught.value.transient


async def test_websocket_subscriptions_use_the_users_token(w: World) -> None:
    async with connect(w.twitch.eventsub_ws_url) as ws:
        welcome = json.loads(await ws.recv())
        session_id = welcome["payload"]["session"]["id"]
        created = await w.helix.create_subscription(
            "user.whisper.message",
            "1",
            {"user_id": BOT},
            {"method": "websocket", "session_id": session_id},
            user_token_of=BOT,
        )
        assert created["status"] == "enabled"
        assert created["transport"]["session_id"] == session_id
        assert w.requests[-1].headers["Authorization"] == (
            f"Bearer {w.tokens.users[BOT].access_token}"
        )
        mine = await w.helix.list_subscriptions(user_token_of=BOT)
        assert [s["id"] for s in mine] == [created["id"]]
        assert await w.helix.list_subscriptions() == []  # the app token sees webhooks only
        assert await w.helix.delete_subscription(created["id"], user_token_of=BOT)
