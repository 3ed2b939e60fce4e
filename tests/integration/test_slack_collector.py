"""The Slack collector end to end against the fake Slack (tests/fakes/slack), with the real
slack-sdk clients: Events API deliveries and slash commands over signed HTTP, Socket Mode,
the Web API out (threads, DMs, 429s, ``ok: false``), and installing through OAuth v2.
Distributed mode (PostgreSQL and Redis), as a deployment runs it."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
from sqlalchemy import text

from tests.fakes.slack import FakeSlack
from tests.fakes.slack.model import Channel, Team, User
from tests.support.connections import links, reported, states
from tests.support.harness import free_port, make_settings, serving, until
from waddlebot.core.contract import OutboundMessage, Visibility
from waddlebot.core.events import new_id
from waddlebot.infra import keys, metrics, overlay_keys
from waddlebot.infra.codec import encode_outbound
from waddlebot.infra.connections import Report
from waddlebot.infra.secretbox import SecretBox
from waddlebot.platforms.slack.webhook import COMMANDS_PATH, EVENTS_PATH
from waddlebot.runtime import Runtime

API_KEY = "slack-test-service-key-0123456789"


@dataclass
class World:
    fake: FakeSlack
    runtime: Runtime
    url: str
    team: Team
    alice: User
    boss: User
    general: Channel

    @property
    def events(self) -> str:
        return f"{self.url}{EVENTS_PATH}"

    @property
    def commands(self) -> str:
        return f"{self.url}{COMMANDS_PATH}"

    async def say(self, text: str, *, user: User | None = None, **fields: Any) -> None:
        event = self.fake.message(self.team, self.general, user or self.alice, text, **fields)
        status, _ = await self.fake.send_event(self.events, self.team, event)
        assert status == 200


def slack_settings(fake: FakeSlack, tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    return {
        "auto_migrate": True,
        "data_dir": str(tmp_path),
        "secret_keys": SecretBox.generate_key(),
        "api_key": API_KEY,
        "slack_signing_secret": fake.signing_secret,
        "slack_api_url": fake.api_url,
        "slack_inline_wait_seconds": 1.5,  # a loaded machine still answers inline
        "module_timeout_seconds": 5.0,
        **overrides,
    }


@pytest.fixture
async def world(
    tmp_path: Path, migrated_postgres_url: str, redis_url: str, key_prefix: str
) -> AsyncIterator[World]:
    async with FakeSlack() as fake:
        team = fake.add_team("Acme")
        alice = fake.add_user(team, "alice")
        boss = fake.add_user(team, "boss", is_admin=True)
        general = fake.add_channel(team, "general", members=[alice, boss])
        settings = make_settings(
            database_url=migrated_postgres_url,
            redis_url=redis_url,
            stream_prefix=key_prefix,
            **slack_settings(fake, tmp_path, slack_bot_token=team.bot_token),
        )
        async with serving(settings) as (url, runtime):
            fake.request_url = f"{url}{EVENTS_PATH}"  # the bot's own messages come back
            yield World(fake, runtime, url, team, alice, boss, general)
            await fake.settle()


async def test_a_message_with_ping_is_answered_in_the_channel(world: World) -> None:
    await world.say("!ping")
    (answer,) = await world.fake.wait_for_posted(1, world.general)
    assert answer.text == "pong"
    assert answer.thread_ts is None  # the trigger was in no thread


async def test_a_retry_of_the_same_event_is_not_answered_twice(world: World) -> None:
    accepted = metrics.EVENTS_ACCEPTED.labels("slack")
    before = accepted._value.get()
    await world.say("!echo once")
    status, _ = await world.fake.send_event(world.events, world.team, {}, retry_num=1)
    assert status == 200  # acknowledged, so Slack stops retrying
    assert accepted._value.get() - before == 1  # the retry never reached the bus
    await world.say("!echo after")
    answers = await world.fake.wait_for_posted(2, world.general)
    assert [a.text for a in answers] == ["once", "after"]


async def test_a_first_burst_looks_the_workspace_and_the_person_up_once(world: World) -> None:
    newcomer = world.fake.add_user(world.team, "newcomer")
    await asyncio.gather(*(world.say(f"hello {n}", user=newcomer) for n in range(6)))
    # Slack rate limits both methods: one call for the workspace, one for the person
    assert [call.method for call in world.fake.calls if call.method == "auth.test"] == ["auth.test"]
    looked_up = [
        call
        for call in world.fake.calls
        if call.method == "users.info" and call.params.get("user") == newcomer.id
    ]
    assert len(looked_up) == 1


async def test_a_message_in_a_thread_is_answered_in_the_thread(world: World) -> None:
    await world.say("!ping", thread_ts="1700000000.000100")
    (answer,) = await world.fake.wait_for_posted(1, world.general)
    assert answer.thread_ts == "1700000000.000100"


async def test_a_mention_delivered_twice_is_answered_once(world: World) -> None:
    """Slack sends a message that mentions the bot as ``message`` and as ``app_mention``."""
    text = f"<@{world.team.bot_user_id}> !echo hi there"
    said = world.fake.message(world.team, world.general, world.alice, text)
    mention = world.fake.app_mention(world.team, world.general, world.alice, text, ts=said["ts"])
    for event in (said, mention):
        assert (await world.fake.send_event(world.events, world.team, event))[0] == 200
    await world.say("!echo last")
    answers = await world.fake.wait_for_posted(2, world.general)
    assert [a.text for a in answers] == ["hi there", "last"]


async def test_bots_edits_and_deletions_are_not_answered(world: World) -> None:
    fake, team, general = world.fake, world.team, world.general
    earlier = fake.message(team, general, world.alice, "hello")["ts"]
    for event in (
        fake.bot_message(team, general, "!ping", username="otherbot", bot_id="B0OTHER"),
        fake.message_changed(team, general, earlier, "!ping", editor=world.alice),
        fake.message_deleted(team, general, earlier),
    ):
        assert (await fake.send_event(world.events, team, event))[0] == 200
    await world.say("!echo only this")
    answers = await fake.wait_for_posted(1, general)
    await fake.settle()  # the bot's own message came back as an event: not answered either
    assert [a.text for a in fake.posted(general)] == ["only this"] == [a.text for a in answers]


async def test_user_text_cannot_ping_the_channel(world: World) -> None:
    await world.say("!echo <!channel> look & see")
    (answer,) = await world.fake.wait_for_posted(1, world.general)
    assert answer.text == "&lt;!channel&gt; look &amp; see"


async def test_workspace_admins_have_admin_level(world: World) -> None:
    await world.say("!modonly", user=world.boss)
    await world.say("!modonly")
    answers = await world.fake.wait_for_posted(2, world.general)
    assert sorted(a.text for a in answers) == [
        "@alice, !modonly is for moderator level and up.",
        "hello moderator boss",
    ]


async def test_a_private_answer_goes_by_direct_message(world: World) -> None:
    await world.say("!secret")
    (dm,) = await world.fake.wait_for_dms(1, world.alice)
    assert dm.text == "psst"
    assert world.fake.posted(world.general) == []


async def test_a_429_is_waited_out_and_the_message_still_arrives(world: World) -> None:
    world.fake.force_429("chat.postMessage", times=1, retry_after=1)
    await world.say("!echo still here")
    (answer,) = await world.fake.wait_for_posted(1, world.general)
    assert answer.text == "still here"
    assert len(world.fake.calls_to("chat.postMessage")) == 2  # refused once, then sent


async def test_a_channel_without_the_bot_is_logged_not_retried(world: World) -> None:
    closed = world.fake.add_channel(world.team, "closed", members=[world.alice], bot_member=False)
    refused = metrics.DELIVERED.labels("slack", "refused")
    before = refused._value.get()
    event = world.fake.message(world.team, closed, world.alice, "!ping")
    assert (await world.fake.send_event(world.events, world.team, event))[0] == 200
    await until(lambda: refused._value.get() > before)
    assert len(world.fake.calls_to("chat.postMessage")) == 1  # not_in_channel: not tried again


async def test_waddle_ping_is_answered_in_the_response(world: World) -> None:
    status, body = await world.fake.slash_command(
        world.commands, world.team, world.general, world.alice, "/waddle", "ping"
    )
    assert status == 200
    assert json.loads(body) == {"response_type": "in_channel", "text": "pong"}


async def test_a_private_slash_answer_is_ephemeral(world: World) -> None:
    status, body = await world.fake.slash_command(
        world.commands, world.team, world.general, world.alice, "/waddle", "secret"
    )
    assert (status, json.loads(body)) == (200, {"response_type": "ephemeral", "text": "psst"})


async def test_a_slow_command_is_acknowledged_then_answered_through_response_url(
    world: World,
) -> None:
    status, body = await world.fake.slash_command(
        world.commands, world.team, world.general, world.alice, "/waddle", "slow 2.0"
    )
    assert (status, body) == (200, "")
    (late,) = await world.fake.wait_for_responses(1)
    assert (late["response_type"], late["text"]) == ("in_channel", "finally")


async def test_bad_signatures_and_malformed_bodies_get_4xx(world: World) -> None:
    fake, team = world.fake, world.team
    assert (await fake.url_verification(world.events)).passed
    event = fake.message(team, world.general, world.alice, "!ping")
    for tamper in ("stale", "bad_signature", "unsigned", "no_signature", "no_timestamp"):
        status, _ = await fake.send_event(world.events, team, event, tamper=tamper)  # type: ignore[arg-type]
        assert status == 401, tamper
        status, _ = await fake.slash_command(
            world.commands,
            team,
            world.general,
            world.alice,
            "/waddle",
            "ping",
            tamper=tamper,  # type: ignore[arg-type]
        )
        assert status == 401, tamper
    status, _ = await fake.send_malformed_event(world.events)
    assert status == 400
    async with httpx2.AsyncClient() as http:  # headers no Slack request has: still a 401
        headers: dict[str, Any]
        for headers in (
            {"X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": "v0=00"},
            {"X-Slack-Request-Timestamp": "1700000000", "X-Slack-Signature": "v0=é".encode()},
            # dated now, so the signature itself is compared (slack-sdk raised on it: a 500)
            {
                "X-Slack-Request-Timestamp": str(int(time.time())),
                "X-Slack-Signature": "v0=é".encode(),
            },
        ):
            for url in (world.events, world.commands):
                answer = await http.post(url, content=b"{}", headers=headers)
                assert answer.status_code == 401, (url, headers)
    assert fake.posted() == []


async def test_installing_into_a_workspace_binds_it_to_the_community(
    tmp_path: Path, migrated_postgres_url: str, redis_url: str, key_prefix: str
) -> None:
    """OAuth v2 from an admin's link: only a workspace owner or admin installs, only in the
    browser that opened the link, once (a link preview does not spend it); the bot token is
    kept encrypted, the workspace's channels join the community, and the install answers."""
    async with FakeSlack() as fake:
        team = fake.add_team("Initech")
        alice = fake.add_user(team, "alice", is_owner=True)
        bob = fake.add_user(team, "bob")
        general = fake.add_channel(team, "general", members=[alice, bob], bot_member=True)
        port = free_port()
        public = f"http://127.0.0.1:{port}"
        settings = make_settings(
            database_url=migrated_postgres_url,
            redis_url=redis_url,
            stream_prefix=key_prefix,
            **slack_settings(
                fake,
                tmp_path,
                slack_client_id=fake.client_id,
                slack_client_secret=fake.client_secret,
                slack_public_url=public,
                slack_authorize_url=f"{fake.base_url}/oauth/v2/authorize",
            ),
        )
        async with serving(settings, port=port) as (url, runtime), httpx2.AsyncClient() as http:
            community = await runtime.directory.resolve_entity("twitch:42", "twitch")

            async def link() -> str:
                asked = await http.post(
                    f"{url}/api/v1/slack/communities/{community.community_id}/install",
                    headers={"Authorization": f"Bearer {API_KEY}"},
                )
                assert asked.status_code == 200, asked.text
                return str(asked.json()["url"])

            async def consent(start_url: str, user: User, client: httpx2.AsyncClient) -> str:
                start = await client.get(start_url)
                assert start.status_code == 302
                return fake.approve(start.headers["location"], team, user)

            async with httpx2.AsyncClient() as other:  # another browser
                member = await consent(await link(), bob, http)
                refused = await http.get(member)
                assert refused.status_code == 400 and "owner or admin" in refused.text

                stolen = await consent(await link(), alice, http)
                forged = await other.get(stolen)  # someone else's browser sent back with it
                assert forged.status_code == 400 and "another browser" in forged.text

                start_url = await link()
                assert (await other.get(start_url)).status_code == 302  # a chat's link preview
                page = await http.get(await consent(start_url, alice, http))
                assert page.status_code == 200 and "installed" in page.text
                again = await http.get(await consent(start_url, alice, http))
                assert again.status_code == 400 and "used already" in again.text

            event = fake.message(team, general, alice, "!community")
            assert (await fake.send_event(f"{url}{EVENTS_PATH}", team, event))[0] == 200
            (answer,) = await fake.wait_for_posted(1, general)
            assert "twitch:42" in answer.text and f"slack:{team.id}:{general.id}" in answer.text
            async with runtime.db.read_session() as session:
                stored = await session.scalar(
                    text("SELECT access_token FROM platform_tokens WHERE platform = 'slack'")
                )
            assert stored and team.bot_token not in stored  # encrypted at rest


