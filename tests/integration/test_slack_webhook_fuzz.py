"""The Events API endpoint and the slash command endpoint under validly signed random
requests: envelopes of every event type WaddleBot reads (built from Slack's examples, then
bent), slash command forms with any fields and values, broken bodies, timestamps of any kind.
Whatever comes, the answer is 2xx or 4xx; a well-formed, fresh message or command reaches the
bus exactly once (a retried event not again); and each thing the fuzzers found, as an example
of its own."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fakes.slack import FakeSlack
from tests.fakes.slack import payloads as slack_payloads
from tests.fakes.slack.model import Channel, Team, User
from tests.fakes.slack.wire import signature
from tests.support.webhook_fuzz import (
    FUZZ,
    Served,
    Stamp,
    bend,
    chance,
    dumps,
    exchange,
    json_values,
    junk_text,
    mostly,
    odd_values,
    serve,
    single_bends,
    unix_stamps,
    with_fields,
)
from waddlebot.infra.secretbox import SecretBox
from waddlebot.platforms.slack.webhook import COMMANDS_PATH, EVENTS_PATH
from waddlebot.settings import Settings

_SAYABLE = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=200
)
_READ = ("subtype", "user", "channel", "ts", "text", "thread_ts", "channel_type", "bot_id")
_TS = st.integers(1_000_000_000, 2_000_000_000).map(lambda s: f"{s}.{s % 1_000_000:06d}")


@dataclass
class Slack:
    fake: FakeSlack
    served: Served
    team: Team
    alice: User
    general: Channel


@pytest.fixture
async def slack(settings: Settings) -> AsyncIterator[Slack]:
    async with FakeSlack() as fake:
        team = fake.add_team("Acme")
        alice = fake.add_user(team, "alice")
        general = fake.add_channel(team, "general", members=[alice])
        chosen = with_fields(
            settings,
            secret_keys=SecretBox.generate_key(),
            slack_signing_secret=fake.signing_secret,
            slack_api_url=fake.api_url,
            slack_bot_token=team.bot_token,
            slack_inline_wait_seconds=0,  # no router here: every command is answered late
        )
        async with serve(chosen, ["slack"]) as served:
            yield Slack(fake, served, team, alice, general)


async def _post(slack: Slack, path: str, body: bytes, stamp: Stamp, kind: str) -> httpx2.Response:
    timestamp = stamp.unix(time.time())
    headers = {
        "Content-Type": kind,
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature(slack.fake.signing_secret, timestamp, body),
    }
    return await slack.served.http.post(path, content=body, headers=headers)


# ----- the Events API -------------------------------------------------------------------------


@dataclass(frozen=True)
class Envelope:
    body: Any  # what goes out as JSON, its event_id "" until sent (then a fresh one)
    stamp: Stamp
    valid: bool
    message_id: str = ""  # the event a valid message makes; "" when it makes none
    challenge: str = ""
    raw: bytes | None = None  # sent instead of the body


@st.composite
def envelopes(draw: st.DrawFn, slack: Slack) -> Envelope:
    team, alice, general = slack.team, slack.alice, slack.general
    ts = draw(_TS)
    kind = draw(st.sampled_from(["message", "message", "app_mention", "member_joined", "other"]))
    text = draw(_SAYABLE)
    if kind == "message":
        event: Any = slack_payloads.message(general, alice, text, ts)
    elif kind == "app_mention":
        event = slack_payloads.app_mention(general, alice, text, ts)
    elif kind == "member_joined":
        event = slack_payloads.member_joined(general, alice, ts)
    else:
        event = {"type": draw(junk_text()), "event_ts": ts}
    message_id = {
        "message": f"{general.id}:{ts}",
        "app_mention": f"{general.id}:{ts}",
        "member_joined": f"join:{general.id}:{alice.id}:{event.get('event_ts')}",
    }.get(kind, "")
    envelope: Any = slack_payloads.event_callback(
        slack.fake.state.app, team, event, "", int(time.time())
    )
    valid = True
    if chance(draw, 6):
        envelope = slack_payloads.url_verification("token", draw(_SAYABLE))
    # the fields read, each bent often enough to be reached every run
    for key in ("team_id", "event_id", "type"):
        if chance(draw, 8):
            valid = False
            envelope[key] = draw(st.one_of(junk_text(), odd_values()))
    if "event" in envelope and chance(draw, 3):
        valid = False
        envelope["event"][draw(st.sampled_from(_READ))] = draw(odd_values())
    for _ in range(draw(st.sampled_from([0, 0, 1, 1, 2]))):
        valid = False
        inner = envelope.get("event") if isinstance(envelope, dict) else None
        if isinstance(inner, dict) and not chance(draw, 4):
            envelope["event"] = bend(draw, envelope["event"])
        else:
            envelope = bend(draw, envelope)
    raw = None
    if chance(draw, 12):
        valid = False
        raw = draw(st.one_of(json_values().map(dumps), st.binary(max_size=64)))
    challenge = envelope.get("challenge", "") if isinstance(envelope, dict) else ""
    return Envelope(envelope, draw(unix_stamps()), valid, message_id, challenge, raw)


async def _send_event(slack: Slack, envelope: Envelope) -> httpx2.Response:
    body = envelope.raw if envelope.raw is not None else dumps(envelope.body)
    return await _post(slack, EVENTS_PATH, body, envelope.stamp, "application/json")


@FUZZ
@given(data=st.data())
async def test_every_signed_event_delivery_is_answered_without_a_server_error(
    slack: Slack, data: st.DataObject
) -> None:
    envelope = data.draw(envelopes(slack))
    if isinstance(envelope.body, dict) and envelope.body.get("event_id") == "":
        fresh = {**envelope.body, "event_id": f"Ev{uuid.uuid4().hex[:10].upper()}"}
        envelope = replace(envelope, body=fresh)  # a first delivery
    response, published = await exchange(slack.served, _send_event(slack, envelope))
    if not envelope.stamp.fresh:
        assert response.status_code in (400, 401), "a stale or future delivery was taken"
        return
    if not envelope.valid:
        return
    assert response.status_code == 200, response.text
    if envelope.body.get("type") == "url_verification":
        assert (response.json(), published) == ({"challenge": envelope.challenge}, [])
        return
    expected = [("slack", envelope.message_id)] if envelope.message_id else []
    assert [(e.platform, e.message_id) for e in published] == expected
    retry = await _send_event(slack, envelope)  # Slack's retry, the same event_id
    assert retry.status_code == 200
    assert await slack.served.tap.taken() == []


# ----- slash commands -------------------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    fields: dict[str, Any]  # trigger_id "" until sent (then a fresh one)
    stamp: Stamp
    valid: bool
    raw: bytes | None = None


@st.composite
def commands(draw: st.DrawFn, slack: Slack) -> Command:
    command = draw(mostly(st.just("/waddle"), st.just("/quote") | junk_text(), one_in=4))
    fields: dict[str, Any] = slack_payloads.slash_command(
        slack.fake.state.app,
        slack.team,
        slack.general,
        slack.alice,
        command,
        draw(_SAYABLE),
        response_url="https://hooks.slack.com/commands/T0/1/abc",
        trigger_id="",
    )
    valid = command.startswith("/") and not any(c.isspace() for c in command)
    for _ in range(draw(st.sampled_from([0, 0, 1, 1, 2]))):
        valid = False
        key = draw(mostly(st.sampled_from(sorted(fields)), junk_text(), one_in=6))
        if chance(draw, 5):
            fields.pop(key, None)
        else:
            fields[key] = draw(st.one_of(junk_text(), st.sampled_from(["", "x" * 300, "nul\x00"])))
    raw = None
    if chance(draw, 10):
        valid = False
        raw = draw(
            st.one_of(
                st.binary(max_size=64),
                st.sampled_from([b"a=%zz", b"a=%ff%fe", b"&&==", b"a=1&a=2", b"\xff=1"]),
                junk_text().map(str.encode),
            )
        )
    return Command(fields, draw(unix_stamps()), valid, raw)


async def _send_command(slack: Slack, command: Command) -> httpx2.Response:
    body = command.raw if command.raw is not None else urlencode(command.fields).encode()
    kind = "application/x-www-form-urlencoded"
    return await _post(slack, COMMANDS_PATH, body, command.stamp, kind)


@FUZZ
@given(data=st.data())
async def test_every_signed_slash_command_is_answered_without_a_server_error(
    slack: Slack, data: st.DataObject
) -> None:
    command = data.draw(commands(slack))
    if command.fields.get("trigger_id") == "":
        fresh = {
            **command.fields,
            "trigger_id": f"{uuid.uuid4().int % 10**10}.1.{uuid.uuid4().hex}",
        }
        command = replace(command, fields=fresh)
    response, published = await exchange(slack.served, _send_command(slack, command))
    if not command.stamp.fresh:
        assert response.status_code in (400, 401), "a stale or future command was taken"
        return
    if not command.valid:
        return
    assert (response.status_code, response.text) == (200, "")  # answered late
    assert [(e.platform, e.message_id) for e in published] == [
        ("slack", command.fields["trigger_id"])
    ]


# ----- every single field bent ------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["distributed"], indirect=True)  # PostgreSQL: the strictest
async def test_every_single_field_bent_is_answered_without_a_server_error(slack: Slack) -> None:
    now = int(time.time())
    said = slack_payloads.message(slack.general, slack.alice, "!ping", "1700000000.000100")
    joined = slack_payloads.member_joined(slack.general, slack.alice, "1700000000.000200")
    for event in (said, joined):
        envelope = slack_payloads.event_callback(slack.fake.state.app, slack.team, event, "E", now)
        for what, bent in single_bends(envelope, depth=2):
            if isinstance(bent.get("event_id"), str):
                bent["event_id"] += uuid.uuid4().hex  # each a first delivery
            sending = _post(slack, EVENTS_PATH, dumps(bent), Stamp(0), "application/json")
            await exchange(slack.served, sending, what)
    form = slack_payloads.slash_command(
        slack.fake.state.app,
        slack.team,
        slack.general,
        slack.alice,
        "/waddle",
        "ping",
        response_url="https://hooks.slack.com/commands/T0/1/abc",
        trigger_id="1.2.3",
    )
    for key in form:
        for value in ("", "x" * 300, "nul\x00", "\u00b2"):
            bent_form = {**form, key: value, "trigger_id": form["trigger_id"] + uuid.uuid4().hex}
            if key == "trigger_id":
                bent_form[key] = value
            sending = _send_command(slack, Command(bent_form, Stamp(0), False))
            await exchange(slack.served, sending, f"command.{key}={value[:10]!r}")


# ----- what the fuzzers found, one example each ----------------------------------------------

MALFORMED = Path(__file__).resolve().parents[1] / "fixtures" / "slack" / "malformed"


def _recorded(slack: Slack, name: str, *, ours: bool) -> bytes:
    """A request recorded in tests/fixtures/slack/malformed; ``ours``: from the fake's
    workspace (what reaches past the workspace's lookup), with a first delivery's event id."""
    payload = json.loads((MALFORMED / f"{name}.json").read_text())
    if ours:
        payload["team_id"] = slack.team.id
    if name.startswith("envelope."):
        payload["event_id"] = f"Ev{uuid.uuid4().hex[:10].upper()}"
        return dumps(payload)
    return urlencode(payload).encode()


async def test_malformed_requests_are_refused_naming_their_field(slack: Slack) -> None:
    for name, ours, reason in [
        ("envelope.subtype_not_a_string", True, "event.subtype: Input should be a valid string"),
        ("envelope.user_not_an_id", True, "event.user: Value error, must be a Slack id"),
        ("envelope.team_id_with_nul", False, "envelope.team_id: Value error, must be a Slack id"),
        ("slash_command.user_id_with_nul", True, "command.user_id: Value error, must be a Slack"),
        ("slash_command.user_id_too_long", True, "command.user_id: Value error, must be a Slack"),
    ]:
        path, kind = (EVENTS_PATH, "application/json")
        if name.startswith("slash_command."):
            path, kind = (COMMANDS_PATH, "application/x-www-form-urlencoded")
        response = await _post(slack, path, _recorded(slack, name, ours=ours), Stamp(0), kind)
        assert (response.status_code, name) == (400, name)
        assert reason in response.json()["detail"]
    assert await slack.served.tap.taken() == []


async def test_timestamps_that_are_no_recent_unix_time_are_refused(slack: Slack) -> None:
    challenge = dumps(slack_payloads.url_verification("token", "c"))
    for absurd in ("1" + "0" * 400, "-" + "9" * 400, "9" * 5000, "+1700000000", "1_700_000_000"):
        response = await _post(
            slack, EVENTS_PATH, challenge, Stamp(None, absurd), "application/json"
        )
        assert (response.status_code, absurd[:10]) == (401, absurd[:10])
    for offset, status in [(-360, 401), (360, 401), (-240, 200), (240, 200)]:
        response = await _post(slack, EVENTS_PATH, challenge, Stamp(offset), "application/json")
        assert (response.status_code, offset) == (status, offset)


async def test_a_body_that_is_not_utf8_is_refused(slack: Slack) -> None:
    response = await _post(slack, COMMANDS_PATH, b"text=\xff\xfe", Stamp(0), "text/plain")
    assert (response.status_code, response.json()["detail"]) == (400, "the body is not UTF-8")
