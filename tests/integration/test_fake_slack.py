"""The fake Slack itself, driven by the real slack-sdk where Slack's own client would talk to
it: the Web API (answers, errors, 429s), signed Events API and slash command requests checked
with slack-sdk's SignatureVerifier, response_url rules, Socket Mode with slack-sdk's aiohttp
SocketModeClient, and the OAuth v2 install flow."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
from aiohttp import WSMessage
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.fakes.slack import Channel, FakeSlack, Team, User
from tests.fakes.slack.examples import example
from tests.support.harness import serving_app


class FakeClock:
    def __init__(self, start: float | None = None) -> None:
        self.now = time.time() if start is None else start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    signed: bool  # slack-sdk's SignatureVerifier accepted it


Reply = Callable[[Received], Awaitable[Response]]


async def _ok(received: Received) -> Response:
    return Response(status_code=200)


@dataclass
class Receiver:
    """An app's Request URL: verifies with slack-sdk, records, answers with ``reply``."""

    verifier: SignatureVerifier
    reply: Reply = _ok
    got: list[Received] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def endpoint(self, request: Request) -> Response:
        body = await request.body()
        headers = dict(request.headers)
        received = Received(headers, body, self.verifier.is_valid_request(body, headers))
        self.got.append(received)
        self.arrived.set()
        if not received.signed:
            return PlainTextResponse("invalid signature", status_code=401)
        return await self.reply(received)

    def json(self, index: int = -1) -> Any:
        return json.loads(self.got[index].body)

    def form(self, index: int = -1) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.got[index].body.decode()).items()}


@dataclass
class World:
    fake: FakeSlack
    team: Team
    alice: User
    olga: User  # the primary owner
    general: Channel
    web: AsyncWebClient
    receiver: Receiver
    url: str  # the receiver's URL


@contextlib.asynccontextmanager
async def world(**options: Any) -> AsyncIterator[World]:
    options.setdefault("socket_ack_timeout", 0.3)
    options.setdefault("event_retry_delays", (0.0, 0.05, 0.05))
    async with FakeSlack(**options) as fake:
        team = fake.add_team("Acme")
        alice = fake.add_user(team, "alice", real_name="Alice Liddell")
        olga = fake.add_user(team, "olga", is_primary_owner=True)
        general = fake.add_channel(team, "general", members=[olga, alice])
        receiver = Receiver(SignatureVerifier(fake.signing_secret))
        app = Starlette(routes=[Route("/slack", receiver.endpoint, methods=["POST"])])
        async with serving_app(app) as base:
            web = AsyncWebClient(token=team.bot_token, base_url=fake.api_url)
            yield World(fake, team, alice, olga, general, web, receiver, f"{base}/slack")


@pytest.fixture
async def w() -> AsyncIterator[World]:
    async with world() as made:
        yield made


# --- Web API ------------------------------------------------------------------------------


