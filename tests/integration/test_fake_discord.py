"""The fake Discord itself, over real loopback HTTP and WebSocket: REST auth, rate-limit headers
and 429s, message rules, DMs, application commands, interaction callbacks and follow-ups, the
gateway protocol (hello, identify, heartbeat, dispatch, resume, reconnect, invalid session,
close codes, zlib-stream), the signed interactions sender checked with an independent Ed25519
verification, and the real py-cord client pointed at it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import zlib
from collections.abc import AsyncIterator
from typing import Any

import discord
import httpx2
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.fakes.discord import FakeDiscord, Guild, User, payloads, wire
from tests.support.harness import serving_app

MESSAGES = "POST /channels/{channel_id}/messages"
INTENTS = wire.GUILDS | wire.GUILD_MESSAGES | wire.DIRECT_MESSAGES | wire.MESSAGE_CONTENT


class FakeClock:
    def __init__(self, start: float = 1_750_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(heartbeat_interval_ms=100) as server:
        yield server


@pytest.fixture
async def http(fake: FakeDiscord) -> AsyncIterator[httpx2.AsyncClient]:
    headers = {"Authorization": f"Bot {fake.token}"}
    async with httpx2.AsyncClient(base_url=fake.api_url, headers=headers, timeout=10) as client:
        yield client


def den(fake: FakeDiscord) -> tuple[Guild, User]:
    guild = fake.add_guild("Waddle Den", channels=("general", "quotes"))
    alice = fake.add_user(username="alice")
    guild.add_member(alice)
    return guild, alice


# --- REST: auth, gateway URL, rate limits --------------------------------------------------------


async def test_rest_wants_the_bot_token_and_counts_401s(
    fake: FakeDiscord, http: httpx2.AsyncClient
) -> None:
    async with httpx2.AsyncClient(base_url=fake.api_url) as anonymous:
        missing = await anonymous.get("/users/@me")
        wrong = await anonymous.get("/users/@me", headers={"Authorization": "Bot nope"})
        bearer = await anonymous.get(
            "/users/@me", headers={"Authorization": f"Bearer {fake.token}"}
        )
    for response in (missing, wrong, bearer):
        assert response.status_code == 401
        assert response.json() == {"message": "401: Unauthorized", "code": 0}
    me = await http.get("/users/@me")
    assert me.status_code == 200
    assert me.json()["id"] == fake.bot.id == fake.application_id
    assert me.json()["bot"] is True
    assert [r.status for r in fake.invalid_requests] == [401, 401, 401]
    unknown = await http.get("/nothing/here")
    assert unknown.status_code == 404
    assert unknown.json() == {"message": "404: Not Found", "code": 0}


async def test_gateway_url_points_at_the_fake(fake: FakeDiscord, http: httpx2.AsyncClient) -> None:
    bot = (await http.get("/gateway/bot")).json()
    assert bot["url"] == fake.gateway_url
    assert bot["url"].startswith("ws://127.0.0.1:") and bot["url"].endswith("/gateway")
    assert bot["shards"] == 1
    assert set(bot["session_start_limit"]) == {
        "total",
        "remaining",
        "reset_after",
        "max_concurrency",
    }
    async with httpx2.AsyncClient(base_url=fake.api_url) as anonymous:
        plain = await anonymous.get("/gateway")  # needs no token
    assert plain.json() == {"url": fake.gateway_url}
    app = (await http.get("/applications/@me")).json()
    assert app["id"] == fake.application_id
    assert app["verify_key"] == fake.public_key


async def test_every_answer_has_rate_limit_headers_and_a_bucket_runs_out(
    fake: FakeDiscord, http: httpx2.AsyncClient
) -> None:
    guild, _ = den(fake)
    general, quotes = guild.text_channels
    fake.set_route_limit(MESSAGES, 2, 30.0)
    first = await http.post(f"/channels/{general.id}/messages", json={"content": "one"})
    second = await http.post(f"/channels/{general.id}/messages", json={"content": "two"})
    third = await http.post(f"/channels/{general.id}/messages", json={"content": "three"})
    assert [r.status_code for r in (first, second, third)] == [200, 200, 429]
    assert first.headers["X-RateLimit-Limit"] == "2"
    assert first.headers["X-RateLimit-Remaining"] == "1"
    assert second.headers["X-RateLimit-Remaining"] == "0"
    reset_after = float(second.headers["X-RateLimit-Reset-After"])
    assert 0 < reset_after <= 30
    assert float(second.headers["X-RateLimit-Reset"]) > 1_600_000_000  # epoch seconds
    assert first.headers["X-RateLimit-Bucket"] == second.headers["X-RateLimit-Bucket"]
    assert third.json()["message"] == "You are being rate limited."
    assert third.json()["global"] is False
    assert 0 < third.json()["retry_after"] <= 30
    assert int(third.headers["Retry-After"]) >= 1
    assert third.headers["X-RateLimit-Scope"] == "user"
    assert third.headers["Via"]  # py-cord treats a 429 without Via as a Cloudflare ban
    # The channel is the major parameter: another channel has its own count, same bucket hash.
    other = await http.post(f"/channels/{quotes.id}/messages", json={"content": "one"})
    assert other.status_code == 200
    assert other.headers["X-RateLimit-Bucket"] == first.headers["X-RateLimit-Bucket"]
    assert [m.content for m in fake.sent()] == ["one", "two", "one"]
    assert [r.status for r in fake.invalid_requests] == [429]
    me = await http.get("/users/@me")
    assert me.headers["X-RateLimit-Bucket"] != first.headers["X-RateLimit-Bucket"]


async def test_forced_and_global_429s(fake: FakeDiscord, http: httpx2.AsyncClient) -> None:
    guild, _ = den(fake)
    channel = guild.text_channels[0].id
    fake.force_429(MESSAGES, 2, retry_after=1.5)
    answers = [
        await http.post(f"/channels/{channel}/messages", json={"content": "hi"}) for _ in range(3)
    ]
    assert [a.status_code for a in answers] == [429, 429, 200]
    assert answers[0].json() == {
        "message": "You are being rate limited.",
        "retry_after": 1.5,
        "global": False,
    }
    assert answers[0].headers["Retry-After"] == "2"
    assert answers[0].headers["X-RateLimit-Reset-After"] == "1.500"
    fake.force_429(MESSAGES, 1, scope="shared")
    shared = await http.post(f"/channels/{channel}/messages", json={"content": "hi"})
    assert shared.json()["message"] == "The resource is being rate limited."
    assert shared.headers["X-RateLimit-Scope"] == "shared"
    fake.force_global_429(1, retry_after=0.25)
    global_ = await http.get("/users/@me")
    assert global_.status_code == 429
    assert global_.headers["X-RateLimit-Global"] == "true"
    assert global_.headers["X-RateLimit-Scope"] == "global"
    assert global_.json() == {
        "message": "You are being rate limited.",
        "retry_after": 0.25,
        "global": True,
    }
    assert (await http.get("/users/@me")).status_code == 200
    # Shared-scope 429s do not count as invalid requests; the others do.
    assert len(fake.rate_limited) == 4
    assert len(fake.invalid_requests) == 3


async def test_the_global_limit_spans_routes() -> None:
    async with FakeDiscord(global_limit=(3, 60.0)) as fake:
        headers = {"Authorization": f"Bot {fake.token}"}
        async with httpx2.AsyncClient(base_url=fake.api_url, headers=headers) as http:
            statuses = [
                (await http.get(path)).status_code
                for path in ("/users/@me", "/gateway/bot", "/applications/@me", "/users/@me")
            ]
            assert statuses == [200, 200, 200, 429]
            last = await http.get("/gateway/bot")
            assert last.headers["X-RateLimit-Global"] == "true"


# --- REST: messages, DMs, commands ---------------------------------------------------------------


async def test_message_rules(fake: FakeDiscord, http: httpx2.AsyncClient) -> None:
    guild, alice = den(fake)
    channel = guild.text_channels[0]
    url = f"/channels/{channel.id}/messages"
    assert (await http.post(url, json={"content": "x" * 2000})).status_code == 200
    too_long = await http.post(url, json={"content": "x" * 2001})
    assert too_long.status_code == 400
    body = too_long.json()
    assert body["code"] == 50035 and body["message"] == "Invalid Form Body"
    assert body["errors"]["content"]["_errors"][0]["code"] == "BASE_TYPE_MAX_LENGTH"
    empty = await http.post(url, json={"content": ""})
    assert empty.json() == {"message": "Cannot send an empty message", "code": 50006}
    untyped = await http.post(url, content=b'{"content": "hi"}')
    assert untyped.json()["code"] == 50035
    unknown = await http.post("/channels/1/messages", json={"content": "hi"})
    assert unknown.status_code == 404 and unknown.json()["code"] == 10003

    posted = await fake.post_message(channel, alice, "!quote 12")  # no gateway session: kept
    reply = await http.post(
        url,
        json={
            "content": f"Quote #12 <@{alice.id}> @everyone",
            "allowed_mentions": {"parse": [], "replied_user": True},
            "message_reference": {"message_id": posted["id"]},
        },
    )
    assert reply.status_code == 200
    sent = fake.sent(channel)[-1]
    assert sent.reply_to == posted["id"] and sent.type == wire.MESSAGE_REPLY
    assert sent.allowed_mentions == {"parse": [], "replied_user": True}
    assert sent.mentions == [alice.id]  # pinged as the replied user; <@id> is not parsed
    assert sent.mention_everyone is False
    assert reply.json()["message_reference"]["message_id"] == posted["id"]
    dangling = await http.post(
        url, json={"content": "hi", "message_reference": {"message_id": "1"}}
    )
    assert dangling.json()["errors"]["message_reference"]["_errors"][0]["code"] == (
        "MESSAGE_REFERENCE_UNKNOWN_MESSAGE"
    )
    exclusive = await http.post(
        url, json={"content": "hi", "allowed_mentions": {"parse": ["users"], "users": [alice.id]}}
    )
    assert exclusive.json()["code"] == 50035
    # Without SEND_MESSAGES in the channel: 403 Missing Permissions.
    guild.set_overwrite(channel.id, guild.id, deny=wire.SEND_MESSAGES)
    bot_role = guild.members[fake.bot.id].roles[0]
    guild.set_overwrite(channel.id, bot_role, deny=wire.SEND_MESSAGES)
    refused = await http.post(url, json={"content": "hi"})
    assert refused.status_code == 403 and refused.json()["code"] == 50013


async def test_direct_messages(fake: FakeDiscord, http: httpx2.AsyncClient) -> None:
    _, alice = den(fake)
    opened = await http.post("/users/@me/channels", json={"recipient_id": alice.id})
    assert opened.status_code == 200
    channel = opened.json()
    assert channel["type"] == wire.DM
    assert channel["recipients"][0]["id"] == alice.id
    again = await http.post("/users/@me/channels", json={"recipient_id": alice.id})
    assert again.json()["id"] == channel["id"]
    sent = await http.post(
        f"/channels/{channel['id']}/messages", json={"content": "Your code is 123456"}
    )
    assert sent.status_code == 200
    assert [m.content for m in fake.dms(alice)] == ["Your code is 123456"]
    fake.block_dms(alice)
    blocked = await http.post(f"/channels/{channel['id']}/messages", json={"content": "again"})
    assert blocked.status_code == 403
    assert blocked.json() == {"message": "Cannot send messages to this user", "code": 50007}


async def test_application_commands(fake: FakeDiscord, http: httpx2.AsyncClient) -> None:
    guild, _ = den(fake)
    base = f"/applications/{fake.application_id}/commands"
    quote = {
        "name": "quote",
        "description": "Show a quote",
        "options": [{"type": 4, "name": "number", "description": "Which", "required": True}],
    }
    first = await http.put(base, json=[quote, {"name": "ping", "description": "Pong!"}])
    assert first.status_code == 200
    ids = {c["name"]: c["id"] for c in first.json()}
    assert {c.name for c in fake.commands()} == {"quote", "ping"}
    second = await http.put(base, json=[{**quote, "description": "Quote by number"}])
    assert [c["id"] for c in second.json()] == [ids["quote"]]  # kept its id
    assert [c["description"] for c in (await http.get(base)).json()] == ["Quote by number"]
    bad = await http.put(base, json=[{"name": "Quote", "description": "upper case"}])
    assert bad.status_code == 400 and bad.json()["code"] == 50035
    in_guild = await http.put(
        f"/applications/{fake.application_id}/guilds/{guild.id}/commands", json=[quote]
    )
    assert in_guild.json()[0]["guild_id"] == guild.id
    assert [c.name for c in fake.commands(guild)] == ["quote"]
    assert [c.name for c in fake.commands()] == ["quote"]
    foreign = await http.put("/applications/1/commands", json=[quote])
    assert foreign.status_code == 403
    assert [(r.method, r.guild_id, r.status) for r in fake.registrations] == [
        ("PUT", None, 200),
        ("PUT", None, 200),
        ("PUT", None, 400),
        ("PUT", guild.id, 200),
    ]


# --- interactions: callbacks and follow-ups -----------------------------------------------------


async def test_interaction_callbacks_and_followups(
    fake: FakeDiscord, http: httpx2.AsyncClient
) -> None:
    guild, alice = den(fake)
    channel = guild.text_channels[0]
    ping = await fake.slash_command("ping", channel=channel, user=alice)
    assert ping.payload["member"]["roles"] == [] and ping.payload["data"]["name"] == "ping"
    async with httpx2.AsyncClient(base_url=fake.api_url) as hook:  # no bot token needed
        url = f"/interactions/{ping.id}/{ping.token}/callback"
        answer = await hook.post(url, json={"type": 4, "data": {"content": "Pong!", "flags": 64}})
        assert answer.status_code == 204
        twice = await hook.post(url, json={"type": 4, "data": {"content": "again"}})
        assert twice.status_code == 400 and twice.json()["code"] == 40060
        original = fake.original_response(ping)
        assert original is not None and original.content == "Pong!" and original.ephemeral
        assert ping.response is not None and ping.response.type == 4 and ping.response.ephemeral

        quote = await fake.slash_command(
            "quote", channel=channel, user=alice, options={"number": 12}
        )
        assert quote.payload["data"]["options"] == [{"type": 4, "name": "number", "value": 12}]
        early = await hook.post(
            f"/webhooks/{fake.application_id}/{quote.token}", json={"content": "too soon"}
        )
        assert early.status_code == 404 and early.json()["code"] == 10015
        deferred = await hook.post(
            f"/interactions/{quote.id}/{quote.token}/callback?with_response=true",
            json={"type": 5},
        )
        assert deferred.status_code == 200
        info = deferred.json()
        assert info["interaction"]["id"] == quote.id
        assert info["interaction"]["response_message_loading"] is True
        assert info["resource"]["type"] == 5
        edited = await hook.patch(
            f"/webhooks/{fake.application_id}/{quote.token}/messages/@original",
            json={"content": "Quote #12: waddle"},
        )
        assert edited.status_code == 200 and edited.json()["content"] == "Quote #12: waddle"
        followup = await hook.post(
            f"/webhooks/{fake.application_id}/{quote.token}",
            json={"content": "and another", "flags": 64},
        )
        assert followup.status_code == 200
        assert [m.content for m in fake.followups(quote)] == ["and another"]
        assert fake.followups(quote)[0].ephemeral
        too_long = await hook.post(
            f"/webhooks/{fake.application_id}/{quote.token}", json={"content": "x" * 2001}
        )
        assert too_long.json()["code"] == 50035
        unknown = await hook.post("/interactions/1/nope/callback", json={"type": 4})
        assert unknown.status_code == 404 and unknown.json()["code"] == 10062
    assert [c.type for c in fake.callbacks if c.accepted] == [4, 5]


async def test_a_response_after_three_seconds_is_too_late() -> None:
    clock = FakeClock()
    async with FakeDiscord(clock=clock) as fake, httpx2.AsyncClient(base_url=fake.api_url) as hook:
        guild, alice = den(fake)
        slow = await fake.slash_command("quote", channel=guild.text_channels[0], user=alice)
        clock.advance(3.5)
        late = await hook.post(f"/interactions/{slow.id}/{slow.token}/callback", json={"type": 5})
        assert late.status_code == 404 and late.json()["code"] == 10062
        fast = await fake.slash_command("quote", channel=guild.text_channels[0], user=alice)
        clock.advance(2.5)
        ok = await hook.post(f"/interactions/{fast.id}/{fast.token}/callback", json={"type": 5})
        assert ok.status_code == 204
        clock.advance(14 * 60)  # follow-ups work for 15 minutes
        followup = await hook.post(
            f"/webhooks/{fake.application_id}/{fast.token}", json={"content": "done"}
        )
        assert followup.status_code == 200
        clock.advance(2 * 60)
        expired = await hook.post(
            f"/webhooks/{fake.application_id}/{fast.token}", json={"content": "later"}
        )
        assert expired.status_code == 401 and expired.json()["code"] == 50027


# --- the gateway, spoken by hand -----------------------------------------------------------------


async def recv(ws: ClientConnection, inflate: Any = None) -> dict[str, Any]:
    raw = await asyncio.wait_for(ws.recv(), 5)
    if isinstance(raw, bytes):
        assert inflate is not None and raw.endswith(wire.ZLIB_SUFFIX)
        raw = inflate.decompress(raw).decode()
    message: dict[str, Any] = json.loads(raw)
    return message


async def recv_dispatch(ws: ClientConnection, inflate: Any = None) -> dict[str, Any]:
    """The next dispatch, skipping heartbeat ACKs."""
    while True:
        message = await recv(ws, inflate)
        if message["op"] != wire.OP_HEARTBEAT_ACK:
            return message


async def close_code(ws: ClientConnection) -> int | None:
    with contextlib.suppress(ConnectionClosed, TimeoutError):
        while True:
            await asyncio.wait_for(ws.recv(), 5)
    return ws.close_code


def gateway(fake: FakeDiscord, query: str = "?v=10&encoding=json") -> Any:
    return connect(fake.gateway_url + query)


async def identify(
    ws: ClientConnection, fake: FakeDiscord, intents: int = INTENTS, **extra: Any
) -> dict[str, Any]:
    hello = await recv(ws)
    assert hello["op"] == wire.OP_HELLO
    await ws.send(
        json.dumps(
            {
                "op": 2,
                "d": {
                    "token": fake.token,
                    "intents": intents,
                    "properties": {"os": "linux", "browser": "test", "device": "test"},
                    **extra,
                },
            }
        )
    )
    return await recv(ws)


async def test_gateway_hello_identify_ready_and_dispatches(fake: FakeDiscord) -> None:
    guild, alice = den(fake)
    intents = INTENTS | wire.GUILD_MESSAGE_REACTIONS  # no GUILD_MEMBERS
    async with gateway(fake) as ws:
        hello = await recv(ws)
        assert hello == {"op": 10, "d": {"heartbeat_interval": 100}, "s": None, "t": None}
        await ws.send(json.dumps({"op": 1, "d": None}))
        assert await recv(ws) == {"op": 11}
        await ws.send(
            json.dumps({"op": 2, "d": {"token": fake.token, "intents": intents, "properties": {}}})
        )
        ready = await recv(ws)
        assert (ready["op"], ready["t"], ready["s"]) == (0, "READY", 1)
        assert ready["d"]["user"]["id"] == fake.bot.id
        assert ready["d"]["guilds"] == [{"id": guild.id, "unavailable": True}]
        assert ready["d"]["resume_gateway_url"] == fake.resume_gateway_url
        assert ready["d"]["application"]["id"] == fake.application_id
        assert fake.identifies[0]["intents"] == intents
        created = await recv(ws)
        assert (created["t"], created["s"]) == ("GUILD_CREATE", 2)
        assert created["d"]["id"] == guild.id and created["d"]["unavailable"] is False
        assert [c["name"] for c in created["d"]["channels"]] == ["general", "quotes"]
        roles = {r["id"]: r for r in created["d"]["roles"]}
        assert roles[guild.id]["name"] == "@everyone"
        assert isinstance(roles[guild.id]["permissions"], str)
        # Without GUILD_MEMBERS only the bot's own member is sent.
        assert [m["user"]["id"] for m in created["d"]["members"]] == [fake.bot.id]

        session = await fake.wait_for_ready()
        body = await fake.post_message(guild.text_channels[0], alice, "hello", roles=["42"])
        message = await recv_dispatch(ws)
        assert (message["t"], message["s"]) == ("MESSAGE_CREATE", 3)
        assert message["d"]["content"] == "hello"
        assert message["d"]["member"]["roles"] == ["42"]
        assert message["d"]["guild_id"] == guild.id and message["d"]["id"] == body["id"]
        await fake.member_join(guild, fake.add_user(username="bob"))  # filtered: no intent
        await fake.react(alice, body)
        reaction = await recv_dispatch(ws)
        assert (reaction["t"], reaction["s"]) == ("MESSAGE_REACTION_ADD", 4)
        assert reaction["d"]["emoji"] == {"id": None, "name": "\N{THUMBS UP SIGN}"}
        interaction = await fake.slash_command(
            "quote", channel=guild.text_channels[0], user=alice, options={"number": 3}
        )
        dispatched = await recv_dispatch(ws)
        assert (dispatched["t"], dispatched["s"]) == ("INTERACTION_CREATE", 5)
        assert dispatched["d"]["id"] == interaction.id and dispatched["d"]["type"] == 2
        assert [m["t"] for m in session.log] == [
            "READY",
            "GUILD_CREATE",
            "MESSAGE_CREATE",
            "MESSAGE_REACTION_ADD",
            "INTERACTION_CREATE",
        ]
        assert [m["s"] for m in session.log] == [1, 2, 3, 4, 5]


async def test_without_message_content_guild_messages_arrive_empty(fake: FakeDiscord) -> None:
    guild, alice = den(fake)
    async with gateway(fake) as ws:
        await identify(ws, fake, intents=wire.GUILDS | wire.GUILD_MESSAGES)
        await recv(ws)  # GUILD_CREATE
        await fake.wait_for_ready()
        channel = guild.text_channels[0]
        await fake.post_message(channel, alice, "secret")
        assert (await recv_dispatch(ws))["d"]["content"] == ""
        await fake.post_message(channel, alice, f"<@{fake.bot.id}> hi", mentions=[fake.bot])
        assert (await recv_dispatch(ws))["d"]["content"] == f"<@{fake.bot.id}> hi"


async def test_gateway_zlib_stream(fake: FakeDiscord) -> None:
    den(fake)
    async with gateway(fake, "?v=10&encoding=json&compress=zlib-stream") as ws:
        inflate = zlib.decompressobj()  # one stream for the whole connection
        hello = await recv(ws, inflate)
        assert hello["op"] == 10
        await ws.send(json.dumps({"op": 2, "d": {"token": fake.token, "intents": INTENTS}}))
        assert (await recv(ws, inflate))["t"] == "READY"
        assert (await recv(ws, inflate))["t"] == "GUILD_CREATE"


async def test_resume_replays_what_the_client_missed(fake: FakeDiscord) -> None:
    guild, alice = den(fake)
    channel = guild.text_channels[0]
    async with gateway(fake) as ws:
        ready = await identify(ws, fake)
        await recv(ws)  # GUILD_CREATE, s=2
        session_id = ready["d"]["session_id"]
        await fake.wait_for_ready()
        with fake.gateway_held():
            await fake.drop_connection()  # no close frame: the client sees 1006
            assert await close_code(ws) == 1006
            first = await fake.post_message(channel, alice, "while away 1")
            second = await fake.post_message(channel, alice, "while away 2")
    assert fake.session(session_id).dispatches("MESSAGE_CREATE")
    async with connect(ready["d"]["resume_gateway_url"] + "?v=10&encoding=json") as ws:
        assert (await recv(ws))["op"] == 10
        await ws.send(
            json.dumps({"op": 6, "d": {"token": fake.token, "session_id": session_id, "seq": 2}})
        )
        replayed = [await recv(ws), await recv(ws)]
        assert [(m["s"], m["d"]["id"]) for m in replayed] == [(3, first["id"]), (4, second["id"])]
        resumed = await recv(ws)
        assert (resumed["t"], resumed["s"]) == ("RESUMED", 5)
        assert fake.session(session_id).resumes == [2]
        assert fake.session(session_id).connection.path.endswith("/gateway/resume")  # type: ignore[union-attr]


async def test_reconnect_and_invalid_session(fake: FakeDiscord) -> None:
    den(fake)
    async with gateway(fake) as ws:
        ready = await identify(ws, fake)
        await recv(ws)
        await fake.wait_for_ready()
        await fake.send_reconnect()
        assert await recv_dispatch(ws) == {"op": 7, "d": None, "s": None, "t": None}
        await fake.invalidate_session(resumable=False)
        assert await recv_dispatch(ws) == {"op": 9, "d": False, "s": None, "t": None}
    async with gateway(fake) as ws:
        await recv(ws)
        resume = {"token": fake.token, "session_id": ready["d"]["session_id"], "seq": 2}
        await ws.send(json.dumps({"op": 6, "d": resume}))
        assert await recv(ws) == {"op": 9, "d": False, "s": None, "t": None}
        # The client may identify anew on the same connection.
        await ws.send(json.dumps({"op": 2, "d": {"token": fake.token, "intents": INTENTS}}))
        again = await recv(ws)
        assert again["t"] == "READY" and again["d"]["session_id"] != ready["d"]["session_id"]


@pytest.mark.parametrize(
    ("first", "code"),
    [
        ({"op": 2, "d": {"token": "wrong", "intents": 513}}, 4004),
        ({"op": 3, "d": {"status": "online"}}, 4003),
        ({"op": 42, "d": None}, 4001),
        ("not json", 4002),
        ({"op": 2, "d": {"token": "TOKEN", "intents": 1 << 30}}, 4013),
        ({"op": 2, "d": {"token": "TOKEN", "intents": 513, "shard": [1, 1]}}, 4010),
    ],
)
async def test_gateway_close_codes(fake: FakeDiscord, first: Any, code: int) -> None:
    async with gateway(fake) as ws:
        await recv(ws)
        text = first if isinstance(first, str) else json.dumps(first).replace("TOKEN", fake.token)
        await ws.send(text)
        assert await close_code(ws) == code


async def test_disallowed_privileged_intents_and_double_identify() -> None:
    async with FakeDiscord(privileged_intents=0) as fake:
        async with gateway(fake) as ws:
            await recv(ws)
            await ws.send(json.dumps({"op": 2, "d": {"token": fake.token, "intents": INTENTS}}))
            assert await close_code(ws) == 4014
        async with gateway(fake) as ws:
            await identify(ws, fake, intents=wire.GUILDS)
            await ws.send(json.dumps({"op": 2, "d": {"token": fake.token, "intents": 1}}))
            assert await close_code(ws) == 4005


async def test_wrong_api_version_is_refused(fake: FakeDiscord) -> None:
    async with gateway(fake, "?v=6&encoding=json") as ws:
        assert await close_code(ws) == 4012


# --- the signed interactions sender ------------------------------------------------------------


def verifying_endpoint(public_key_hex: str, seen: list[dict[str, Any]]) -> Starlette:
    """A minimal HTTP interactions endpoint that verifies independently of the fake."""
    key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key_hex))

    async def interactions(request: Request) -> Response:
        body = await request.body()
        signature = request.headers.get("x-signature-ed25519", "")
        timestamp = request.headers.get("x-signature-timestamp", "")
        try:
            key.verify(bytes.fromhex(signature), timestamp.encode() + body)
        except (InvalidSignature, ValueError):
            return Response("invalid request signature", status_code=401)
        try:
            interaction = json.loads(body)
        except ValueError:
            return JSONResponse({"error": "malformed"}, status_code=400)
        seen.append(interaction)
        if interaction.get("type") == 1:
            return JSONResponse({"type": 1})
        if interaction.get("type") == 2:
            name = interaction["data"]["name"]
            return JSONResponse({"type": 4, "data": {"content": f"ran {name}", "flags": 64}})
        return JSONResponse({"error": "unknown type"}, status_code=400)

    return Starlette(routes=[Route("/interactions", interactions, methods=["POST"])])


async def test_interaction_sender_signs_like_discord(fake: FakeDiscord) -> None:
    guild, alice = den(fake)
    seen: list[dict[str, Any]] = []
    async with serving_app(verifying_endpoint(fake.public_key, seen)) as base:
        url = f"{base}/interactions"
        ping = await fake.interactions.ping(url)
        assert ping.status == 200 and ping.json == {"type": 1}
        assert ping.headers["content-type"] == "application/json"
        for refused in (
            await fake.interactions.bad_signature(url),
            await fake.interactions.tampered(url),
            await fake.interactions.unsigned(url),
            await fake.interactions.garbage_signature(url),
        ):
            assert refused.status == 401
        assert (await fake.interactions.unknown_type(url)).status == 400
        assert (await fake.interactions.malformed(url)).status == 400
        interaction, result = await fake.send_interaction(
            url, "quote", channel=guild.text_channels[0], user=alice, options={"number": 7}
        )
        assert result.status == 200 and result.json["type"] == 4
    assert [i["type"] for i in seen] == [1, 99, 2]
    assert seen[-1]["data"]["options"] == [{"type": 4, "name": "number", "value": 7}]
    assert seen[-1]["member"]["user"]["id"] == alice.id
    # The inline answer is recorded as the interaction's response.
    assert interaction.via == "http" and interaction.response is not None
    assert interaction.response.via == "http" and interaction.response.ephemeral
    original = fake.original_response(interaction)
    assert original is not None and original.content == "ran quote"
    # An independent check of the signature on what was sent.
    key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(fake.public_key))
    key.verify(bytes.fromhex(result.signature), result.timestamp.encode() + result.body)


def test_payload_builders_follow_the_official_examples() -> None:
    official = payloads.example("message.example")
    built = payloads.message_create(channel="1", guild="2", author="3", content="hi", roles=["4"])
    assert set(official) <= set(built)
    assert built["member"]["roles"] == ["4"] and built["guild_id"] == "2"
    reply = payloads.message_create(
        channel="1", guild="2", author="5", content="re", reply_to=built
    )
    assert reply["type"] == 19 and reply["message_reference"]["message_id"] == built["id"]
    slash = payloads.interaction("cardsearch", options={"cardname": "The Gitrog Monster"})
    example = payloads.example("interaction.slash_command")
    assert slash["data"]["options"] == example["data"]["options"]
    assert slash["guild_id"] == example["guild_id"] and slash["version"] == 1
    dm = payloads.interaction("verify", channel="9", user="10")
    assert "guild_id" not in dm and dm["user"]["id"] == "10" and "member" not in dm


# --- the real py-cord client --------------------------------------------------------------------


@pytest.fixture
def pycord_at(monkeypatch: pytest.MonkeyPatch, fake: FakeDiscord) -> None:
    monkeypatch.setattr(discord.http.Route, "API_BASE_URL", fake.api_url)


@contextlib.asynccontextmanager
async def running(client: discord.Client, fake: FakeDiscord) -> AsyncIterator[None]:
    task = asyncio.create_task(client.start(fake.token))
    try:
        await fake.wait_until(lambda: client.is_ready() or task.done(), what="py-cord on_ready")
        if task.done():
            task.result()
        yield
    finally:
        await client.close()
        # py-cord closes its HTTP session before the gateway socket, so its connect loop can
        # see the socket die and fail to fetch the gateway URL again ("Session is closed").
        (outcome,) = await asyncio.gather(task, return_exceptions=True)
        assert outcome is None or isinstance(outcome, RuntimeError), outcome


class QuickClient(discord.Client):
    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """py-cord waits 5 s before every IDENTIFY but the first (Discord's identify limit);
        the fake has no such limit to respect."""


def pycord_client() -> discord.Client:
    intents = discord.Intents.default()
    intents.message_content = True
    return QuickClient(intents=intents, guild_ready_timeout=0.05, cache_default_sounds=False)


@pytest.mark.usefixtures("pycord_at")
async def test_pycord_connects_receives_and_sends(fake: FakeDiscord) -> None:
    guild, alice = den(fake)
    mods = guild.add_role("Mods", wire.MANAGE_MESSAGES)
    guild.members[alice.id].roles.append(mods.id)
    client = pycord_client()
    received: asyncio.Queue[discord.Message] = asyncio.Queue()

    @client.event
    async def on_message(message: discord.Message) -> None:
        await received.put(message)

    async with running(client, fake):
        identified = fake.identifies[0]
        assert identified["token"] == fake.token
        assert identified["intents"] == client.intents.value
        assert identified["intents"] & wire.MESSAGE_CONTENT
        connection = fake.session().connection
        assert connection is not None and connection.query["compress"] == "zlib-stream"
        assert connection.compressor is not None
        (seen,) = client.guilds
        assert seen.id == int(guild.id) and seen.name == "Waddle Den"
        assert [c.name for c in seen.text_channels] == ["general", "quotes"]
        assert "Mods" in [r.name for r in seen.roles]

        channel = guild.text_channels[0]
        body = await fake.post_message(channel, alice, "!ping")
        message = await asyncio.wait_for(received.get(), 5)
        assert message.content == "!ping" and message.id == int(body["id"])
        assert message.author.id == int(alice.id)
        assert isinstance(message.author, discord.Member)
        assert "Mods" in [r.name for r in message.author.roles]

        target = client.get_channel(int(channel.id))
        assert isinstance(target, discord.TextChannel)
        await target.send("Pong!", allowed_mentions=discord.AllowedMentions.none())
        await message.reply("Pong again", mention_author=False)
        sent = await fake.wait_for_sent(2, channel)
        assert [m.content for m in sent] == ["Pong!", "Pong again"]
        assert sent[0].allowed_mentions == {"parse": []}
        assert sent[1].reply_to == body["id"] and sent[1].mentions == []
        # Discord echoes the bot's own messages back over the gateway.
        echoes = [await asyncio.wait_for(received.get(), 5) for _ in range(2)]
        assert {e.author.id for e in echoes} == {client.user.id}  # type: ignore[union-attr]
        # Heartbeats go on at the advertised interval.
        await fake.wait_until(lambda: len(connection.heartbeats) >= 2, what="heartbeats")


@pytest.mark.usefixtures("pycord_at")
async def test_pycord_resumes_after_a_dropped_connection(fake: FakeDiscord) -> None:
    guild, alice = den(fake)
    client = pycord_client()
    received: asyncio.Queue[discord.Message] = asyncio.Queue()
    resumed = asyncio.Event()

    @client.event
    async def on_message(message: discord.Message) -> None:
        await received.put(message)

    @client.event
    async def on_resumed() -> None:
        resumed.set()

    async with running(client, fake):
        session = await fake.wait_for_ready()
        with fake.gateway_held():
            await fake.drop_connection()
            (delivery,) = await fake.dispatch(
                "MESSAGE_CREATE",
                payloads.message_create(
                    channel=guild.text_channels[0], author=alice, content="sent while away"
                ),
            )
            assert delivery.live is False
        await fake.wait_for_resume(session_id=session.id)
        message = await asyncio.wait_for(received.get(), 5)
        assert message.content == "sent while away"
        await asyncio.wait_for(resumed.wait(), 5)
        assert session.resumes and session.resumes[0] >= 2
        assert len(fake.identifies) == 1  # resumed, not identified again

        await fake.send_reconnect()  # op 7: close, reconnect, resume
        await fake.wait_for_resume(2, session_id=session.id)
        await fake.post_message(guild.text_channels[0], alice, "after reconnect")
        assert (await asyncio.wait_for(received.get(), 5)).content == "after reconnect"

        await fake.invalidate_session(resumable=False)  # op 9: identify anew
        await fake.wait_until(lambda: len(fake.identifies) == 2, what="a new IDENTIFY")
        fresh = await fake.wait_for_ready()
        assert fresh.id != session.id


@pytest.mark.usefixtures("pycord_at")
async def test_pycord_slash_commands_register_and_answer(fake: FakeDiscord) -> None:
    guild, alice = den(fake)
    bot = discord.Bot(
        intents=discord.Intents.default(), guild_ready_timeout=0.05, cache_default_sounds=False
    )

    @bot.slash_command(name="hello", description="Say hello")
    async def hello(ctx: discord.ApplicationContext) -> None:
        await ctx.respond("Hello!", ephemeral=True)

    @bot.slash_command(name="quote", description="Show a quote", guild_ids=[int(guild.id)])
    @discord.option("number", int, description="Which quote")
    async def quote(ctx: discord.ApplicationContext, number: int) -> None:
        await ctx.defer()
        await ctx.followup.send(f"Quote #{number}")

    async with running(bot, fake):
        await fake.wait_until(lambda: fake.commands(guild), what="guild command sync")
        assert [c.name for c in fake.commands()] == ["hello"]
        assert [c.name for c in fake.commands(guild)] == ["quote"]
        assert fake.commands(guild)[0].options[0]["name"] == "number"

        said = await fake.slash_command("hello", channel=guild.text_channels[0], user=alice)
        await fake.wait_until(lambda: said.response, what="the hello response")
        assert said.response is not None
        assert said.response.type == 4 and said.response.ephemeral
        assert said.response.content == "Hello!"

        quoted = await fake.slash_command(
            "quote", channel=guild.text_channels[0], user=alice, options={"number": 12}
        )
        await fake.wait_until(lambda: quoted.followup_ids, what="the quote follow-up")
        assert quoted.response is not None and quoted.response.type == 5
        original = fake.original_response(quoted)
        assert original is not None and original.content == "Quote #12"
        assert not original.flags & wire.LOADING


@pytest.mark.usefixtures("pycord_at")
async def test_pycord_sees_members_reactions_boosts_and_dms(fake: FakeDiscord) -> None:
    guild, alice = den(fake)
    intents = discord.Intents.default()
    intents.members = True  # py-cord then asks for the member list (op 8) at startup
    intents.message_content = True
    client = QuickClient(intents=intents, guild_ready_timeout=0.05, cache_default_sounds=False)
    events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

    @client.event
    async def on_member_join(member: discord.Member) -> None:
        await events.put(("join", member))

    @client.event
    async def on_member_remove(member: discord.Member) -> None:
        await events.put(("remove", member))

    @client.event
    async def on_member_update(before: discord.Member, after: discord.Member) -> None:
        await events.put(("update", after))

    @client.event
    async def on_raw_reaction_add(payload: discord.RawReactionActionEvent) -> None:
        await events.put(("reaction", payload))

    @client.event
    async def on_message(message: discord.Message) -> None:
        await events.put(("message", message))

    async def next_event(kind: str) -> Any:
        while True:
            got, value = await asyncio.wait_for(events.get(), 5)
            if got == kind:
                return value

    async with running(client, fake):
        (seen,) = client.guilds
        assert {m.id for m in seen.members} == {int(u) for u in guild.members}
        bob = fake.add_user(username="bob")
        await fake.member_join(guild, bob)
        assert (await next_event("join")).id == int(bob.id)
        body = await fake.post_message(guild.text_channels[0], bob, "hi all")
        await next_event("message")
        await fake.react(alice, body, "\N{PENGUIN}")
        reaction = await next_event("reaction")
        assert str(reaction.emoji) == "\N{PENGUIN}" and reaction.user_id == int(alice.id)
        assert reaction.message_id == int(body["id"])
        await fake.boost(guild, alice)
        updated = await next_event("update")
        assert updated.id == int(alice.id) and updated.premium_since is not None
        boost_message = await next_event("message")
        assert boost_message.type == discord.MessageType.premium_guild_subscription
        await fake.member_leave(guild, bob)
        assert (await next_event("remove")).id == int(bob.id)
        await fake.post_dm(alice, "!verify 123456")
        dm = await next_event("message")
        assert isinstance(dm.channel, discord.DMChannel) and dm.content == "!verify 123456"
        await dm.channel.send("Verified!")
        assert [m.content for m in fake.dms(alice)] == ["Verified!"]


async def test_heartbeat_requests_and_timeouts() -> None:
    async with FakeDiscord(heartbeat_interval_ms=50, heartbeat_timeout=0.3) as fake:
        den(fake)
        async with gateway(fake) as ws:
            await identify(ws, fake)
            await recv(ws)
            await fake.wait_for_ready()
            await fake.request_heartbeat()
            assert await recv(ws) == {"op": 1, "d": None, "s": None, "t": None}
            fake.pause_heartbeat_acks()
            await ws.send(json.dumps({"op": 1, "d": 2}))
            # No ACK comes, and without further heartbeats the fake gives up on the connection.
            assert await close_code(ws) == wire.CLOSE_SESSION_TIMED_OUT
        assert fake.session().connection is None


async def test_editing_deleting_and_reacting(fake: FakeDiscord, http: httpx2.AsyncClient) -> None:
    guild, alice = den(fake)
    channel = guild.text_channels[0]
    posted = await fake.post_message(channel, alice, "nice stream")
    base = f"/channels/{channel.id}/messages"
    mine = (await http.post(base, json={"content": "first"})).json()
    edited = await http.patch(f"{base}/{mine['id']}", json={"content": "second"})
    assert edited.status_code == 200 and edited.json()["edited_timestamp"] is not None
    assert fake.message(mine["id"]).content == "second"
    theirs = await http.patch(f"{base}/{posted['id']}", json={"content": "hacked"})
    assert theirs.status_code == 403
    emoji = "%F0%9F%90%A7"  # the penguin, URL-encoded as Discord wants it
    put = await http.put(f"{base}/{posted['id']}/reactions/{emoji}/@me")
    assert put.status_code == 204
    assert [(r.message_id, r.emoji) for r in fake.reactions] == [(posted["id"], "\N{PENGUIN}")]
    assert (await http.delete(f"{base}/{mine['id']}")).status_code == 204
    assert (await http.get(f"{base}/{mine['id']}")).status_code == 404
    assert (await http.delete(f"{base}/{posted['id']}")).status_code == 204  # MANAGE_MESSAGES


async def test_shards_split_the_guilds() -> None:
    async with FakeDiscord(recommended_shards=2) as fake:
        even = fake.add_guild("Even", guild_id=str(2 << 22))  # (id >> 22) % 2 == 0
        odd = fake.add_guild("Odd", guild_id=str(3 << 22))
        alice = fake.add_user(username="alice")
        headers = {"Authorization": f"Bot {fake.token}"}
        async with httpx2.AsyncClient(base_url=fake.api_url, headers=headers) as http:
            assert (await http.get("/gateway/bot")).json()["shards"] == 2
        async with gateway(fake) as zero, gateway(fake) as one:
            ready_zero = await identify(zero, fake, shard=[0, 2])
            ready_one = await identify(one, fake, shard=[1, 2])
            assert ready_zero["d"]["guilds"] == [{"id": even.id, "unavailable": True}]
            assert ready_one["d"]["guilds"] == [{"id": odd.id, "unavailable": True}]
            assert (await recv(zero))["d"]["id"] == even.id
            assert (await recv(one))["d"]["id"] == odd.id
            await fake.wait_until(lambda: sum(s.ready for s in fake.sessions) == 2)
            await fake.post_message(odd.text_channels[0], alice, "to shard one")
            await fake.post_dm(alice, "DMs go to shard zero")
            assert (await recv_dispatch(one))["d"]["content"] == "to shard one"
            assert (await recv_dispatch(zero))["d"]["content"] == "DMs go to shard zero"
            assert [s.shard for s in fake.sessions] == [(0, 2), (1, 2)]


async def test_shapes_match_the_recorded_examples(
    fake: FakeDiscord, http: httpx2.AsyncClient
) -> None:
    guild, alice = den(fake)
    async with gateway(fake) as ws:
        hello = await recv(ws)
        official_hello = payloads.example("gateway.hello")
        assert hello["op"] == official_hello["op"] and set(hello["d"]) == set(official_hello["d"])
        heartbeat = payloads.example("gateway.heartbeat")
        heartbeat["d"] = None
        await ws.send(json.dumps(heartbeat))
        assert (await recv(ws))["op"] == wire.OP_HEARTBEAT_ACK
        identify_ = payloads.example("gateway.identify")
        identify_["d"]["token"] = fake.token
        await ws.send(json.dumps(identify_))
        ready = await recv(ws)
        official_ready = payloads.example("gateway.ready")
        assert set(official_ready) - {"_note"} <= set(ready)
        assert set(official_ready["d"]) <= set(ready["d"])
        assert fake.identifies[0]["intents"] == 513
    fake.set_route_limit(MESSAGES, 1, 60.0)
    url = f"/channels/{guild.text_channels[0].id}/messages"
    await http.post(url, json={"content": "one"})
    limited = await http.post(url, json={"content": "two"})
    official_429 = payloads.example("rest.rate_limited")
    assert limited.status_code == official_429["status"]
    assert set(official_429["body"]) == set(limited.json())
    assert {h.lower() for h in official_429["headers"]} <= set(limited.headers)
    too_long = await http.post(
        url.replace(guild.text_channels[0].id, guild.text_channels[1].id),
        json={"content": "x" * 2001},
    )
    assert too_long.json() == {
        k: v for k, v in payloads.example("rest.invalid_form_body").items() if k != "_note"
    }
    response = payloads.example("interaction.response.channel_message")
    interaction = await fake.slash_command("hello", channel=guild.text_channels[0], user=alice)
    async with httpx2.AsyncClient(base_url=fake.api_url) as hook:
        answer = await hook.post(
            f"/interactions/{interaction.id}/{interaction.token}/callback", json=response
        )
    assert answer.status_code == 204
    assert interaction.response is not None and interaction.response.ephemeral
    assert fake.original_response(interaction).allowed_mentions == {"parse": []}  # type: ignore[union-attr]
