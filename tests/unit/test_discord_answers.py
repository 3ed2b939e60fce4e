"""What a slash command's first response is made of, from the router's completion."""

from __future__ import annotations

from typing import Any

from waddlebot.core.contract import OutboundMessage, Visibility
from waddlebot.platforms.discord.answers import EPHEMERAL, inline_response

INTERACTION = "1234"


def reply(text: str, *, reply_to: str = INTERACTION, private: bool = False) -> dict[str, Any]:
    return OutboundMessage(
        outbound_id=f"o-{text[:8]}",
        event_id="e",
        session_id="s",
        platform="discord",
        entity_id="discord:1:2",
        channel_id="2",
        text=text,
        visibility=Visibility.DIRECT if private else Visibility.CHANNEL,
        reply_to=reply_to,
        to_user="9" if private else "",
    ).model_dump(mode="json")


def test_one_answer_is_given_inline_with_safe_mentions() -> None:
    response = inline_response([reply("pong")], INTERACTION)
    assert response is not None
    assert response["type"] == 4
    assert response["data"]["content"] == "pong"
    assert response["data"]["allowed_mentions"]["parse"] == []  # no ping from user text
    assert "flags" not in response["data"]


def test_a_private_answer_is_ephemeral() -> None:
    response = inline_response([reply("your code", private=True)], INTERACTION)
    assert response is not None
    assert response["data"]["flags"] & EPHEMERAL


def test_replies_to_other_messages_are_not_part_of_the_answer() -> None:
    replies = [reply("elsewhere", reply_to="999"), reply("pong")]
    response = inline_response(replies, INTERACTION)
    assert response is not None and response["data"]["content"] == "pong"


def test_no_answer_still_answers_the_person_privately() -> None:
    response = inline_response([reply("elsewhere", reply_to="999")], INTERACTION)
    assert response == {"type": 4, "data": {"content": "Done.", "flags": EPHEMERAL}}


def test_more_than_one_message_is_deferred() -> None:
    assert inline_response([reply("one"), reply("two")], INTERACTION) is None
    assert inline_response([reply("x" * 2001)], INTERACTION) is None
