"""The fake Twitch itself, over real loopback HTTP and WebSocket: OAuth flows, Helix rules and
limits, EventSub subscriptions with the webhook challenge, signed webhook delivery, and the
EventSub WebSocket lifecycle (welcome, keepalive, 4001/4003/4004, reconnect without loss)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.fakes.twitch import FakeTwitch, Token, User, WebhookSender, payloads
from tests.fakes.twitch.webhook import notification
from tests.support.harness import serving_app

BROADCASTER = "1337"
BOT = "9001"
VIEWER = "1234"
SECRET = "s3cret-for-webhooks"
RFC3339_NS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$")


class FakeClock:
    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class World:
    twitch: FakeTwitch
    http: httpx2.AsyncClient
    client_id: str
    secret: str
    app: Token
    bot: Token  # the bot's user token

    def headers(self, token: Token | None = None) -> dict[str, str]:
        chosen = token or self.bot
        return {"Authorization": f"Bearer {chosen.access_token}", "Client-Id": self.client_id}


BOT_SCOPES = (
    "user:read:chat",
    "user:write:chat",
    "user:manage:whispers",
    "moderator:manage:shoutouts",
    "moderator:read:followers",
)


@contextlib.asynccontextmanager
async def world(**options: Any) -> AsyncIterator[World]:
    options.setdefault("ws_keepalive_interval", 0.2)
    options.setdefault("webhook_backoff", 0.01)
    options.setdefault("webhook_timeout", 2.0)
    async with FakeTwitch(**options) as twitch, httpx2.AsyncClient(timeout=10) as http:
        client = twitch.register_client()
        twitch.add_user(BROADCASTER, "cooler_user", "Cooler_User")
        twitch.add_user(BOT, "waddlebot", "WaddleBot", moderator_of=[BROADCASTER])
        twitch.add_user(VIEWER, "cool_user", "Cool_User")
        yield World(
            twitch,
            http,
            client.client_id,
            client.secret,
            twitch.issue_app_token(client.client_id),
            twitch.issue_user_token(client.client_id, BOT, *BOT_SCOPES),
        )


@pytest.fixture
async def w() -> AsyncIterator[World]:
    async with world() as made:
        yield made


# --- OAuth ---------------------------------------------------------------------------------


async def test_client_credentials_token_validates_as_an_app_token(w: World) -> None:
    reply = await w.http.post(
        f"{w.twitch.auth_url}/token",
        data={
            "client_id": w.client_id,
            "client_secret": w.secret,
            "grant_type": "client_credentials",
        },
    )
    assert reply.status_code == 200
    body = reply.json()
    assert set(body) == {"access_token", "expires_in", "token_type"}
    assert body["token_type"] == "bearer"
    before = w.twitch.validate_calls
    for scheme in ("OAuth", "Bearer"):
        valid = await w.http.get(
            f"{w.twitch.auth_url}/validate",
            headers={"Authorization": f"{scheme} {body['access_token']}"},
        )
        assert valid.status_code == 200
        assert valid.json()["client_id"] == w.client_id
        assert "login" not in valid.json() and "user_id" not in valid.json()
        assert 0 < valid.json()["expires_in"] <= body["expires_in"]
    assert w.twitch.validate_calls == before + 2


async def test_wrong_client_credentials_get_twitch_shaped_errors(w: World) -> None:
    url = f"{w.twitch.auth_url}/token"
    wrong_secret = await w.http.post(
        url,
        data={
            "client_id": w.client_id,
            "client_secret": "nope",
            "grant_type": "client_credentials",
        },
    )
    assert wrong_secret.status_code == 403
    assert wrong_secret.json() == {"status": 403, "message": "invalid client secret"}
    unknown = await w.http.post(
        url, data={"client_id": "nobody", "client_secret": "x", "grant_type": "client_credentials"}
    )
    assert unknown.status_code == 400 and unknown.json()["status"] == 400


async def test_authorization_code_flow_then_refresh_rotates_the_refresh_token(w: World) -> None:
    w.twitch.authorize_as(BOT)
    redirect = "http://127.0.0.1:1/landing"
    reply = await w.http.get(
        f"{w.twitch.auth_url}/authorize",
        params={
            "client_id": w.client_id,
            "redirect_uri": redirect,
            "response_type": "code",
            "scope": "user:read:chat user:write:chat",
            "state": "xyz",
        },
    )
    assert reply.status_code == 302
    location = urlsplit(reply.headers["location"])
    query = parse_qs(location.query)
    assert f"{location.scheme}://{location.netloc}{location.path}" == redirect
    assert query["state"] == ["xyz"] and query["scope"] == ["user:read:chat user:write:chat"]

    form = {
        "client_id": w.client_id,
        "client_secret": w.secret,
        "code": query["code"][0],
        "grant_type": "authorization_code",
        "redirect_uri": redirect,
    }
    tokens = await w.http.post(f"{w.twitch.auth_url}/token", data=form)
    assert tokens.status_code == 200
    body = tokens.json()
    assert body["scope"] == ["user:read:chat", "user:write:chat"]
    assert body["token_type"] == "bearer" and body["refresh_token"]
    again = await w.http.post(f"{w.twitch.auth_url}/token", data=form)
    assert again.status_code == 400  # a code is single-use

    valid = await w.http.get(
        f"{w.twitch.auth_url}/validate", headers={"Authorization": f"OAuth {body['access_token']}"}
    )
    assert valid.json()["login"] == "waddlebot" and valid.json()["user_id"] == BOT

    refresh = {
        "client_id": w.client_id,
        "client_secret": w.secret,
        "grant_type": "refresh_token",
        "refresh_token": body["refresh_token"],
    }
    refreshed = await w.http.post(f"{w.twitch.auth_url}/token", data=refresh)
    assert refreshed.status_code == 200
    assert refreshed.json()["access_token"] != body["access_token"]
    assert refreshed.json()["refresh_token"] != body["refresh_token"]
    stale = await w.http.post(f"{w.twitch.auth_url}/token", data=refresh)
    assert stale.status_code == 400


async def test_a_denied_authorization_redirects_with_an_error(w: World) -> None:
    w.twitch.authorize_as(BOT)
    w.twitch.deny_next_authorization()
    reply = await w.http.get(
        f"{w.twitch.auth_url}/authorize",
        params={
            "client_id": w.client_id,
            "redirect_uri": "http://127.0.0.1:1/cb",
            "response_type": "code",
            "scope": "user:read:chat",
            "state": "s1",
        },
    )
    query = parse_qs(urlsplit(reply.headers["location"]).query)
    assert query["error"] == ["access_denied"] and query["state"] == ["s1"]
    assert "code" not in query


async def test_expired_and_revoked_tokens_are_refused_everywhere() -> None:
    clock = FakeClock()
    async with world(clock=clock, user_token_lifetime=60) as w:
        short = w.twitch.issue_user_token(w.client_id, BOT, "user:read:chat")
        validate = f"{w.twitch.auth_url}/validate"
        ok = await w.http.get(validate, headers={"Authorization": f"OAuth {short.access_token}"})
        assert ok.json()["expires_in"] == 60
        clock.advance(61)
        expired = await w.http.get(
            validate, headers={"Authorization": f"OAuth {short.access_token}"}
        )
        assert expired.status_code == 401
        assert expired.json() == {"status": 401, "message": "invalid access token"}
        helix = await w.http.get(f"{w.twitch.helix_url}/users", headers=w.headers(short))
        assert helix.status_code == 401
        assert helix.json() == {
            "error": "Unauthorized",
            "status": 401,
            "message": "Invalid OAuth token",
        }

        w.twitch.expire(w.bot.access_token)
        assert (
            await w.http.get(f"{w.twitch.helix_url}/users", headers=w.headers())
        ).status_code == 401

        revoked = await w.http.post(
            f"{w.twitch.auth_url}/revoke",
            data={"client_id": w.client_id, "token": w.app.access_token},
        )
        assert revoked.status_code == 200
        after = await w.http.get(validate, headers={"Authorization": f"OAuth {w.app.access_token}"})
        assert after.status_code == 401


# --- Helix: auth and rate limits -----------------------------------------------------------


async def test_helix_requires_a_token_and_its_own_client_id(w: World) -> None:
    url = f"{w.twitch.helix_url}/users"
    missing = await w.http.get(url, headers={"Client-Id": w.client_id})
    assert missing.status_code == 401 and missing.json()["error"] == "Unauthorized"
    other = w.twitch.register_client()
    mismatch = await w.http.get(
        url, headers={"Authorization": f"Bearer {w.bot.access_token}", "Client-Id": other.client_id}
    )
    assert mismatch.status_code == 401
    assert mismatch.json()["message"] == "Client ID and OAuth token do not match"


async def test_rate_limit_headers_count_down_then_429_until_the_bucket_refills() -> None:
    clock = FakeClock()
    async with world(clock=clock, helix_points_per_minute=3) as w:
        url = f"{w.twitch.helix_url}/users"
        remaining = []
        for _ in range(3):
            reply = await w.http.get(url, headers=w.headers())
            assert reply.status_code == 200
            assert reply.headers["Ratelimit-Limit"] == "3"
            assert int(reply.headers["Ratelimit-Reset"]) >= int(clock())
            remaining.append(int(reply.headers["Ratelimit-Remaining"]))
        assert remaining == [2, 1, 0]
        throttled = await w.http.get(url, headers=w.headers())
        assert throttled.status_code == 429
        assert throttled.json()["status"] == 429
        assert throttled.headers["Ratelimit-Remaining"] == "0"
        assert int(throttled.headers["Ratelimit-Reset"]) > clock()

        # The app token has a bucket of its own.
        app_reply = await w.http.get(url, params={"id": BOT}, headers=w.headers(w.app))
        assert app_reply.status_code == 200

        clock.advance(int(throttled.headers["Ratelimit-Reset"]) - clock())
        assert (await w.http.get(url, headers=w.headers())).status_code == 200


# --- Helix: users, streams, clips ------------------------------------------------------------


async def test_get_users_by_id_login_or_token(w: World) -> None:
    url = f"{w.twitch.helix_url}/users"
    own = await w.http.get(url, headers=w.headers())
    assert [u["login"] for u in own.json()["data"]] == ["waddlebot"]
    both = await w.http.get(
        url, params=[("id", BROADCASTER), ("login", "COOL_USER")], headers=w.headers(w.app)
    )
    assert sorted(u["id"] for u in both.json()["data"]) == [VIEWER, BROADCASTER]
    user = both.json()["data"][0]
    assert {"id", "login", "display_name", "type", "broadcaster_type", "created_at"} <= set(user)
    assert (await w.http.get(url, headers=w.headers(w.app))).status_code == 400
    too_many = {"id": [str(n) for n in range(101)]}
    assert (await w.http.get(url, params=too_many, headers=w.headers())).status_code == 400


async def test_streams_show_only_live_channels(w: World) -> None:
    url = f"{w.twitch.helix_url}/streams"
    offline = await w.http.get(url, params={"user_id": BROADCASTER}, headers=w.headers())
    assert offline.json()["data"] == []
    await w.twitch.go_live(BROADCASTER, title="Building a bot", viewer_count=42)
    live = await w.http.get(url, params={"user_login": "cooler_user"}, headers=w.headers())
    (stream,) = live.json()["data"]
    assert stream["user_id"] == BROADCASTER and stream["user_name"] == "Cooler_User"
    assert stream["type"] == "live" and stream["title"] == "Building a bot"
    assert stream["viewer_count"] == 42 and stream["started_at"].endswith("Z")
    await w.twitch.go_offline(BROADCASTER)
    again = await w.http.get(url, params={"user_id": BROADCASTER}, headers=w.headers())
    assert again.json()["data"] == []


async def test_clips_page_with_first_and_after(w: World) -> None:
    for n in range(5):
        w.twitch.add_clip(BROADCASTER, f"clip {n}", clip_id=f"Clip{n}")
    w.twitch.add_clip(VIEWER, "someone else's")
    url = f"{w.twitch.helix_url}/clips"
    seen: list[str] = []
    params: dict[str, str] = {"broadcaster_id": BROADCASTER, "first": "2"}
    while True:
        reply = (await w.http.get(url, params=params, headers=w.headers())).json()
        seen += [c["id"] for c in reply["data"]]
        if not reply["pagination"]:
            break
        params["after"] = reply["pagination"]["cursor"]
    assert seen == [f"Clip{n}" for n in range(5)]
    by_id = await w.http.get(url, params=[("id", "Clip3")], headers=w.headers())
    assert [c["title"] for c in by_id.json()["data"]] == ["clip 3"]
    both = await w.http.get(url, params={"id": "Clip1", "game_id": "1"}, headers=w.headers())
    assert both.status_code == 400
    assert (await w.http.get(url, headers=w.headers())).status_code == 400


# --- Helix: chat, whispers, shoutouts ---------------------------------------------------------


async def send_chat(
    w: World, text: str, *, token: Token | None = None, **extra: Any
) -> dict[str, Any]:
    body = {"broadcaster_id": BROADCASTER, "sender_id": BOT, "message": text, **extra}
    reply = await w.http.post(
        f"{w.twitch.helix_url}/chat/messages", json=body, headers=w.headers(token)
    )
    assert reply.status_code == 200, reply.text
    result: dict[str, Any] = reply.json()["data"][0]
    return result


async def test_chat_messages_are_sent_and_recorded(w: World) -> None:
    w.twitch.add_chat_message(BROADCASTER, "parent-1")
    sent = await send_chat(w, "hello chat", reply_parent_message_id="parent-1")
    assert sent["is_sent"] is True and sent["drop_reason"] is None and sent["message_id"]
    (record,) = w.twitch.sent_chat(BROADCASTER)
    assert (record.sender_id, record.text, record.reply_parent_message_id) == (
        BOT,
        "hello chat",
        "parent-1",
    )
    url = f"{w.twitch.helix_url}/chat/messages"
    too_long = {"broadcaster_id": BROADCASTER, "sender_id": BOT, "message": "x" * 501}
    assert (await w.http.post(url, json=too_long, headers=w.headers())).status_code == 400
    impostor = {"broadcaster_id": BROADCASTER, "sender_id": VIEWER, "message": "hi"}
    assert (await w.http.post(url, json=impostor, headers=w.headers())).status_code == 403
    unscoped = w.twitch.issue_user_token(w.client_id, BOT, "user:read:chat")
    ok_body = {"broadcaster_id": BROADCASTER, "sender_id": BOT, "message": "hi"}
    missing = await w.http.post(url, json=ok_body, headers=w.headers(unscoped))
    assert missing.status_code == 401 and "user:write:chat" in missing.json()["message"]


async def test_chat_drop_controls_and_duplicates(w: World) -> None:
    w.twitch.drop_next_chat("msg_subsonly")
    dropped = await send_chat(w, "one")
    assert dropped["is_sent"] is False and dropped["drop_reason"]["code"] == "msg_subsonly"
    assert (await send_chat(w, "two"))["is_sent"] is True
    w.twitch.drop_chat_in(BROADCASTER, "channel_banned")
    assert (await send_chat(w, "three"))["drop_reason"]["code"] == "channel_banned"
    w.twitch.drop_chat_in(BROADCASTER, None)
    # A normal sender repeating itself within 30 s is dropped as a duplicate.
    viewer = w.twitch.issue_user_token(w.client_id, VIEWER, "user:write:chat")
    first = await send_chat(w, "same", sender_id=VIEWER, token=viewer)
    second = await send_chat(w, "same", sender_id=VIEWER, token=viewer)
    assert first["is_sent"] is True
    assert second["drop_reason"]["code"] == "msg_duplicate"
    assert [r.text for r in w.twitch.sent_chat()] == ["two", "same"]


async def test_chat_limit_is_20_per_30s_for_viewers_and_100_for_moderators() -> None:
    clock = FakeClock()
    async with world(clock=clock) as w:
        viewer = w.twitch.issue_user_token(w.client_id, VIEWER, "user:write:chat")
        for n in range(20):
            assert (await send_chat(w, f"m{n}", sender_id=VIEWER, token=viewer))["is_sent"]
            clock.advance(0.5)
        over = await send_chat(w, "one too many", sender_id=VIEWER, token=viewer)
        assert over["is_sent"] is False and over["drop_reason"]["code"] == "msg_ratelimit"
        assert len(w.twitch.chat_violations) == 1
        clock.advance(30)
        assert (await send_chat(w, "later", sender_id=VIEWER, token=viewer))["is_sent"]

        # The bot moderates the channel: 100 per 30 s.
        for n in range(100):
            assert (await send_chat(w, f"mod {n}"))["is_sent"]
        assert (await send_chat(w, "mod over"))["drop_reason"]["code"] == "msg_ratelimit"
        assert len(w.twitch.chat_violations) == 2
        assert w.twitch.most_chat_in_window(BROADCASTER, sender_id=BOT) == 100


async def whisper(w: World, to: str, text: str) -> httpx2.Response:
    return await w.http.post(
        f"{w.twitch.helix_url}/whispers",
        params={"from_user_id": BOT, "to_user_id": to},
        json={"message": text},
        headers=w.headers(),
    )


async def test_whispers_rules_and_limits() -> None:
    clock = FakeClock()
    async with world(clock=clock) as w:
        assert (await whisper(w, VIEWER, "psst")).status_code == 204
        assert (await whisper(w, BOT, "me")).status_code == 400
        assert (await whisper(w, VIEWER, "x" * 10_001)).status_code == 400
        clock.advance(1)
        assert (await whisper(w, VIEWER, "y" * 600)).status_code == 204
        assert w.twitch.whispers[-1].text == "y" * 500  # cut: the viewer never whispered the bot
        w.twitch.mark_whispered(VIEWER, BOT)
        clock.advance(1)
        assert (await whisper(w, VIEWER, "z" * 600)).status_code == 204
        assert len(w.twitch.whispers[-1].text) == 600

        clock.advance(1)
        for _ in range(3):
            assert (await whisper(w, VIEWER, "quick")).status_code == 204
        assert (await whisper(w, VIEWER, "too quick")).status_code == 429

        for n in range(39):  # 39 more recipients: 40 unique today
            clock.advance(1)
            assert (await whisper(w, f"77{n}", "hi")).status_code == 204
        clock.advance(1)
        assert (await whisper(w, "7799", "one recipient too many")).status_code == 429
        assert (await whisper(w, VIEWER, "an old friend is fine")).status_code == 204


async def test_shoutouts_need_a_live_channel_and_respect_both_cooldowns() -> None:
    clock = FakeClock()
    async with world(clock=clock) as w:

        async def shoutout(to: str) -> int:
            reply = await w.http.post(
                f"{w.twitch.helix_url}/chat/shoutouts",
                params={
                    "from_broadcaster_id": BROADCASTER,
                    "to_broadcaster_id": to,
                    "moderator_id": BOT,
                },
                headers=w.headers(),
            )
            return reply.status_code

        assert await shoutout(VIEWER) == 400  # not live
        await w.twitch.go_live(BROADCASTER)
        assert await shoutout(VIEWER) == 204
        assert await shoutout("555") == 429  # one per 2 minutes
        clock.advance(121)
        assert await shoutout("555") == 204
        clock.advance(121)
        assert await shoutout(VIEWER) == 429  # same target within 60 minutes
        clock.advance(3600)
        assert await shoutout(VIEWER) == 204
        assert [s.to_broadcaster_id for s in w.twitch.shoutouts] == [VIEWER, "555", VIEWER]


# --- EventSub over webhooks --------------------------------------------------------------------


def rfc3339_ns_to_datetime(stamp: str) -> datetime:
    return datetime.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)


class Receiver:
    """A webhook endpoint written from the docs: verifies the HMAC, refuses stale timestamps,
    answers the challenge with the raw text, dedupes message ids."""

    def __init__(self, secret: str = SECRET, *, json_challenge: bool = False) -> None:
        self.secret = secret
        self.json_challenge = json_challenge
        self.fail_next = 0
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.notifications: list[dict[str, Any]] = []
        self.seen: set[str] = set()
        self.duplicates = 0

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/callback", self.handle, methods=["POST"])])

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        headers = {k.lower(): v for k, v in request.headers.items()}
        self.requests.append((headers, body))
        message_id = headers["twitch-eventsub-message-id"]
        stamp = headers["twitch-eventsub-message-timestamp"]
        mac = hmac.new(
            self.secret.encode(), message_id.encode() + stamp.encode() + body, hashlib.sha256
        )
        if not hmac.compare_digest(
            "sha256=" + mac.hexdigest(), headers["twitch-eventsub-message-signature"]
        ):
            return Response(status_code=403)
        if rfc3339_ns_to_datetime(stamp) + timedelta(minutes=10) <= datetime.now(UTC):
            return PlainTextResponse("Message has expired.", status_code=400)
        try:
            payload = json.loads(body)
        except ValueError:
            return PlainTextResponse("bad json", status_code=400)
        kind = headers["twitch-eventsub-message-type"]
        if kind == "webhook_callback_verification":
            if self.json_challenge:
                return JSONResponse({"challenge": payload["challenge"]})
            return PlainTextResponse(payload["challenge"])
        if self.fail_next:
            self.fail_next -= 1
            return Response(status_code=500)
        if message_id in self.seen:
            self.duplicates += 1
            return Response(status_code=204)
        self.seen.add(message_id)
        if kind == "notification":
            self.notifications.append(payload)
        return Response(status_code=204)


@contextlib.asynccontextmanager
async def receiving(receiver: Receiver) -> AsyncIterator[str]:
    async with serving_app(receiver.app()) as base:
        yield f"{base}/callback"


async def subscribe_webhook(
    w: World, callback: str, type_: str = "stream.online", condition: dict[str, str] | None = None
) -> httpx2.Response:
    return await w.http.post(
        f"{w.twitch.helix_url}/eventsub/subscriptions",
        json={
            "type": type_,
            "version": payloads.version_of(type_),
            "condition": condition or {"broadcaster_user_id": BROADCASTER},
            "transport": {"method": "webhook", "callback": callback, "secret": SECRET},
        },
        headers=w.headers(w.app),
    )


async def test_webhook_subscription_is_challenged_then_receives_signed_notifications(
    w: World,
) -> None:
    receiver = Receiver()
    async with receiving(receiver) as callback:
        created = await subscribe_webhook(w, callback)
        assert created.status_code == 202
        body = created.json()
        (sub,) = body["data"]
        assert sub["status"] == "webhook_callback_verification_pending"
        assert sub["transport"] == {"method": "webhook", "callback": callback}
        assert {"total", "total_cost", "max_total_cost"} <= set(body)
        assert sub["cost"] == 1  # a public event about a channel that never authorized the app
        await w.twitch.settle()
        headers, _ = receiver.requests[0]
        assert headers["twitch-eventsub-message-type"] == "webhook_callback_verification"

        listed = await w.http.get(
            f"{w.twitch.helix_url}/eventsub/subscriptions",
            params={"status": "enabled"},
            headers=w.headers(w.app),
        )
        assert [s["id"] for s in listed.json()["data"]] == [sub["id"]]
        assert (await subscribe_webhook(w, callback)).status_code == 409

        deliveries = await w.twitch.emit(
            "stream.online", payloads.stream_online(broadcaster=BROADCASTER)
        )
        assert [d.delivered for d in deliveries] == [True]
        await w.twitch.emit("stream.online", payloads.stream_online(broadcaster="someone-else"))
        (received,) = receiver.notifications
        assert received["subscription"]["id"] == sub["id"]
        assert received["event"]["broadcaster_user_id"] == BROADCASTER
        headers, raw = receiver.requests[-1]
        assert headers["twitch-eventsub-message-type"] == "notification"
        assert headers["twitch-eventsub-message-retry"] == "0"
        assert headers["twitch-eventsub-subscription-type"] == "stream.online"
        assert headers["twitch-eventsub-subscription-version"] == "1"
        assert headers["content-type"] == "application/json"
        assert RFC3339_NS.match(headers["twitch-eventsub-message-timestamp"])
        expected = hmac.new(
            SECRET.encode(),
            (
                headers["twitch-eventsub-message-id"] + headers["twitch-eventsub-message-timestamp"]
            ).encode()
            + raw,
            hashlib.sha256,
        ).hexdigest()
        assert headers["twitch-eventsub-message-signature"] == f"sha256={expected}"

        url = f"{w.twitch.helix_url}/eventsub/subscriptions"
        gone = await w.http.delete(url, params={"id": sub["id"]}, headers=w.headers(w.app))
        assert gone.status_code == 204
        again = await w.http.delete(url, params={"id": sub["id"]}, headers=w.headers(w.app))
        assert again.status_code == 404


async def test_a_json_wrapped_challenge_fails_verification(w: World) -> None:
    async with receiving(Receiver(json_challenge=True)) as callback:
        created = await subscribe_webhook(w, callback)
        await w.twitch.settle()
        (sub,) = w.twitch.subscriptions()
        assert sub.id == created.json()["data"][0]["id"]
        assert sub.status == "webhook_callback_verification_failed"
        assert (
            await w.twitch.emit("stream.online", payloads.stream_online(broadcaster=BROADCASTER))
            == []
        )


async def test_subscription_requests_are_validated(w: World) -> None:
    url = f"{w.twitch.helix_url}/eventsub/subscriptions"
    hook = {"method": "webhook", "callback": "http://127.0.0.1:9/cb", "secret": SECRET}

    async def create(body: dict[str, Any], token: Token) -> int:
        return (await w.http.post(url, json=body, headers=w.headers(token))).status_code

    online = {
        "type": "stream.online",
        "version": "1",
        "condition": {"broadcaster_user_id": BROADCASTER},
    }
    assert await create({**online, "version": "7"}, w.app) == 400
    assert await create({**online, "type": "channel.nope"}, w.app) == 400
    assert (
        await create({**online, "condition": {"user_id": BROADCASTER}, "transport": hook}, w.app)
        == 400
    )
    assert await create({**online, "transport": {**hook, "secret": "short"}}, w.app) == 400
    assert await create({**online, "transport": hook}, w.bot) == 400  # webhooks need an app token
    socket = {"method": "websocket", "session_id": "AQoQnope"}
    assert await create({**online, "transport": socket}, w.bot) == 400  # no such session
    assert (
        await create({**online, "transport": socket}, w.app) == 400
    )  # websockets need a user token
    raid_both = {
        "type": "channel.raid",
        "version": "1",
        "condition": {"from_broadcaster_user_id": VIEWER, "to_broadcaster_user_id": BROADCASTER},
        "transport": hook,
    }
    assert await create(raid_both, w.app) == 400

    subs = {
        "type": "channel.subscribe",
        "version": "1",
        "condition": {"broadcaster_user_id": BROADCASTER},
        "transport": hook,
    }
    assert await create(subs, w.app) == 403  # the broadcaster never granted the scope
    w.twitch.grant(w.client_id, BROADCASTER, "channel:read:subscriptions")
    assert await create(subs, w.app) == 202
    assert w.twitch.subscriptions("channel.subscribe")[0].cost == 0


async def test_failed_webhook_deliveries_are_retried_with_the_same_message_id(w: World) -> None:
    receiver = Receiver()
    async with receiving(receiver) as callback:
        await subscribe_webhook(w, callback)
        await w.twitch.settle()
        receiver.fail_next = 2
        (delivery,) = await w.twitch.emit(
            "stream.online", payloads.stream_online(broadcaster=BROADCASTER)
        )
        assert delivery.delivered
        attempts = [
            h for h, _ in receiver.requests if h["twitch-eventsub-message-type"] == "notification"
        ]
        assert len({h["twitch-eventsub-message-id"] for h in attempts}) == 1
        assert [h["twitch-eventsub-message-retry"] for h in attempts] == ["0", "1", "2"]
        assert len(receiver.notifications) == 1


async def test_webhooks_that_keep_failing_are_revoked() -> None:
    async with world(webhook_retries=1, webhook_failures_to_revoke=2) as w:
        receiver = Receiver()
        async with receiving(receiver) as callback:
            await subscribe_webhook(w, callback)
            await w.twitch.settle()
            receiver.fail_next = 100
            event = payloads.stream_online(broadcaster=BROADCASTER)
            assert [d.delivered for d in await w.twitch.emit("stream.online", event)] == [False]
            await w.twitch.emit("stream.online", event)
            (sub,) = w.twitch.subscriptions()
            assert sub.status == "notification_failures_exceeded"
            assert receiver.requests[-1][0]["twitch-eventsub-message-type"] == "revocation"


async def test_webhook_sender_variations_against_a_careful_receiver(w: World) -> None:
    receiver = Receiver()
    subscription = payloads.example("channel.follow")["subscription"]
    message = notification(subscription, payloads.follow())
    async with receiving(receiver) as callback, WebhookSender() as sender:
        first = await sender.send(callback, SECRET, message)
        assert first.status == 204
        again = await sender.redeliver(callback, SECRET, first)
        assert again.status == 204 and receiver.duplicates == 1
        assert (
            again.headers["Twitch-Eventsub-Message-Id"]
            == first.headers["Twitch-Eventsub-Message-Id"]
        )
        assert again.headers["Twitch-Eventsub-Message-Retry"] == "1"
        stale = await sender.send_stale(
            callback, SECRET, notification(subscription, payloads.follow())
        )
        assert stale.status == 400 and stale.body == "Message has expired."
        forged = await sender.send_bad_signature(callback, SECRET, message)
        assert forged.status == 403
        malformed = await sender.send_malformed(callback, SECRET, subscription)
        assert malformed.status == 400
    assert len(receiver.notifications) == 1


async def test_revoking_a_webhook_subscription_tells_the_callback(w: World) -> None:
    receiver = Receiver()
    async with receiving(receiver) as callback:
        created = await subscribe_webhook(w, callback)
        await w.twitch.settle()
        sub_id = created.json()["data"][0]["id"]
        delivery = await w.twitch.revoke_subscription(sub_id, "user_removed")
        assert delivery.delivered
        headers, raw = receiver.requests[-1]
        assert headers["twitch-eventsub-message-type"] == "revocation"
        assert json.loads(raw)["subscription"]["status"] == "user_removed"
        assert w.twitch.subscriptions()[0].status == "user_removed"


async def test_a_user_disconnecting_the_app_revokes_what_rested_on_them(w: World) -> None:
    receiver = Receiver()
    w.twitch.grant(w.client_id, BROADCASTER, "channel:read:subscriptions")
    broadcaster = w.twitch.issue_user_token(w.client_id, BROADCASTER, "channel:read:subscriptions")
    async with receiving(receiver) as callback:
        await subscribe_webhook(w, callback, "channel.subscribe")
        await subscribe_webhook(w, callback, "stream.online")
        await w.twitch.settle()
        (delivery,) = await w.twitch.disconnect_app(w.client_id, BROADCASTER)
        assert delivery.subscription.type == "channel.subscribe"
        headers, raw = receiver.requests[-1]
        assert headers["twitch-eventsub-message-type"] == "revocation"
        assert json.loads(raw)["subscription"]["status"] == "authorization_revoked"
        assert w.twitch.subscriptions("stream.online")[0].status == "enabled"
    validate = await w.http.get(
        f"{w.twitch.auth_url}/validate",
        headers={"Authorization": f"OAuth {broadcaster.access_token}"},
    )
    assert validate.status_code == 401


# --- EventSub over WebSocket -------------------------------------------------------------------


async def recv(ws: ClientConnection, timeout: float = 5.0) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), timeout))
    return message


async def close_code(ws: ClientConnection, timeout: float = 5.0) -> int | None:
    with contextlib.suppress(ConnectionClosed):
        while True:
            await asyncio.wait_for(ws.recv(), timeout)
    return ws.close_code


async def subscribe_ws(
    w: World,
    session_id: str,
    type_: str = "channel.chat.message",
    condition: dict[str, str] | None = None,
) -> httpx2.Response:
    return await w.http.post(
        f"{w.twitch.helix_url}/eventsub/subscriptions",
        json={
            "type": type_,
            "version": payloads.version_of(type_),
            "condition": condition or {"broadcaster_user_id": BROADCASTER, "user_id": BOT},
            "transport": {"method": "websocket", "session_id": session_id},
        },
        headers=w.headers(),
    )


async def test_websocket_welcome_clamps_the_keepalive_and_sends_keepalives(w: World) -> None:
    async with connect(w.twitch.eventsub_ws_url) as ws:
        welcome = await recv(ws)
        assert welcome["metadata"]["message_type"] == "session_welcome"
        assert RFC3339_NS.match(welcome["metadata"]["message_timestamp"])
        session = welcome["payload"]["session"]
        assert session["status"] == "connected" and session["reconnect_url"] is None
        assert session["keepalive_timeout_seconds"] == 10
        assert RFC3339_NS.match(session["connected_at"])
        await subscribe_ws(w, session["id"])
        keepalive = await recv(ws)
        assert keepalive["metadata"]["message_type"] == "session_keepalive"
        assert keepalive["payload"] == {}
    for asked, granted in (("1", 10), ("30", 30), ("9999", 600)):
        async with connect(f"{w.twitch.eventsub_ws_url}?keepalive_timeout_seconds={asked}") as ws:
            assert (await recv(ws))["payload"]["session"]["keepalive_timeout_seconds"] == granted


async def test_an_unused_connection_is_closed_with_4003() -> None:
    async with world(ws_unused_timeout=0.3) as w, connect(w.twitch.eventsub_ws_url) as ws:
        await recv(ws)
        assert await close_code(ws) == 4003


async def test_a_client_that_talks_is_closed_with_4001(w: World) -> None:
    async with connect(w.twitch.eventsub_ws_url) as ws:
        session_id = (await recv(ws))["payload"]["session"]["id"]
        await subscribe_ws(w, session_id)
        await ws.send('{"hello": "twitch"}')
        assert await close_code(ws) == 4001
    (sub,) = w.twitch.subscriptions()
    assert sub.status == "websocket_received_inbound_traffic"


async def test_websocket_subscription_receives_matching_notifications(w: World) -> None:
    async with connect(w.twitch.eventsub_ws_url) as ws:
        session_id = (await recv(ws))["payload"]["session"]["id"]
        created = await subscribe_ws(w, session_id)
        assert created.status_code == 202
        (sub,) = created.json()["data"]
        assert sub["status"] == "enabled" and sub["cost"] == 0
        assert sub["transport"]["session_id"] == session_id and sub["transport"]["connected_at"]
        assert (await subscribe_ws(w, session_id)).status_code == 409

        await w.twitch.emit("channel.chat.message", payloads.chat_message(broadcaster="elsewhere"))
        parent = payloads.chat_message(broadcaster=BROADCASTER, chatter=VIEWER, text="first")
        reply = payloads.chat_message(
            broadcaster=BROADCASTER,
            chatter=BOT,
            text="@cool_user hi",
            badges=["moderator"],
            reply_to=parent,
        )
        await w.twitch.emit("channel.chat.message", reply)
        message = await recv(ws)
        metadata = message["metadata"]
        assert metadata["message_type"] == "notification"
        assert metadata["subscription_type"] == "channel.chat.message"
        assert metadata["subscription_version"] == "1"
        assert message["payload"]["subscription"]["id"] == sub["id"]
        event = message["payload"]["event"]
        assert event["message"]["text"] == "@cool_user hi"
        assert event["reply"]["parent_message_id"] == parent["message_id"]
        assert event["badges"] == [{"set_id": "moderator", "id": "1", "info": ""}]


async def test_the_bots_own_chat_and_whispers_come_back_over_eventsub(w: World) -> None:
    async with connect(w.twitch.eventsub_ws_url) as ws:
        session_id = (await recv(ws))["payload"]["session"]["id"]
        await subscribe_ws(w, session_id)
        sent = await send_chat(w, "I am the bot")
        await w.twitch.settle()
        echo = (await recv(ws))["payload"]["event"]
        assert echo["chatter_user_id"] == BOT and echo["chatter_user_login"] == "waddlebot"
        assert echo["message_id"] == sent["message_id"]
        assert echo["message"]["text"] == "I am the bot"


async def test_reconnect_moves_the_session_without_losing_an_event(w: World) -> None:
    total = 60
    async with connect(w.twitch.eventsub_ws_url) as old:
        session_id = (await recv(old))["payload"]["session"]["id"]
        await subscribe_ws(w, session_id)

        async def produce() -> None:
            for n in range(total):
                await w.twitch.emit(
                    "channel.chat.message",
                    payloads.chat_message(broadcaster=BROADCASTER, text=f"event {n}"),
                )
                await asyncio.sleep(0.005)

        producer = asyncio.create_task(produce())
        received: list[str] = []

        async def drain(ws: ClientConnection) -> int | None:
            with contextlib.suppress(ConnectionClosed):
                while True:
                    message = await recv(ws)
                    if message["metadata"]["message_type"] == "notification":
                        received.append(message["payload"]["event"]["message"]["text"])
            return ws.close_code

        await asyncio.sleep(0.05)
        await w.twitch.ws_reconnect()
        while True:
            message = await recv(old)
            if message["metadata"]["message_type"] == "session_reconnect":
                break
            if message["metadata"]["message_type"] == "notification":
                received.append(message["payload"]["event"]["message"]["text"])
        moving = message["payload"]["session"]
        assert moving["status"] == "reconnecting" and moving["keepalive_timeout_seconds"] is None
        async with connect(moving["reconnect_url"]) as new:
            welcome = await recv(new)
            assert welcome["metadata"]["message_type"] == "session_welcome"
            assert welcome["payload"]["session"]["id"] == session_id
            assert await drain(old) == 1000  # the fake closes the old connection itself
            await producer
            # Every emit above has been written to one of the two sockets; read the rest.
            while len(received) < total:
                message = await recv(new)
                if message["metadata"]["message_type"] == "notification":
                    received.append(message["payload"]["event"]["message"]["text"])
            assert w.twitch.subscriptions()[0].status == "enabled"
        assert sorted(received, key=lambda t: int(t.split()[1])) == [
            f"event {n}" for n in range(total)
        ]


async def test_a_client_that_does_not_move_is_closed_with_4004() -> None:
    async with world(ws_reconnect_grace=0.3) as w, connect(w.twitch.eventsub_ws_url) as ws:
        session_id = (await recv(ws))["payload"]["session"]["id"]
        await subscribe_ws(w, session_id)
        await w.twitch.ws_reconnect(session_id)
        assert await close_code(ws) == 4004
        assert w.twitch.subscriptions()[0].status == "websocket_failed_to_reconnect"


async def test_revocation_and_disconnect_over_websocket(w: World) -> None:
    async with connect(w.twitch.eventsub_ws_url) as ws:
        session_id = (await recv(ws))["payload"]["session"]["id"]
        created = await subscribe_ws(w, session_id)
        follow = await subscribe_ws(
            w,
            session_id,
            "channel.follow",
            {"broadcaster_user_id": BROADCASTER, "moderator_user_id": BOT},
        )
        assert follow.status_code == 202
        await w.twitch.revoke_subscription(created.json()["data"][0]["id"])
        revoked = await recv(ws)
        assert revoked["metadata"]["message_type"] == "revocation"
        assert revoked["metadata"]["subscription_type"] == "channel.chat.message"
        assert revoked["payload"]["subscription"]["status"] == "authorization_revoked"
    await w.twitch.settle()
    for _ in range(100):
        if w.twitch.subscriptions("channel.follow")[0].status != "enabled":
            break
        await asyncio.sleep(0.02)
    assert w.twitch.subscriptions("channel.follow")[0].status == "websocket_disconnected"


# --- payload builders ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "type_",
    [
        "channel.chat.message",
        "channel.follow",
        "channel.subscribe",
        "channel.subscription.gift",
        "channel.subscription.message",
        "channel.cheer",
        "channel.raid",
        "stream.online",
        "stream.offline",
        "user.whisper.message",
    ],
)
def test_every_supported_type_has_an_example(type_: str) -> None:
    example = payloads.example(type_)
    assert example["subscription"]["type"] == type_
    assert example["event"]


def test_builders_keep_the_official_shape() -> None:
    anonymous = payloads.cheer(anonymous=True, bits=5)
    assert anonymous["user_id"] is None and anonymous["is_anonymous"] is True
    assert anonymous["broadcaster_user_login"] == "cooler_user"
    gift = payloads.subscription_gift(gifter=User("42", "gifter"), total=5)
    assert (gift["user_login"], gift["total"]) == ("gifter", 5)
    raid = payloads.raid(from_broadcaster="77", viewers=3)
    assert raid["from_broadcaster_user_id"] == "77" and raid["to_broadcaster_user_id"] == "1337"
    assert set(payloads.chat_message()) == set(payloads.example("channel.chat.message")["event"])
