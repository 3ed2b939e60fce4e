"""How long an answer may be on each platform, and in how many messages it is said.

Discord and Slack take several messages in a row well, so an answer there may be as long as
the community's ``max_reply_chars`` and is split at word boundaries into messages the platform
takes; Twitch (and the console) get one message, cut to fit."""

from __future__ import annotations

from waddlebot.platforms import max_length
from waddlebot.platforms.split import split_message

SPLIT_PLATFORMS = frozenset({"discord", "slack"})


def answer_limit(platform: str, max_reply_chars: int) -> int:
    """The longest answer said on ``platform``, in all its messages."""
    if platform in SPLIT_PLATFORMS:
        return max_reply_chars
    return min(max_reply_chars, max_length(platform))


def messages_for(platform: str, said: str) -> list[str]:
    """``said`` (already cut to :func:`answer_limit`) as the messages sent, in order."""
    return split_message(said, max_length(platform))