async def test_auth_test_and_post_message_through_the_sdk(w: World) -> None:
    me = await w.web.auth_test()
    assert set(me.data) == set(example("web.auth.test"))
    assert me["team_id"] == w.team.id and me["user_id"] == w.team.bot_user_id
    assert me["bot_id"] == w.team.bot_id and me["url"] == "https://acme.slack.com/"

    sent = await w.web.chat_postMessage(channel=w.general.id, text="pong")
    assert sent["channel"] == w.general.id
    message = sent["message"]
    assert set(message) == set(example("web.chat.postMessage")["message"])
    assert message["user"] == w.team.bot_user_id and message["bot_id"] == w.team.bot_id
    assert message["ts"] == sent["ts"] and message["app_id"] == w.fake.app_id

    asked = w.fake.message(w.team, w.general, w.alice, "!ping")
    reply = await w.web.chat_postMessage(
        channel=w.general.id, text="pong again", thread_ts=asked["ts"], reply_broadcast=True
    )
    assert reply["message"]["thread_ts"] == asked["ts"]
    assert reply["message"]["parent_user_id"] == w.alice.id
    assert reply["message"]["subtype"] == "thread_broadcast"

    posted = await w.fake.wait_for_posted(2, w.general)
    assert [p.text for p in posted] == ["pong", "pong again"]
    assert posted[1].thread_ts == asked["ts"] and posted[1].reply_broadcast
    assert float(posted[0].ts) < float(posted[1].ts)
    call = w.fake.calls_to("chat.postMessage")[0]
    assert call.token == w.team.bot_token and call.params["text"] == "pong" and call.ok


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing:UserWarning")
async def test_failures_are_http_200_with_slack_errors(w: World) -> None:
    hidden = w.fake.add_channel(w.team, "secret", members=[w.alice], bot_member=False)
    expected: dict[str, dict[str, Any]] = {
        "channel_not_found": {"channel": "C0NOTHERE00", "text": "x"},
        "not_in_channel": {"channel": hidden.id, "text": "x"},
        "msg_too_long": {"channel": w.general.id, "text": "x" * 40_001},
        "no_text": {"channel": w.general.id},
    }
    for error, arguments in expected.items():
        with pytest.raises(SlackApiError) as caught:
            await w.web.chat_postMessage(**arguments)
        assert caught.value.response.status_code == 200
        assert caught.value.response.data == {**example("web.error"), "error": error}
    await w.web.chat_postMessage(channel=w.general.id, text="x" * 40_000)

    with pytest.raises(SlackApiError) as caught:
        await w.web.users_info(user="U0NOBODY000")
    assert caught.value.response["error"] == "user_not_found"
    bad_token = AsyncWebClient(token="xoxb-0-0-nope", base_url=w.fake.api_url)
    with pytest.raises(SlackApiError) as caught:
        await bad_token.auth_test()
    assert caught.value.response["error"] == "invalid_auth"
    with pytest.raises(SlackApiError) as caught:
        await AsyncWebClient(base_url=w.fake.api_url).auth_test()
    assert caught.value.response["error"] == "not_authed"
    w.fake.revoke_token(w.team.bot_token)
    with pytest.raises(SlackApiError) as caught:
        await w.web.auth_test()
    assert caught.value.response["error"] == "token_revoked"


async def test_token_as_form_field_but_not_in_a_json_body(w: World) -> None:
    async with httpx2.AsyncClient() as http:
        form = await http.post(
            w.fake.api_url + "chat.postMessage",
            data={"token": w.team.bot_token, "channel": "#general", "text": "by form"},
        )
        assert form.status_code == 200 and form.json()["ok"] is True
        assert form.json()["channel"] == w.general.id
        body = {"token": w.team.bot_token, "channel": w.general.id, "text": "by json"}
        in_json = await http.post(w.fake.api_url + "chat.postMessage", json=body)
        assert in_json.json() == {"ok": False, "error": "not_authed"}
        unknown = await http.post(w.fake.api_url + "chat.postMessagez")
        assert unknown.status_code == 404 and unknown.json()["error"] == "unknown_method"
    assert [p.text for p in w.fake.posted(w.general)] == ["by form"]


