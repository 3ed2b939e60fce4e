"""Dead letters an operator can see and replay over the HTTP API, embedded (the bus in the
process) and distributed (Redis): events a bug made fail five deliveries are listed with why,
and answered once replayed after the fix, even though their failed attempts left their
dedupe claims "processing"; an event answered already is removed, never answered twice."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx2
import pytest

from tests.support.harness import chat_event, serving
from waddlebot.core.contract import OutboundMessage
from waddlebot.core.events import Event
from waddlebot.features.identity import apikeys
from waddlebot.infra import keys
from waddlebot.infra.codec import decode_outbound, encode_dead_letter, encode_envelope
from waddlebot.router.pipeline import is_finished, processing_claim
from waddlebot.runtime import Runtime
from waddlebot.settings import Settings

DEAD_LETTERS = "/api/v1/events/dead-letters"
REPLAY = "/api/v1/events/dead-letters/replay"
REPLIES = keys.replies_stream("twitch")


class Bot:
    """A whole WaddleBot over HTTP, an admin key for it, and the Twitch replies it sends."""

    def __init__(self, http: httpx2.AsyncClient, runtime: Runtime, auth: dict[str, str]) -> None:
        self.http, self.runtime, self.auth = http, runtime, auth
        self.replies: list[OutboundMessage] = []

    async def read_replies(self) -> None:
        bus = self.runtime.ports.bus
        messages = await bus.read(REPLIES, "dead-letter-test", "t", 1000, 50)
        self.replies += [decode_outbound(m.data) for m in messages]
        await bus.ack(REPLIES, "dead-letter-test", [m.id for m in messages])

    def answers(self, event: Event) -> list[str]:
        return [r.text for r in self.replies if r.event_id == event.event_id]

    async def until(self, condition: Callable[[], Any], what: str, timeout: float = 30) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not await condition():
            assert loop.time() < deadline, f"timed out waiting for {what}"
            await asyncio.sleep(0.05)

    async def listed(self, **params: str) -> dict[str, Any]:
        response = await self.http.get(DEAD_LETTERS, headers=self.auth, params=params)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def replay(self, body: dict[str, Any]) -> dict[str, Any]:
        response = await self.http.post(REPLAY, headers=self.auth, json=body)
        assert response.status_code == 200, response.text
        report: dict[str, Any] = response.json()
        return report

    async def post(self, events: list[Event]) -> None:
        body = [e.model_dump(mode="json") for e in events]
        response = await self.http.post("/api/v1/events", headers=self.auth, json=body)
        assert response.status_code == 202, response.text


@pytest.fixture
async def bot(settings: Settings) -> AsyncIterator[Bot]:
    async with (
        serving(settings) as (url, runtime),
        httpx2.AsyncClient(base_url=url, timeout=30) as http,
    ):
        await runtime.ports.bus.ensure_group(REPLIES, "dead-letter-test")
        _, key = await apikeys.create_key(runtime.db, "operator")
        yield Bot(http, runtime, {"Authorization": f"Bearer {key}"})


def bury(event: Event | None, *, raw: bytes = b"", reason: str = "failed in 5 deliveries") -> bytes:
    """A dead letter as the router writes one."""
    payload = encode_envelope(event) if event is not None else raw
    return encode_dead_letter(
        payload, reason=reason, deliveries=6, entry_id="1-0", dead_at=time.time()
    )


async def test_events_a_bug_dead_lettered_are_answered_when_replayed_after_the_fix(
    bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = bot.runtime
    real = runtime.directory.ensure_identity

    async def broken(platform: str, user_id: str, **kwargs: Any) -> int:
        if user_id.startswith("unlucky"):  # after the dedupe claim: the claim stays behind
            raise ValueError("a bug in writing this person")
        return await real(platform, user_id, **kwargs)

    monkeypatch.setattr(runtime.directory, "ensure_identity", broken)
    unlucky = [chat_event(f"!echo sorry {i}", user_id=f"unlucky{i}") for i in range(2)]
    lucky = chat_event("!echo fine", user_id="lucky")
    started = time.time()
    await bot.post([*unlucky, lucky])

    async def both_dead() -> bool:
        return (await bot.listed())["total"] == 2

    await bot.until(both_dead, "the two events to fail five deliveries")
    listing = await bot.listed()
    letters = listing["items"]
    assert listing["next"] is None
    assert sorted(letter["event_id"] for letter in letters) == sorted(e.event_id for e in unlucky)
    for letter in letters:
        assert letter["platform"] == "twitch" and letter["entity_id"] == "twitch:1337"
        assert letter["text"].startswith("!echo sorry")
        assert letter["deliveries"] == 6 and letter["reason"] == "failed in 5 deliveries"
        assert letter["dead_at"] >= time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(started - 1))
    # their failed attempts left the claims "processing"
    for event in unlucky:
        state = await runtime.ports.cache.get(keys.dedupe_key("twitch", event.message_id))
        assert state == processing_claim(event.event_id)
    metrics = (await bot.http.get("/metrics")).text
    assert "waddlebot_events_dead_letters 2.0" in metrics
    await bot.read_replies()
    assert bot.answers(lucky) == ["fine"]
    assert all(bot.answers(e) == [] for e in unlucky)

    monkeypatch.setattr(runtime.directory, "ensure_identity", real)  # the fix is deployed
    first = next(letter for letter in letters if letter["event_id"] == unlucky[0].event_id)
    report = await bot.replay({"ids": [first["id"]]})
    (result,) = report["results"]
    assert result["outcome"] == "replayed" and result["event_id"] == unlucky[0].event_id
    assert result["entry_id"] and report["replayed"] == 1

    async def answered(event: Event) -> bool:
        await bot.read_replies()
        return bool(bot.answers(event))

    await bot.until(lambda: answered(unlucky[0]), "the replayed event's answer")
    again = await bot.replay({"ids": [first["id"]]})
    assert [r["outcome"] for r in again["results"]] == ["not_found"]

    rest = await bot.replay({"all": True})
    assert [r["event_id"] for r in rest["results"]] == [unlucky[1].event_id]
    await bot.until(lambda: answered(unlucky[1]), "the other event's answer")
    assert (await bot.listed())["total"] == 0
    await asyncio.sleep(0.3)  # room for a wrongful second answer
    await bot.read_replies()
    assert [bot.answers(e) for e in unlucky] == [["sorry 0"], ["sorry 1"]]


async def test_an_event_answered_already_is_removed_not_replayed_and_malformed_ones_stay(
    bot: Bot,
) -> None:
    runtime = bot.runtime
    answered = chat_event("!echo once")
    waited = await bot.http.post(
        "/api/v1/events?wait=true", headers=bot.auth, json=answered.model_dump(mode="json")
    )
    assert [r["text"] for r in waited.json()["results"][0]["replies"]] == ["once"]
    state = await runtime.ports.cache.get(keys.dedupe_key("twitch", answered.message_id))
    assert is_finished(state)
    never = chat_event("!echo from an older version")
    await runtime.ports.bus.publish(
        keys.DEAD_LETTER_STREAM,
        [
            bury(answered),  # answered, but its acknowledgement failed five times
            bury(None, raw=b"\x00not an envelope", reason="malformed: invalid JSON"),
            encode_envelope(never),  # a bare envelope, as dead letters were written before
        ],
    )
    letters = (await bot.listed())["items"]
    assert [(letter["event_id"], letter["reason"], letter["deliveries"]) for letter in letters] == [
        (answered.event_id, "failed in 5 deliveries", 6),
        ("", "malformed: invalid JSON", 6),
        (never.event_id, "", None),
    ]
    assert letters[1]["platform"] == "" and "not an envelope" in letters[1]["text"]

    report = await bot.replay({"all": True})
    assert [r["outcome"] for r in report["results"]] == [
        "already_answered",
        "malformed",
        "replayed",
    ]
    assert (report["replayed"], report["already_answered"]) == (1, 1)

    async def replayed_answered() -> bool:
        await bot.read_replies()
        return bool(bot.answers(never))

    await bot.until(replayed_answered, "the replayed event's answer")
    assert [letter["reason"] for letter in (await bot.listed())["items"]] == [
        "malformed: invalid JSON"
    ]
    await asyncio.sleep(0.3)
    await bot.read_replies()
    assert bot.answers(answered) == ["once"]  # the answer of the first time, only
    assert bot.answers(never) == ["from an older version"]


async def test_dead_letters_come_in_pages(bot: Bot) -> None:
    events = [chat_event(f"!echo {i}") for i in range(3)]
    await bot.runtime.ports.bus.publish(keys.DEAD_LETTER_STREAM, [bury(e) for e in events])
    first = await bot.listed(limit="2")
    assert [letter["text"] for letter in first["items"]] == ["!echo 0", "!echo 1"]
    assert first["total"] == 3 and first["next"]
    rest = await bot.listed(limit="2", cursor=first["next"])
    assert [letter["text"] for letter in rest["items"]] == ["!echo 2"]
    assert rest["next"] is None


async def test_only_admin_service_keys_see_or_replay_dead_letters(bot: Bot) -> None:
    db = bot.runtime.db
    _, collector = await apikeys.create_key(db, "collector", role="collector")
    community = await bot.runtime.directory.resolve_entity("twitch:1", "twitch")
    _, scoped = await apikeys.create_key(db, "scoped", community_id=community.community_id)
    user_id = await bot.runtime.directory.ensure_identity("twitch", "99", login="someone")
    _, person = await apikeys.create_key(db, "mine", kind="user", user_id=user_id)
    http = bot.http
    assert (await http.get(DEAD_LETTERS)).status_code == 401
    for key in (collector, scoped, person):
        auth = {"Authorization": f"Bearer {key}"}
        assert (await http.get(DEAD_LETTERS, headers=auth)).status_code == 403
        refused = await http.post(REPLAY, headers=auth, json={"all": True})
        assert refused.status_code == 403, refused.text
    for body in ({}, {"ids": [], "all": False}, {"ids": ["1-0"], "all": True}, {"ids": ["x"]}):
        bad = await http.post(REPLAY, headers=bot.auth, json=body)
        assert bad.status_code == 422, (body, bad.text)
    assert (
        await http.get(DEAD_LETTERS, headers=bot.auth, params={"cursor": "x"})
    ).status_code == 422
    unknown = await bot.replay({"ids": ["1-0"]})
    assert unknown["results"] == [
        {"id": "1-0", "outcome": "not_found", "event_id": "", "entry_id": ""}
    ]
