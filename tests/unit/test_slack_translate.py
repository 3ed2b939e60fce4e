"""Slack payloads (recorded shapes in tests/fixtures/slack) into canonical events, and the
per-channel pace of the outbound."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from waddlebot.core.events import EventType
from waddlebot.core.permissions import PlatformRole
from waddlebot.platforms.slack import translate
from waddlebot.platforms.slack.outbound import ChannelPace, escape

FIXTURES = Path(__file__).parents[1] / "fixtures" / "slack"
TEAM, BOT = "T0ACME00001", "U0WADDLEB01"
ALICE = translate.Person("U0ALICE0001", "alice", "Alice")


def fixture(name: str) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    payload.pop("_note", None)
    return payload


def test_a_channel_message_is_a_chat_message_of_its_channel() -> None:
    event = translate.message(TEAM, fixture("event.message"), ALICE, bot_user_id=BOT)
    assert event.type is EventType.CHAT_MESSAGE
    assert event.entity_id == f"slack:{TEAM}:C0WADDLE001"
    assert (event.server_id, event.channel_id, event.thread_id) == (TEAM, "C0WADDLE001", "")
    assert event.message_id == "C0WADDLE001:1700000000.000100"
    assert event.text == "!ping"


def test_a_mention_and_its_message_share_one_id_and_lose_the_mention() -> None:
    mention = fixture("event.app_mention")
    event = translate.message(TEAM, mention, ALICE, bot_user_id=BOT)
    same = translate.message(TEAM, {**mention, "type": "message"}, ALICE, bot_user_id=BOT)
    assert event.text == "ping" == same.text
    assert event.message_id == same.message_id


def test_slack_escapes_are_undone_and_other_mentions_kept() -> None:
    said = {**fixture("event.message"), "text": "!echo a &lt;b&gt; &amp; <@U0BOB000001>"}
    assert translate.message(TEAM, said, ALICE, bot_user_id=BOT).text == (
        "!echo a <b> & <@U0BOB000001>"
    )
    assert escape("a <b> & <!channel>") == "a &lt;b&gt; &amp; &lt;!channel&gt;"


def test_a_reply_in_a_thread_names_the_thread() -> None:
    said = {**fixture("event.message"), "thread_ts": "1699999999.000001"}
    assert translate.message(TEAM, said, ALICE, bot_user_id=BOT).thread_id == "1699999999.000001"


def test_a_direct_message_is_a_whisper() -> None:
    said = {**fixture("event.message"), "channel": "D0ALICE0001", "channel_type": "im"}
    assert translate.message(TEAM, said, ALICE, bot_user_id=BOT).type is EventType.WHISPER


@pytest.mark.parametrize(
    "name",
    ["event.message.bot_message", "event.message.message_changed", "event.message.message_deleted"],
)
def test_bots_edits_and_deletions_have_no_speaker(name: str) -> None:
    assert translate.speaker(fixture(name), BOT) is None


def test_the_bots_own_messages_have_no_speaker() -> None:
    assert translate.speaker({**fixture("event.message"), "user": BOT}, BOT) is None
    assert translate.speaker(fixture("event.message"), BOT) == "U0ALICE0001"


def test_workspace_owners_and_admins_get_their_roles() -> None:
    owner = translate.Person.from_user(
        {"id": "U1", "name": "o", "is_primary_owner": True, "team_id": TEAM}, TEAM
    )
    admin = translate.Person.from_user({"id": "U2", "name": "a", "is_admin": True}, TEAM)
    assert owner.author().roles == (PlatformRole.OWNER,)
    assert admin.author().roles == (PlatformRole.ADMIN,)
    assert ALICE.author().roles == ()


def test_someone_made_admin_or_renamed_speaks_as_they_are_now() -> None:
    """Each person's author is kept once built: by everything Slack said of them."""
    before = translate.Person("U0BOB000001", "bob", "Bob")
    assert before.author().roles == ()
    promoted = translate.Person("U0BOB000001", "bob", "Bob", is_admin=True)
    renamed = translate.Person("U0BOB000001", "bob", "Robert")
    assert promoted.author().roles == (PlatformRole.ADMIN,)
    assert renamed.author().display_name == "Robert"
    assert before.author().roles == ()