async def test_ephemerals_ims_and_dms(w: World) -> None:
    carol = w.fake.add_user(w.team, "carol")
    sent = await w.web.chat_postEphemeral(channel=w.general.id, user=w.alice.id, text="psst")
    assert set(sent.data) == set(example("web.chat.postEphemeral"))
    with pytest.raises(SlackApiError) as caught:
        await w.web.chat_postEphemeral(channel=w.general.id, user=carol.id, text="psst")
    assert caught.value.response["error"] == "user_not_in_channel"
    (ephemeral,) = w.fake.ephemerals(w.general)
    assert ephemeral.ephemeral_to == w.alice.id and ephemeral.ts == sent["message_ts"]
    assert w.fake.posted(w.general) == []

    opened = await w.web.conversations_open(users=w.alice.id)
    assert set(opened.data) == set(example("web.conversations.open"))
    assert opened.data == {"ok": True, "channel": {"id": opened["channel"]["id"]}}
    assert opened["channel"]["id"].startswith("D")
    again = await w.web.conversations_open(users=[w.alice.id])
    assert again["already_open"] is True and again["channel"]["id"] == opened["channel"]["id"]
    await w.web.chat_postMessage(channel=opened["channel"]["id"], text="hello in private")
    await w.web.chat_postMessage(channel=w.alice.id, text="to the user id")
    dms = await w.fake.wait_for_dms(2, w.alice)
    assert [m.text for m in dms] == ["hello in private", "to the user id"]
    info = await w.web.conversations_info(channel=opened["channel"]["id"])
    assert info["channel"]["is_im"] is True and info["channel"]["user"] == w.alice.id


async def test_users_team_and_conversations(w: World) -> None:
    olga = (await w.web.users_info(user=w.olga.id))["user"]
    assert set(olga) == set(example("web.users.info")["user"])
    assert (olga["is_admin"], olga["is_owner"], olga["is_primary_owner"]) == (True, True, True)
    alice = (await w.web.users_info(user=w.alice.id))["user"]
    assert (alice["is_admin"], alice["is_owner"], alice["is_bot"]) == (False, False, False)
    assert alice["profile"]["display_name"] == "alice" and alice["real_name"] == "Alice Liddell"
    assert alice["team_id"] == w.team.id
    bot = (await w.web.users_info(user=w.team.bot_user_id))["user"]
    assert bot["is_bot"] is True and bot["profile"]["bot_id"] == w.team.bot_id

    team = (await w.web.team_info())["team"]
    assert (team["id"], team["name"], team["domain"]) == (w.team.id, "Acme", "acme")

    channel = (await w.web.conversations_info(channel=w.general.id))["channel"]
    assert set(channel) == set(example("web.conversations.info")["channel"])
    assert channel["name"] == "general" and channel["is_member"] is True
    members, cursor = [], None
    while True:
        page = await w.web.conversations_members(channel=w.general.id, limit=2, cursor=cursor)
        assert set(page.data) == set(example("web.conversations.members"))
        members += page["members"]
        cursor = page["response_metadata"]["next_cursor"]
        if not cursor:
            break
    assert members == [w.olga.id, w.alice.id, w.team.bot_user_id]


async def test_a_forced_429_is_waited_out_by_the_sdk_retry_handler(w: World) -> None:
    w.fake.force_429("chat.postMessage", times=1, retry_after=1)
    patient = AsyncWebClient(
        token=w.team.bot_token,
        base_url=w.fake.api_url,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)],
    )
    started = time.monotonic()
    sent = await patient.chat_postMessage(channel=w.general.id, text="eventually")
    assert sent["ok"] and time.monotonic() - started >= 1.0
    assert [c.status for c in w.fake.calls_to("chat.postMessage")] == [429, 200]


async def test_a_forced_429_surfaces_with_retry_after_without_a_handler(w: World) -> None:
    w.fake.force_429("users.info", times=1, retry_after=7)
    with pytest.raises(SlackApiError) as caught:
        await w.web.users_info(user=w.alice.id)
    response = caught.value.response
    assert response.status_code == 429 and response.headers["Retry-After"] == "7"
    assert response.data == example("web.ratelimited")["body"]
    assert (await w.web.users_info(user=w.alice.id))["ok"]


