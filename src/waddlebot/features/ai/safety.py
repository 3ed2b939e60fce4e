"""What a model wrote, made fit for chat: no mass or role pings, no Markdown where the
platform shows it raw, and no longer than the community and the platform allow.

The platforms refuse pings at sending too (Discord's allowed mentions, Slack's escaping);
this keeps the text itself harmless wherever it is shown, quoted or relayed."""

from __future__ import annotations

import re

from waddlebot.core.variables import truncate

ZERO_WIDTH = "\u200b"  # between @ and the word: shown the same, pings nobody
PLAIN_TEXT_PLATFORMS = frozenset({"twitch"})  # chat shows Markdown as the characters typed

_MASS_MENTION = re.compile(r"@(everyone|here|channel)\b", re.IGNORECASE)
_DISCORD_ROLE = re.compile(r"<@&\d+>")
_SLACK_SPECIAL = re.compile(r"<!([a-z]+)(?:\^[^>|]*)?(?:\|[^>]*)?>", re.IGNORECASE)
_MARKUP = re.compile(r"\*\*|__|`")


def neutralise_mentions(text: str) -> str:
    """``@everyone``, ``@here``, ``@channel``, Discord role pings (``<@&123>``) and Slack's
    ``<!here>``, ``<!channel>``, ``<!everyone>``, ``<!subteam^...>`` as text that pings no one."""
    text = _DISCORD_ROLE.sub("@role", text)
    text = _SLACK_SPECIAL.sub(lambda found: f"@{found.group(1)}", text)
    return _MASS_MENTION.sub(lambda found: f"@{ZERO_WIDTH}{found.group(1)}", text)


def strip_markdown(text: str) -> str:
    """Bold (``**``, ``__``) and code marks (backticks) taken out, the words kept."""
    return _MARKUP.sub("", text)


def for_chat(text: str, *, platform: str, limit: int) -> str:
    """A model's answer as the bot says it on ``platform``, at most ``limit`` characters, on
    one line per paragraph kept ('' when nothing is left)."""
    text = neutralise_mentions(text)
    if platform in PLAIN_TEXT_PLATFORMS:
        text = " ".join(strip_markdown(text).split())
    return truncate(text.strip(), limit)