async def test_socket_mode_envelopes_are_acked_and_answered(
    tmp_path: Path, migrated_postgres_url: str, redis_url: str, key_prefix: str
) -> None:
    """No public URL: events and slash commands over Socket Mode, through a refresh."""
    async with FakeSlack() as fake:
        team = fake.add_team("Acme")
        alice = fake.add_user(team, "alice")
        general = fake.add_channel(team, "general", members=[alice])
        settings = make_settings(
            database_url=migrated_postgres_url,
            redis_url=redis_url,
            stream_prefix=key_prefix,
            **slack_settings(
                fake,
                tmp_path,
                slack_signing_secret="",
                slack_bot_token=team.bot_token,
                slack_app_token=fake.app_token,
            ),
        )
        async with serving(settings) as (_, runtime):
            await fake.wait_for_socket(1)
            ready = await reported(runtime.ports, "slack", lambda r: states(r) == ["ready"])
            (first,) = links(ready)
            assert first.name == "Socket Mode" and first.last_event is None
            said = await fake.socket_event(team, fake.message(team, general, alice, "!ping"))
            assert (await fake.wait_for_ack(said)).payload is None
            (answer,) = await fake.wait_for_posted(1, general)
            assert answer.text == "pong"

            command = await fake.socket_slash_command(team, general, alice, "/waddle", "echo hi")
            ack = await fake.wait_for_ack(command)
            assert ack.payload == {"response_type": "in_channel", "text": "hi"}
            assert not ack.late

            await fake.socket_disconnect("refresh_requested")
            await fake.wait_for_socket(1)  # slack-sdk opened a new connection

            def on_a_new_connection(found: list[Report]) -> bool:
                return [(k.state, k.session != first.session) for k in links(found)] == [
                    ("ready", True)
                ]

            (renewed,) = links(await reported(runtime.ports, "slack", on_a_new_connection))
            assert renewed.last_event is not None  # the event and the command came
            said = await fake.socket_event(team, fake.message(team, general, alice, "!echo back"))
            await fake.wait_for_ack(said)
            answers = await fake.wait_for_posted(3, general)  # the command's answer is shown
            assert [a.text for a in answers] == ["pong", "hi", "back"]
            await fake.settle()