async def test_realistic_post_message_limit_per_channel() -> None:
    clock = FakeClock()
    async with world(clock=clock, limit_post_message=True) as w:
        random = w.fake.add_channel(w.team, "random")
        for n in range(3):  # a short burst goes through
            await w.web.chat_postMessage(channel=w.general.id, text=f"burst {n}")
        with pytest.raises(SlackApiError) as caught:
            await w.web.chat_postMessage(channel=w.general.id, text="too fast")
        assert caught.value.response.status_code == 429
        assert caught.value.response.headers["Retry-After"] == "1"
        await w.web.chat_postMessage(channel=random.id, text="another channel is fine")
        clock.advance(1.0)
        await w.web.chat_postMessage(channel=w.general.id, text="a second later")
        assert len(w.fake.posted(w.general)) == 4


# --- Events API over HTTP ---------------------------------------------------------------


async def test_events_are_signed_and_enveloped_like_slack(w: World) -> None:
    event = w.fake.message(w.team, w.general, w.alice, "!ping")
    status, body = await w.fake.send_event(w.url, w.team, event)
    assert (status, body) == (200, "")
    received = w.receiver.got[0]
    assert received.signed and received.headers["content-type"] == "application/json"
    assert "x-slack-retry-num" not in received.headers
    envelope = w.receiver.json()
    assert set(envelope) == set(example("envelope.event_callback"))
    assert envelope["type"] == "event_callback" and envelope["event_id"] == w.fake.last_event_id
    assert envelope["event_id"].startswith("Ev")
    assert (envelope["team_id"], envelope["api_app_id"]) == (w.team.id, w.fake.app_id)
    assert envelope["token"] == w.fake.verification_token
    assert envelope["authorizations"][0]["user_id"] == w.team.bot_user_id
    assert envelope["event"] == event
    assert set(event) == set(example("event.message"))
    assert event["channel_type"] == "channel" and event["team"] == w.team.id


async def test_a_retry_carries_the_same_event_id_and_retry_headers(w: World) -> None:
    event = w.fake.message(w.team, w.general, w.alice, "!ping")
    await w.fake.send_event(w.url, w.team, event)
    first_id = w.fake.last_event_id
    await w.fake.send_event(w.url, w.team, event, retry_num=1, retry_reason="http_timeout")
    first, retry = w.receiver.json(0), w.receiver.json(1)
    assert retry["event_id"] == first_id and retry["event_time"] == first["event_time"]
    headers = w.receiver.got[1].headers
    assert headers["x-slack-retry-num"] == "1" and headers["x-slack-retry-reason"] == "http_timeout"
    assert w.receiver.got[1].signed


async def test_tampered_requests_are_refused_by_the_sdk_verifier(w: World) -> None:
    event = w.fake.message(w.team, w.general, w.alice, "!ping")
    for tamper in ("stale", "bad_signature", "unsigned", "no_signature", "no_timestamp"):
        status, _ = await w.fake.send_event(w.url, w.team, event, tamper=tamper)
        assert status == 401, tamper
    stale = w.receiver.got[0]
    assert int(stale.headers["x-slack-request-timestamp"]) < time.time() - 300
    assert "x-slack-signature" not in w.receiver.got[2].headers
    await w.fake.send_malformed_event(w.url)
    malformed = w.receiver.got[-1]
    assert malformed.signed
    with pytest.raises(ValueError):
        json.loads(malformed.body)


async def test_deliver_event_retries_like_slack() -> None:
    async with world(event_timeout=0.2) as w:
        answers = iter([(500, 0.0), (200, 0.5), (200, 0.0)])  # (status, delay)

        async def flaky(received: Received) -> Response:
            status, delay = next(answers)
            await asyncio.sleep(delay)  # longer than event_timeout: Slack stops waiting
            return Response(status_code=status)

        w.receiver.reply = flaky
        results = await w.fake.deliver_event(
            w.url, w.team, w.fake.message(w.team, w.general, w.alice, "hi")
        )
        assert [r.status for r in results] == [500, None, 200]
        assert [r.retry_num for r in results] == [0, 1, 2]
        assert len({r.event_id for r in results}) == 1
        retry_reasons = [r.headers.get("X-Slack-Retry-Reason") for r in results]
        assert retry_reasons == [None, "http_error", "http_timeout"]

        async def refuse(received: Received) -> Response:
            return Response(status_code=503, headers={"X-Slack-No-Retry": "1"})

        w.receiver.reply = refuse
        results = await w.fake.deliver_event(
            w.url, w.team, w.fake.message(w.team, w.general, w.alice, "again")
        )
        assert len(results) == 1 and results[0].refuses_retries


