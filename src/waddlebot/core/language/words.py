"""Words as people type them in chat: the first word and the rest (whose spacing is kept),
counts with their unit (``1 minute``, ``2 minutes``) and names in quotes."""

from __future__ import annotations

QUOTE_PAIRS = {'"': '"', "'": "'", "\u201c": "\u201d", "\u2018": "\u2019", "\u201e": "\u201c"}
"""Opening quotation marks and the mark that closes each (straight, and the curly ones phones
type)."""


def split_word(text: str) -> tuple[str, str]:
    """The first word of ``text`` and the rest after the space that follows it, whose own
    spacing is kept."""
    parts = text.lstrip().split(maxsplit=1)
    if not parts:
        return "", ""
    return parts[0], parts[1] if len(parts) > 1 else ""


def skip_words(text: str, count: int) -> str:
    """``text`` without its first ``count`` words, the rest as typed."""
    rest = text
    for _ in range(count):
        _, rest = split_word(rest)
    return rest


def words_after(text: str, count: int) -> str:
    """``text`` without its first ``count`` words, trimmed."""
    return skip_words(text, count).strip()


def plural(count: int, unit: str) -> str:
    """``1 minute``, ``2 minutes``, ``0 minutes``."""
    return f"{count} {unit}{'' if count == 1 else 's'}"


def unquoted(text: str) -> str:
    """The text without one pair of quotation marks around all of it (``'movie night'``,
    ``"movie night"``, ``“movie night”``); anything else as it is, trimmed."""
    text = text.strip()
    if len(text) >= 2 and QUOTE_PAIRS.get(text[0]) == text[-1]:
        return text[1:-1].strip()
    return text