async def test_on_the_events_api_the_webhook_and_its_last_event_are_reported(
    world: World,
) -> None:
    await world.say("!ping")
    await world.fake.wait_for_posted(1, world.general)

    def heard(found: list[Report]) -> bool:  # within a heartbeat: an event is no change
        return [(k.state, k.last_event is not None) for k in links(found)] == [("webhook", True)]

    (webhook,) = links(await reported(world.runtime.ports, "slack", heard))
    assert webhook.name == "webhook (HTTP events)"


async def put_reply(world: World, text: str, **fields: Any) -> None:
    """A reply as the router puts it on the Slack reply stream."""
    message = OutboundMessage(
        outbound_id=new_id(),
        event_id=new_id(),
        session_id="s",
        platform="slack",
        entity_id=f"slack:{world.team.id}:{world.general.id}",
        channel_id=world.general.id,
        text=text,
        **fields,
    )
    await world.runtime.ports.bus.publish(keys.replies_stream("slack"), [encode_outbound(message)])


async def test_an_ephemeral_reply_is_shown_to_its_person_only(world: World) -> None:
    await put_reply(world, "only you", visibility=Visibility.EPHEMERAL, to_user=world.alice.id)
    (shown,) = await world.fake.wait_for_ephemerals(1, world.general)
    assert (shown.text, shown.ephemeral_to) == ("only you", world.alice.id)
    assert world.fake.posted(world.general) == []