async def test_url_verification_challenge(w: World) -> None:
    async def echo_json(received: Received) -> Response:
        return JSONResponse({"challenge": json.loads(received.body)["challenge"]})

    w.receiver.reply = echo_json
    verification = await w.fake.url_verification(w.url)
    assert verification.passed
    sent = w.receiver.json()
    assert set(sent) == {"token", "challenge", "type"} and sent["type"] == "url_verification"

    w.receiver.reply = _ok
    assert not (await w.fake.url_verification(w.url)).passed


async def test_event_builders_follow_the_conversation(w: World) -> None:
    fake, team = w.fake, w.team
    secret = fake.add_channel(team, "secret", members=[w.alice], private=True)
    im = fake.open_im(team, w.alice)
    root = fake.message(team, w.general, w.olga, "question")
    reply = fake.message(team, w.general, w.alice, "answer", thread_ts=root["ts"])
    nested = fake.message(team, w.general, w.olga, "more", thread_ts=reply["ts"])
    assert reply["thread_ts"] == root["ts"] and reply["parent_user_id"] == w.olga.id
    assert nested["thread_ts"] == root["ts"]
    assert fake.message(team, secret, w.alice, "x")["channel_type"] == "group"
    assert fake.message(team, im, w.alice, "x")["channel_type"] == "im"

    robot = fake.add_user(team, "robot", is_bot=True)
    from_bot = fake.message(team, w.general, robot, "beep")
    assert from_bot["bot_id"] == robot.bot_id and "client_msg_id" not in from_bot
    assert from_bot["bot_profile"]["id"] == robot.bot_id
    legacy = fake.bot_message(team, w.general, "Build finished")
    assert legacy["subtype"] == "bot_message" and "user" not in legacy

    changed = fake.message_changed(team, w.general, root["ts"], "question, edited")
    assert changed["subtype"] == "message_changed" and changed["message"]["ts"] == root["ts"]
    assert changed["message"]["text"] == "question, edited"
    assert changed["previous_message"]["text"] == "question"
    deleted = fake.message_deleted(team, w.general, reply["ts"])
    assert deleted["deleted_ts"] == reply["ts"] and deleted["hidden"] is True

    mention = fake.app_mention(team, w.general, w.alice, "ping")
    assert mention["text"] == f"<@{team.bot_user_id}> ping"
    elements = mention["blocks"][0]["elements"][0]["elements"]
    assert elements[0] == {"type": "user", "user_id": team.bot_user_id}
    bob = fake.add_user(team, "bob")
    joined = fake.member_joined(team, secret, bob, inviter=w.alice)
    assert (joined["channel_type"], joined["inviter"]) == ("G", w.alice.id)
    assert bob.id in secret.members
    assert "inviter" not in fake.member_joined(team, w.general, bob)


# --- slash commands -----------------------------------------------------------------------


