"""The fake Twitch's EventSub conduits over real loopback HTTP and WebSocket: the Helix
conduit and shard endpoints with their errors, notifications of conduit subscriptions routed
to an enabled shard's session, and a shard disabled (and its subscribers told) when its
session ends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.fakes.twitch import payloads
from tests.integration.test_fake_twitch import BOT, BROADCASTER, VIEWER, World, recv, world
from tests.support.harness import until


@pytest.fixture
async def w() -> AsyncIterator[World]:
    async with world() as made:
        yield made


def _app(w: World) -> dict[str, str]:
    return w.headers(w.app)


async def _conduit(w: World, shard_count: int) -> str:
    made = await w.http.post(
        f"{w.twitch.helix_url}/eventsub/conduits",
        json={"shard_count": shard_count},
        headers=_app(w),
    )
    assert made.status_code == 200, made.text
    (conduit,) = made.json()["data"]
    assert conduit["shard_count"] == shard_count
    return str(conduit["id"])


async def _assign(w: World, conduit_id: str, shards: list[dict[str, Any]]) -> httpx2.Response:
    return await w.http.patch(
        f"{w.twitch.helix_url}/eventsub/conduits/shards",
        json={"conduit_id": conduit_id, "shards": shards},
        headers=_app(w),
    )


def _ws_shard(shard_id: str, session_id: str) -> dict[str, Any]:
    return {"id": shard_id, "transport": {"method": "websocket", "session_id": session_id}}


async def _notification(ws: ClientConnection) -> dict[str, Any]:
    """The next message that is not a keepalive."""
    while True:
        message = await recv(ws)
        if message["metadata"]["message_type"] != "session_keepalive":
            return message


async def _subscribe(w: World, type_: str, condition: dict[str, str], conduit_id: str) -> Any:
    return await w.http.post(
        f"{w.twitch.helix_url}/eventsub/subscriptions",
        json={
            "type": type_,
            "version": "1",
            "condition": condition,
            "transport": {"method": "conduit", "conduit_id": conduit_id},
        },
        headers=_app(w),
    )


async def test_conduits_are_the_apps_sized_and_limited(w: World) -> None:
    helix = w.twitch.helix_url
    user_call = await w.http.get(f"{helix}/eventsub/conduits", headers=w.headers())
    assert user_call.status_code == 401 and "app access token" in user_call.json()["message"]
    for bad in (0, 20_001, "4", None):
        refused = await w.http.post(
            f"{helix}/eventsub/conduits", json={"shard_count": bad}, headers=_app(w)
        )
        assert refused.status_code == 400, bad
    first = await _conduit(w, 3)
    listed = await w.http.get(f"{helix}/eventsub/conduits", headers=_app(w))
    assert listed.json() == {"data": [{"id": first, "shard_count": 3}]}

    resized = await w.http.patch(
        f"{helix}/eventsub/conduits", json={"id": first, "shard_count": 2}, headers=_app(w)
    )
    assert resized.json()["data"] == [{"id": first, "shard_count": 2}]
    unknown = await w.http.patch(
        f"{helix}/eventsub/conduits", json={"id": "nope", "shard_count": 2}, headers=_app(w)
    )
    assert unknown.status_code == 404

    shards = await w.http.get(
        f"{helix}/eventsub/conduits/shards", params={"conduit_id": first}, headers=_app(w)
    )
    assert [s["id"] for s in shards.json()["data"]] == ["0", "1"]
    assert all(s["status"] == "websocket_disconnected" for s in shards.json()["data"])
    missing = await w.http.get(f"{helix}/eventsub/conduits/shards", headers=_app(w))
    assert missing.status_code == 400

    for _ in range(4):
        await _conduit(w, 1)
    sixth = await w.http.post(
        f"{helix}/eventsub/conduits", json={"shard_count": 1}, headers=_app(w)
    )
    assert sixth.status_code == 429
    gone = await w.http.delete(f"{helix}/eventsub/conduits", params={"id": first}, headers=_app(w))
    assert gone.status_code == 204
    again = await w.http.delete(f"{helix}/eventsub/conduits", params={"id": first}, headers=_app(w))
    assert again.status_code == 404


async def test_shards_are_updated_one_by_one_with_errors(w: World) -> None:
    conduit_id = await _conduit(w, 2)
    async with connect(w.twitch.eventsub_ws_url) as ws:
        session_id = (await recv(ws))["payload"]["session"]["id"]
        answer = await _assign(
            w,
            conduit_id,
            [
                _ws_shard("0", session_id),
                _ws_shard("7", session_id),
                _ws_shard("1", "no-such-session"),
                {"id": "1", "transport": {"method": "webhook", "callback": "x", "secret": "s"}},
            ],
        )
        assert answer.status_code == 202
        body = answer.json()
        (shard,) = body["data"]
        assert shard["id"] == "0" and shard["status"] == "enabled"
        assert shard["transport"]["session_id"] == session_id
        assert shard["transport"]["connected_at"]
        assert [e["id"] for e in body["errors"]] == ["7", "1", "1"]
        assert {e["code"] for e in body["errors"]} == {"invalid_parameter"}
        assert "outside the conduit's range" in body["errors"][0]["message"]
    unknown = await _assign(w, "nope", [_ws_shard("0", session_id)])
    assert unknown.status_code == 404
    as_user = await w.http.patch(
        f"{w.twitch.helix_url}/eventsub/conduits/shards",
        json={"conduit_id": conduit_id, "shards": []},
        headers=w.headers(),
    )
    assert as_user.status_code == 401


async def test_notifications_go_to_an_enabled_shard_and_a_lost_session_disables_it(
    w: World,
) -> None:
    w.twitch.grant(w.client_id, BOT, "user:read:chat", "user:bot")
    conduit_id = await _conduit(w, 2)
    async with connect(w.twitch.eventsub_ws_url) as one, connect(w.twitch.eventsub_ws_url) as two:
        sockets = {}
        for shard_id, ws in (("0", one), ("1", two)):
            session_id = (await recv(ws))["payload"]["session"]["id"]
            assert (await _assign(w, conduit_id, [_ws_shard(shard_id, session_id)])).json()[
                "errors"
            ] == []
            sockets[shard_id] = ws
        chat = await _subscribe(
            w,
            "channel.chat.message",
            {"broadcaster_user_id": BROADCASTER, "user_id": BOT},
            conduit_id,
        )
        assert chat.status_code == 202 and chat.json()["data"][0]["status"] == "enabled"
        assert chat.json()["data"][0]["transport"] == {
            "method": "conduit",
            "conduit_id": conduit_id,
        }
        watch = await _subscribe(
            w, "conduit.shard.disabled", {"client_id": w.client_id}, conduit_id
        )
        assert watch.status_code == 202 and watch.json()["data"][0]["cost"] == 0

        said = payloads.chat_message(broadcaster=BROADCASTER, chatter=VIEWER, text="hi")
        (delivery,) = await w.twitch.emit("channel.chat.message", said)
        assert delivery.delivered and delivery.shard is not None
        receiver, other = sockets[delivery.shard.id], sockets[str(1 - int(delivery.shard.id))]
        message = await _notification(receiver)
        assert message["payload"]["event"]["message"]["text"] == "hi"
        assert message["payload"]["subscription"]["transport"]["method"] == "conduit"

        await receiver.close()  # the hashed shard's session goes away
        told = await _notification(other)
        assert told["metadata"]["subscription_type"] == "conduit.shard.disabled"
        event = told["payload"]["event"]
        assert (event["conduit_id"], event["shard_id"]) == (conduit_id, delivery.shard.id)
        assert event["status"] == "websocket_disconnected"
        assert event["transport"]["disconnected_at"]

        again = payloads.chat_message(broadcaster=BROADCASTER, chatter=VIEWER, text="again")
        (rerouted,) = await w.twitch.emit("channel.chat.message", again)
        assert rerouted.shard is not None and rerouted.shard.id != delivery.shard.id
        assert (await _notification(other))["payload"]["event"]["message"]["text"] == "again"

    # every shard down: the notification is lost, as on Twitch
    await until(lambda: not w.twitch.shards(status="enabled"))
    said = payloads.chat_message(broadcaster=BROADCASTER, chatter=VIEWER, text="lost")
    (lost,) = await w.twitch.emit("channel.chat.message", said)
    assert not lost.delivered


async def test_conduit_subscriptions_need_the_apps_own_conduit(w: World) -> None:
    conduit_id = await _conduit(w, 1)
    as_user = await w.http.post(
        f"{w.twitch.helix_url}/eventsub/subscriptions",
        json={
            "type": "stream.online",
            "version": "1",
            "condition": {"broadcaster_user_id": BROADCASTER},
            "transport": {"method": "conduit", "conduit_id": conduit_id},
        },
        headers=w.headers(),
    )
    assert as_user.status_code == 400 and "app access token" in as_user.json()["message"]
    unknown = await _subscribe(
        w, "stream.online", {"broadcaster_user_id": BROADCASTER}, "no-such-conduit"
    )
    assert unknown.status_code == 400
    other_app = await _subscribe(w, "conduit.shard.disabled", {"client_id": "someone"}, conduit_id)
    assert other_app.status_code == 403
    listed = await w.http.get(f"{w.twitch.helix_url}/eventsub/subscriptions", headers=_app(w))
    assert listed.json()["data"] == []