async def test_a_long_reply_is_split_on_word_boundaries(world: World) -> None:
    text = " ".join(["waddle"] * 1000)  # 6,999 characters
    await put_reply(world, text)
    parts = await world.fake.wait_for_posted(2, world.general)
    assert " ".join(p.text for p in parts) == text
    assert all(len(p.text) <= 4000 for p in parts)


async def test_a_burst_is_paced_to_what_slack_allows_in_a_channel(world: World) -> None:
    world.fake.limit_post_message(rate=1.0, burst=3)  # Slack: about one a second per channel
    for n in range(6):
        await world.say(f"!echo {n}")
    answers = await world.fake.wait_for_posted(6, world.general, timeout=15)
    assert sorted(a.text for a in answers) == [str(n) for n in range(6)]
    assert [c.status for c in world.fake.calls_to("chat.postMessage")] == [200] * 6  # no 429


async def test_a_slash_command_in_a_direct_message_stays_off_the_stream_ticker(
    world: World,
) -> None:
    """An overlay is open; what the bot answers to a command used in a DM is not shown."""
    runtime = world.runtime
    community = await runtime.directory.resolve_entity(
        f"slack:{world.team.id}:{world.general.id}", "slack", server_id=world.team.id
    )
    lines = await runtime.ports.broadcast.subscribe(overlay_keys.channel(community.community_id))
    await runtime.ports.cache.set(overlay_keys.live_key(community.community_id), b"1", 60)
    try:
        dm = world.fake.open_im(world.team, world.alice)
        status, body = await world.fake.slash_command(
            world.commands, world.team, dm, world.alice, "/waddle", "echo my secret"
        )
        assert (status, json.loads(body)["text"]) == (200, "my secret")
        await world.say("!echo for everyone")
        await world.fake.wait_for_posted(1, world.general)
        shown = [json.loads(line) async for line in _first(lines, 1)]
        assert "my secret" not in json.dumps(shown)
        assert "for everyone" in json.dumps(shown)
    finally:
        await lines.close()


async def _first(subscription: Any, n: int) -> AsyncIterator[bytes]:
    async with asyncio.timeout(5):
        count = 0
        async for data in subscription:
            yield data
            count += 1
            if count == n:
                return
