"""A model's answer made fit for chat: pings neutralised, Markdown off on Twitch, cut short."""

from __future__ import annotations

import pytest

from waddlebot.features.ai.safety import (
    ZERO_WIDTH,
    for_chat,
    neutralise_mentions,
    strip_markdown,
)

Z = ZERO_WIDTH


@pytest.mark.parametrize(
    ("written", "said"),
    [
        ("hey @everyone!", f"hey @{Z}everyone!"),
        ("@HERE look", f"@{Z}HERE look"),
        ("ping @channel now", f"ping @{Z}channel now"),
        ("<@&123456789> wake up", "@role wake up"),
        ("<!here> and <!channel|channel>", f"@{Z}here and @{Z}channel"),
        ("<!subteam^S012AB|@devs> hi", "@subteam hi"),
        ("<!everyone>", f"@{Z}everyone"),
        # inside a word too: harmless to a reader, and no chat's parser has to be trusted
        ("mail someone@everyone.example", f"mail someone@{Z}everyone.example"),
        ("@everyones favourite", "@everyones favourite"),
        ("hi <@42>, thanks", "hi <@42>, thanks"),  # a person, not a crowd: the platform decides
    ],
)
def test_mass_and_role_mentions_ping_nobody(written: str, said: str) -> None:
    assert neutralise_mentions(written) == said


def test_markdown_marks_are_taken_out_the_words_kept() -> None:
    assert strip_markdown("**bold** and __under__ and `code`") == "bold and under and code"
    assert strip_markdown("```py\nprint(1)\n```") == "py\nprint(1)\n"
    assert strip_markdown("a * b = c_d") == "a * b = c_d"


def test_twitch_gets_one_plain_line() -> None:
    said = for_chat("**Yes!**\n\nUse `!quote`, @everyone.", platform="twitch", limit=500)
    assert said == f"Yes! Use !quote, @{Z}everyone."


def test_other_platforms_keep_their_markdown_and_lines() -> None:
    said = for_chat("**Yes!**\nUse `!quote`.", platform="discord", limit=2000)
    assert said == "**Yes!**\nUse `!quote`."


def test_an_answer_is_cut_to_the_limit_on_a_word() -> None:
    said = for_chat("penguins " * 100, platform="console", limit=50)
    assert len(said) <= 50 and said.endswith("…") and "pengu…" not in said


def test_nothing_left_is_empty() -> None:
    assert for_chat("  `` ** ", platform="twitch", limit=100) == ""