def test_an_admin_of_another_organisation_is_no_admin_here() -> None:
    """Slack Connect: a shared channel's guest is an admin of their own workspace only."""
    guest = translate.Person.from_user(
        {"id": "U3", "name": "g", "is_admin": True, "is_owner": True, "team_id": "T0OTHER"}, TEAM
    )
    assert guest.author().roles == ()


def test_a_member_joining_a_channel() -> None:
    bob = translate.Person("U0BOB000001", "bob")
    event = translate.member_joined(TEAM, fixture("event.member_joined_channel"), bob)
    assert event.type is EventType.MEMBER_JOIN
    assert event.author is not None and event.author.user_id == "U0BOB000001"


@pytest.mark.parametrize(
    ("command", "text", "becomes"),
    [
        ("/waddle", "quote 12", "/quote 12"),
        ("/waddle", "", "/help"),
        ("/waddle", "#8ball will it rain?", "#8ball will it rain?"),
        ("/quote", "12", "/quote 12"),
    ],
)
def test_slash_commands_become_commands(command: str, text: str, becomes: str) -> None:
    fields = {**fixture("slash_command"), "command": command, "text": text}
    event = translate.slash_command(fields, ALICE)
    assert event.type is EventType.SLASH_COMMAND
    assert event.text == becomes
    assert event.message_id == fields["trigger_id"]


def test_a_slash_command_without_its_trigger_is_malformed() -> None:
    fields = fixture("slash_command")
    del fields["trigger_id"]
    with pytest.raises(translate.MalformedPayload, match="trigger_id"):
        translate.slash_command(fields, ALICE)


def _sent(pace: ChannelPace, channel: str, at: float, answered: float | None = None) -> float:
    """One message through the pace: its wait, then Slack's answer (at once by default)."""
    wait = pace.delay(channel, at)
    pace.answered(channel, at + wait if answered is None else answered)
    return wait


def test_the_pace_lets_a_burst_through_then_one_a_second_per_channel() -> None:
    pace = ChannelPace(per_second=1.0, burst=3)
    assert [_sent(pace, "C1", 100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert _sent(pace, "C1", 100.0) == pytest.approx(1.0)
    assert _sent(pace, "C2", 100.0) == 0.0  # another channel has its own
    assert _sent(pace, "C1", 110.0) == 0.0  # refilled meanwhile


def test_a_message_counts_from_when_slack_answered_it() -> None:
    """Slack counts a message when it arrives, at the latest when it answers: the fourth of
    a burst whose first answer took 0.3 s must not leave before 1.3 s, however quickly the
    others went (counting from the sending let it leave at 1.0 s, and Slack said 429)."""
    pace = ChannelPace(per_second=1.0, burst=3)
    assert _sent(pace, "C1", 100.0, answered=100.3) == 0.0
    assert _sent(pace, "C1", 100.3, answered=100.31) == 0.0
    assert _sent(pace, "C1", 100.31, answered=100.32) == 0.0
    assert pace.delay("C1", 100.32) == pytest.approx(0.98)  # leaves at 101.3


def test_messages_on_their_way_hold_their_tokens() -> None:
    pace = ChannelPace(per_second=1.0, burst=3)
    assert [pace.delay("C1", 100.0) for _ in range(4)] == [0.0, 0.0, 0.0, pytest.approx(1.0)]


def test_the_pace_forgets_channels_that_are_quiet_again() -> None:
    pace = ChannelPace(per_second=1.0, burst=3)
    for n in range(10_000):
        _sent(pace, f"C{n}", 100.0)
    pace.delay("waiting", 100.0)  # on its way: never forgotten
    for _ in range(3):
        _sent(pace, "busy", 200.0)
    _sent(pace, "new", 200.0)  # over the cap: the quiet channels are forgotten
    assert len(pace._buckets) == 3
    assert pace.delay("busy", 200.0) == pytest.approx(1.0)  # the busy one still waits
