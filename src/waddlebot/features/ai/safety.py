"""What a model wrote, made fit for chat: no mass or role pings, no links unless the community
allows them, no Markdown where the platform shows it raw, and no longer than the community and
the platform allow.

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
LINK_REMOVED = "(link removed)"

_MARKUP = re.compile(r"\*\*|__|~~|`")
_ITALIC = re.compile(
    r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])|(?<!\w)_(?=\S)([^_\n]+?)(?<=\S)_(?!\w)"
)
_HEADING = re.compile(r"^#{1,6}[ \t]+", re.MULTILINE)
_MARKDOWN_LINK = re.compile(r"\[([^\]\n]+)\]\(([^)\s]+)\)")
_SLACK_LINK = re.compile(r"<((?:https?|ftp|mailto):[^|>\s]+)(?:\|([^>]*))?>", re.IGNORECASE)
_URL = re.compile(r"\b(?:(?:https?|ftp)://|www\.)[^\s<>\"'`]+", re.IGNORECASE)


def neutralise_mentions(text: str) -> str:
    """``@everyone``, ``@here``, ``@channel``, Discord role pings (``<@&123>``) and Slack's
    ``<!here>``, ``<!channel>``, ``<!everyone>``, ``<!subteam^...>`` as text that pings no one."""
    text = _DISCORD_ROLE.sub("@role", text)
    text = _SLACK_SPECIAL.sub(lambda found: f"@{found.group(1)}", text)
    return _MASS_MENTION.sub(lambda found: f"@{ZERO_WIDTH}{found.group(1)}", text)


def without_links(text: str) -> str:
    """Links taken out: a Markdown or Slack link keeps its words, a bare address (``http://``,
    ``https://``, ``ftp://``, ``www.``) becomes ``(link removed)``. Removed rather than
    defanged (``example[.]com``): a defanged link is still an address to copy."""
    text = _SLACK_LINK.sub(lambda found: found.group(2) or LINK_REMOVED, text)
    text = _MARKDOWN_LINK.sub(lambda found: found.group(1), text)
    return _URL.sub(LINK_REMOVED, text)


def strip_markdown(text: str) -> str:
    """Bold, italics, strike-through, code and heading marks taken out, the words kept; a
    Markdown link becomes its words and its address in brackets."""
    text = _MARKDOWN_LINK.sub(
        lambda found: (
            found.group(2) if found.group(1) == found.group(2) else f"{found[1]} ({found[2]})"
        ),
        text,
    )
    text = _HEADING.sub("", _MARKUP.sub("", text))
    return _ITALIC.sub(lambda found: found.group(1) or found.group(2), text)


def for_chat(text: str, *, platform: str, limit: int, allow_links: bool = False) -> str:
    """A model's answer as the bot says it on ``platform``, at most ``limit`` characters, on
    one line per paragraph kept ('' when nothing is left); links only if ``allow_links``."""
    text = neutralise_mentions(text)
    if not allow_links:
        text = without_links(text)
    if platform in PLAIN_TEXT_PLATFORMS:
        text = " ".join(strip_markdown(text).split())
    return truncate(text.strip(), limit)