async def test_slash_command_form_answer_and_response_url() -> None:
    clock = FakeClock()
    async with world(clock=clock) as w:

        async def pong(received: Received) -> Response:
            return JSONResponse({"response_type": "ephemeral", "text": "pong"})

        w.receiver.reply = pong
        status, _ = await w.fake.slash_command(w.url, w.team, w.general, w.alice, "/waddle", "ping")
        assert status == 200 and w.receiver.got[0].signed
        form = w.receiver.form()
        assert set(form) == set(example("slash_command"))
        assert (form["command"], form["text"], form["user_id"]) == ("/waddle", "ping", w.alice.id)
        assert form["channel_name"] == "general" and form["is_enterprise_install"] == "false"
        command = w.fake.last_command
        assert form["response_url"] == command.response_url
        (ephemeral,) = w.fake.ephemerals(w.general)
        assert ephemeral.text == "pong" and ephemeral.ephemeral_to == w.alice.id

        async with httpx2.AsyncClient() as http:
            for n in range(5):
                body = {"response_type": "in_channel", "text": f"later {n}"}
                answer = await http.post(command.response_url, json=body)
                assert answer.status_code == 200 and answer.json() == {"ok": True}
            sixth = await http.post(command.response_url, json={"text": "one too many"})
            assert sixth.status_code == 404 and sixth.json()["error"] == "used_url"
            assert len(w.fake.responses()) == 5
            assert [p.text for p in w.fake.posted(w.general)] == [f"later {n}" for n in range(5)]

            await w.fake.slash_command(w.url, w.team, w.general, w.alice, "/waddle", "x")
            clock.advance(1801)
            late = await http.post(w.fake.last_command.response_url, json={"text": "late"})
            assert late.status_code == 404 and late.json()["error"] == "expired_url"


async def test_slash_command_plain_text_and_empty_answers(w: World) -> None:
    async def text(received: Received) -> Response:
        return PlainTextResponse("just for you")

    w.receiver.reply = text
    await w.fake.slash_command(w.url, w.team, w.general, w.alice, "/waddle", "help")
    assert w.fake.last_command.immediate == "just for you"
    assert [e.text for e in w.fake.ephemerals(w.general)] == ["just for you"]
    w.receiver.reply = _ok
    await w.fake.slash_command(w.url, w.team, w.general, w.alice, "/waddle", "quiet")
    assert w.fake.last_command.immediate is None and len(w.fake.ephemerals()) == 1


# --- Socket Mode with slack-sdk's client -----------------------------------------------------


@dataclass
class SocketApp:
    client: SocketModeClient
    requests: list[SocketModeRequest] = field(default_factory=list)
    frames: list[dict[str, Any]] = field(default_factory=list)
    ack: Callable[[SocketModeRequest], SocketModeResponse | None] = lambda request: (
        SocketModeResponse(envelope_id=request.envelope_id)
    )


@contextlib.asynccontextmanager
async def socket_app(w: World) -> AsyncIterator[SocketApp]:
    client = SocketModeClient(
        app_token=w.fake.app_token, web_client=AsyncWebClient(base_url=w.fake.api_url)
    )
    app = SocketApp(client)

    async def on_frame(message: WSMessage) -> None:  # every text frame, disconnects too
        app.frames.append(json.loads(message.data))

    async def on_request(_: AsyncBaseSocketModeClient, request: SocketModeRequest) -> None:
        app.requests.append(request)
        response = app.ack(request)
        if response is not None:
            await client.send_socket_mode_response(response)

    client.on_message_listeners.append(on_frame)
    client.socket_mode_request_listeners.append(on_request)
    await client.connect()
    try:
        await w.fake.wait_for_socket(1)
        yield app
    finally:
        await client.close()


async def test_socket_mode_hello_event_and_ack(w: World) -> None:
    async with socket_app(w) as app:
        event = w.fake.message(w.team, w.general, w.alice, "!ping")
        envelope_id = await w.fake.socket_event(w.team, event)
        ack = await w.fake.wait_for_ack(envelope_id)
        assert ack.envelope_id == envelope_id and ack.attempt == 0 and not ack.late
        hello = app.frames[0]
        assert set(hello) == set(example("socket.hello")) and hello["type"] == "hello"
        assert hello["num_connections"] == 1
        assert hello["connection_info"]["app_id"] == w.fake.app_id
        (request,) = app.requests
        assert (request.type, request.envelope_id) == ("events_api", envelope_id)
        assert (request.retry_attempt, request.retry_reason) == (0, "")
        assert request.payload["event"] == event
        assert request.payload["event_id"] == w.fake.last_event_id
    assert w.fake.calls_to("apps.connections.open")[0].token == w.fake.app_token


