"""The command parser: ``!name args`` (or the community's prefix) and ``#name args`` for
serverless modules, with shell-like quoting that never fails on what users really type.

Written by hand rather than with :mod:`shlex` because chat text is not shell input: an
unbalanced quote (``!quote add it's fine``) must not raise, phone keyboards send curly quotes,
and backslashes are ordinary characters in chat.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

SERVERLESS_PREFIX = "#"
MAX_NAME_LENGTH = 32
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,31}")
# a '#' command may start with a digit when a letter follows (#8ball); '#1' and '#2024' are chat
_SERVERLESS_NAME = re.compile(r"[0-9]*[A-Za-z][A-Za-z0-9_-]*")
_QUOTES = {'"': '"', "'": "'", "\u201c": "\u201d", "\u2018": "\u2019", "\u201e": "\u201c"}
_ANY_QUOTE = frozenset(_QUOTES)


def check_prefix(prefix: str) -> str:
    """A community's command prefix: 1 to 8 characters, no spaces, not the serverless '#'."""
    if not 1 <= len(prefix) <= 8 or any(char.isspace() for char in prefix):
        raise ValueError("a prefix is 1 to 8 characters without spaces")
    if prefix.startswith(SERVERLESS_PREFIX):
        raise ValueError(
            f"a prefix cannot start with {SERVERLESS_PREFIX}: it marks serverless commands"
        )
    return prefix


@dataclass(frozen=True, slots=True)
class ParsedCommand:
    prefix: str  # the community prefix (e.g. "!") or "#" for serverless commands
    name: str  # lower case, without prefix
    args: tuple[str, ...]
    rest: str  # everything after the name, stripped: the raw argument text

    @property
    def serverless(self) -> bool:
        return self.prefix == SERVERLESS_PREFIX


def parse_command(text: str, prefix: str = "!") -> ParsedCommand | None:
    """Parse one chat line; ``None`` when it is not a command (plain chat)."""
    stripped = text.lstrip()
    if prefix and stripped.startswith(prefix):
        used = prefix
    elif stripped.startswith(SERVERLESS_PREFIX):
        used = SERVERLESS_PREFIX
    else:
        return None
    pattern = _SERVERLESS_NAME if used == SERVERLESS_PREFIX else _NAME
    match = pattern.match(stripped, len(used))
    if match is None or len(match.group()) > MAX_NAME_LENGTH:
        return None
    end = match.end()
    if end < len(stripped) and not stripped[end].isspace():
        return None  # "!ping!" or "#1!" is chat, not a command
    rest = stripped[end:].strip()
    return ParsedCommand(used, match.group().lower(), split_args(rest), rest)


def split_args(text: str) -> tuple[str, ...]:
    """Split on whitespace; a quoted run is one argument. An unclosed quote is literal."""
    if not _ANY_QUOTE.intersection(text):
        return tuple(text.split())
    return tuple(arg for arg, _ in _spans(text))


def text_after(text: str, count: int) -> str:
    """What follows the first ``count`` arguments of ``text`` (as :func:`split_args` reads
    them), verbatim: quotes and spacing kept, stripped."""
    if count <= 0:
        return text.strip()
    for seen, (_, end) in enumerate(_spans(text), 1):
        if seen == count:
            return text[end:].strip()
    return ""


def _spans(text: str) -> Iterator[tuple[str, int]]:
    """Each argument and where it ends in ``text``."""
    current: list[str] = []
    in_token = False
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char.isspace():
            if in_token:
                yield "".join(current), i
                current, in_token = [], False
            i += 1
            continue
        closer = _QUOTES.get(char)
        if closer is not None and not in_token:
            end = text.find(closer, i + 1)
            if end != -1 and (end + 1 == n or text[end + 1].isspace()):
                yield text[i + 1 : end], end + 1
                i = end + 1
                continue
        current.append(char)
        in_token = True
        i += 1
    if in_token:
        yield "".join(current), n


def quote_arg(arg: str) -> str:
    """The inverse of :func:`split_args` for one argument, wherever it goes in a line (used
    by aliases and tests): the argument as it is when it reads back as itself next to any
    other, else in the first pair of quotes whose closing quote it does not contain. Every
    argument :func:`split_args` gives can be written back (a quoted one never contains its
    own closing quote; an unquoted one that opens with a quote either lacks its closing
    quote or has it inside, followed by more text)."""
    if arg and not any(c.isspace() for c in arg):
        closer = _QUOTES.get(arg[0])
        if closer is None:
            return arg
        end = arg.find(closer, 1)
        if end != -1 and end + 1 < len(arg):  # "glued"on: literal, whatever follows it
            return arg
    for opener, closer in _QUOTES.items():
        if closer not in arg:
            return f"{opener}{arg}{closer}"
    raise ValueError("argument contains every kind of quote and whitespace; cannot quote it")
