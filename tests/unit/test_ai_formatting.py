"""An answer shaped for its platform: links only where the community allows them, Markdown
off on Twitch, long answers split on Discord and Slack; and what the chat listener reads of a
line (the share of lines answered unasked, a greeting's facts)."""

from __future__ import annotations

from typing import Any

import pytest

from waddlebot.core.contract import ModuleRequest
from waddlebot.core.events import Amounts, EventType
from waddlebot.features.ai.conversation import chosen, greeting_facts
from waddlebot.features.ai.formatting import answer_limit, messages_for
from waddlebot.features.ai.safety import LINK_REMOVED, for_chat, strip_markdown, without_links

R = LINK_REMOVED


@pytest.mark.parametrize(
    ("written", "said"),
    [
        ("see https://example.com/a?b=1 now", f"see {R} now"),
        ("or www.example.com.", f"or {R}"),
        ("the [docs](https://example.com/docs) say so", "the docs say so"),
        ("Slack's <https://example.com|docs> and <https://example.com>", f"Slack's docs and {R}"),
        ("[https://x.example](https://x.example)", R),
        ("no link in example.com or a.b", "no link in example.com or a.b"),
    ],
)
def test_links_are_removed(written: str, said: str) -> None:
    assert without_links(written) == said


def test_links_are_kept_where_the_community_allows_them() -> None:
    text = "read [the docs](https://example.com/docs) or https://example.com"
    assert for_chat(text, platform="discord", limit=500, allow_links=True) == text
    assert for_chat(text, platform="twitch", limit=500, allow_links=True) == (
        "read the docs (https://example.com/docs) or https://example.com"
    )
    assert for_chat(text, platform="discord", limit=500) == f"read the docs or {R}"


@pytest.mark.parametrize(
    ("written", "said"),
    [
        ("*italic* and _also_", "italic and also"),
        ("~~gone~~ ## Heading", "gone ## Heading"),
        ("## Heading\ntext", "Heading\ntext"),
        ("snake_case_name and 2 * 3 * 4", "snake_case_name and 2 * 3 * 4"),
        ("***both***", "both"),
    ],
)
def test_markdown_marks_go_on_twitch(written: str, said: str) -> None:
    assert strip_markdown(written) == said


def test_discord_and_slack_take_long_answers_in_several_messages() -> None:
    assert answer_limit("discord", 4000) == 4000
    assert answer_limit("slack", 4000) == 4000
    assert answer_limit("twitch", 4000) == 500
    assert answer_limit("twitch", 300) == 300
    said = ("penguin " * 400).strip()  # 3199 characters
    parts = messages_for("discord", said)
    assert [len(part) for part in parts] == [1999, 1199]
    assert " ".join(parts) == said
    assert messages_for("twitch", "one line") == ["one line"]
    slack = ("penguin " * 700).strip()  # 5599 characters: more than one Slack message
    assert [len(part) for part in messages_for("slack", slack)] == [3999, 1599]


def request(**fields: Any) -> ModuleRequest:
    place = {"entity_id": "twitch:1", "platform": "twitch"}
    return ModuleRequest(session_id="s", community_id=1, **{**place, **fields})


def test_the_share_answered_unasked_is_decided_by_the_message_id() -> None:
    ids = [f"message-{n}" for n in range(1000)]
    picked = [i for i in ids if chosen(i, 0.25)]
    assert 200 < len(picked) < 300
    assert picked == [i for i in ids if chosen(i, 0.25)]  # the same on every router
    assert all(chosen(i, 1.0) for i in ids) and not any(chosen(i, 0.0) for i in ids)


@pytest.mark.parametrize(
    ("kind", "amounts", "facts"),
    [
        (EventType.FOLLOW, {}, "bob followed the channel"),
        (EventType.SUBSCRIBE, {"tier": "1000", "months": 5}, "bob subscribed (tier 1, 5 months)"),
        (EventType.SUBSCRIBE, {}, "bob subscribed"),
        (EventType.GIFT_SUBSCRIBE, {"tier": "2000", "count": 3}, "bob gifted 3 tier 2 subs"),
        (EventType.RAID, {"viewers": 12}, "bob raided the channel with 12 viewers"),
        (EventType.BOOST, {}, "bob boosted the server"),
    ],
)
def test_a_greeting_is_given_the_facts(
    kind: EventType, amounts: dict[str, Any], facts: str
) -> None:
    said = request(kind="event", event_type=kind, amounts=Amounts(**amounts))
    assert greeting_facts(said, "bob") == facts