async def test_socket_mode_redelivers_an_unacked_event(w: World) -> None:
    async with socket_app(w) as app:
        app.ack = lambda request: (
            SocketModeResponse(envelope_id=request.envelope_id) if request.retry_attempt else None
        )
        envelope_id = await w.fake.socket_event(
            w.team, w.fake.message(w.team, w.general, w.alice, "hello?")
        )
        ack = await w.fake.wait_for_ack(envelope_id)
        assert ack.attempt == 1
        assert [(r.retry_attempt, r.retry_reason) for r in app.requests] == [
            (0, ""),
            (1, "timeout"),
        ]
        assert app.requests[0].payload == app.requests[1].payload
        assert len(w.fake.socket_envelope(envelope_id).deliveries) == 2


async def test_socket_mode_slash_command_answered_in_the_ack(w: World) -> None:
    async with socket_app(w) as app:
        app.ack = lambda request: SocketModeResponse(
            envelope_id=request.envelope_id,
            payload={"response_type": "in_channel", "text": "pong"},
        )
        envelope_id = await w.fake.socket_slash_command(
            w.team, w.general, w.alice, "/waddle", "ping"
        )
        ack = await w.fake.wait_for_ack(envelope_id)
        assert ack.payload == {"response_type": "in_channel", "text": "pong"}
        (request,) = app.requests
        assert request.type == "slash_commands" and request.accepts_response_payload
        assert request.retry_attempt is None
        assert request.payload["command"] == "/waddle" and request.payload["text"] == "ping"
        command = w.fake.last_command
        assert command.envelope_id == envelope_id and command.immediate == ack.payload
        (posted,) = await w.fake.wait_for_posted(1, w.general)
        assert posted.text == "pong" and posted.source == "command_reply"


async def test_socket_mode_disconnect_then_reconnect(w: World) -> None:
    async with socket_app(w) as app:
        await w.fake.socket_disconnect("refresh_requested")
        await w.fake.wait_for_socket(1)
        assert w.fake.socket_connects == 2
        assert len(w.fake.calls_to("apps.connections.open")) == 2
        disconnect = next(f for f in app.frames if f.get("type") == "disconnect")
        assert disconnect["reason"] == "refresh_requested" and disconnect["debug_info"]["host"]
        envelope_id = await w.fake.socket_event(
            w.team, w.fake.app_mention(w.team, w.general, w.alice, "still there?")
        )
        assert (await w.fake.wait_for_ack(envelope_id)).attempt == 0


async def test_socket_mode_wants_the_app_token_and_fresh_urls(w: World) -> None:
    with pytest.raises(SlackApiError) as caught:
        await w.web.apps_connections_open(app_token=w.team.bot_token)
    assert caught.value.response["error"] == "not_allowed_token_type"
    opened = await AsyncWebClient(base_url=w.fake.api_url).apps_connections_open(
        app_token=w.fake.app_token
    )
    assert set(opened.data) == set(example("web.apps.connections.open"))
    url = opened["url"]
    assert url.startswith("ws://") and f"app_id={w.fake.app_id}" in url
    async with connect(url) as ws:
        hello = json.loads(await ws.recv())
        assert hello["type"] == "hello"
    with pytest.raises(InvalidStatus):
        async with connect(url):
            pass


# --- OAuth v2 ----------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning")  # slack-sdk's
async def test_oauth_v2_install_and_code_exchange() -> None:
    redirect = "https://waddlebot.example/slack/oauth/callback"
    async with world(redirect_uris=[redirect]) as w:
        authorize = w.fake.authorize_url(redirect_uri=redirect, state="s-123")
        async with httpx2.AsyncClient() as http:
            page = await http.get(authorize)
            assert page.status_code == 200 and "WaddleBot" in page.text
        callback = w.fake.approve(authorize, w.team, w.olga)
        query = parse_qs(urlsplit(callback).query)
        assert callback.startswith(redirect + "?") and query["state"] == ["s-123"]
        code = query["code"][0]

        anonymous = AsyncWebClient(base_url=w.fake.api_url)
        granted = await anonymous.oauth_v2_access(
            client_id=w.fake.client_id,
            client_secret=w.fake.client_secret,
            code=code,
            redirect_uri=redirect,
        )
        assert set(granted.data) == set(example("web.oauth.v2.access"))
        assert granted["access_token"] == w.team.bot_token and granted["token_type"] == "bot"
        assert granted["bot_user_id"] == w.team.bot_user_id
        assert granted["team"] == {"name": "Acme", "id": w.team.id}
        assert granted["authed_user"] == {"id": w.olga.id} and granted["app_id"] == w.fake.app_id
        assert "chat:write" in granted["scope"].split(",")

        with pytest.raises(SlackApiError) as caught:
            await anonymous.oauth_v2_access(
                client_id=w.fake.client_id,
                client_secret=w.fake.client_secret,
                code=code,
                redirect_uri=redirect,
            )
        assert caught.value.response["error"] == "invalid_code"

        for kwargs, error in (
            ({"redirect_uri": redirect + "/elsewhere"}, "bad_redirect_uri"),
            ({"client_secret": "nope", "redirect_uri": redirect}, "bad_client_secret"),
        ):
            fresh = parse_qs(urlsplit(w.fake.approve(authorize, w.team, w.olga)).query)
            arguments = {"client_id": w.fake.client_id, "client_secret": w.fake.client_secret}
            arguments.update(kwargs)
            with pytest.raises(SlackApiError) as caught:
                await anonymous.oauth_v2_access(code=fresh["code"][0], **arguments)
            assert caught.value.response["error"] == error

        denied = parse_qs(urlsplit(w.fake.deny(authorize)).query)
        assert denied == {"error": ["access_denied"], "state": ["s-123"]}
        async with httpx2.AsyncClient() as http:
            wrong = w.fake.authorize_url(redirect_uri="https://evil.example/cb")
            assert (await http.get(wrong)).status_code == 400


async def test_oauth_user_scopes_give_a_user_token(w: World) -> None:
    authorize = w.fake.authorize_url(redirect_uri="http://127.0.0.1:1/cb", user_scope="users:read")
    code = parse_qs(urlsplit(w.fake.approve(authorize, w.team, w.alice)).query)["code"][0]
    async with httpx2.AsyncClient() as http:  # client credentials in the form this time
        granted = (
            await http.post(
                w.fake.api_url + "oauth.v2.access",
                data={
                    "client_id": w.fake.client_id,
                    "client_secret": w.fake.client_secret,
                    "code": code,
                    "redirect_uri": "http://127.0.0.1:1/cb",
                },
            )
        ).json()
    user = granted["authed_user"]
    assert user["id"] == w.alice.id and user["token_type"] == "user"
    assert user["access_token"].startswith("xoxp-")
    me = await AsyncWebClient(token=user["access_token"], base_url=w.fake.api_url).auth_test()
    assert me["user_id"] == w.alice.id and "bot_id" not in me.data


# --- echoes ---------------------------------------------------------------------------------


async def test_the_bots_own_messages_come_back_as_events(w: World) -> None:
    w.fake.request_url = w.url
    await w.web.chat_postMessage(channel=w.general.id, text="hello, me")
    await w.fake.settle()
    envelope = w.receiver.json()
    event = envelope["event"]
    assert (event["user"], event["bot_id"]) == (w.team.bot_user_id, w.team.bot_id)
    assert event["text"] == "hello, me" and "client_msg_id" not in event
    assert event["ts"] == w.fake.posted(w.general)[0].ts
