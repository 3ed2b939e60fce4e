"""Splitting a reply that is too long for one platform message (Twitch 500 characters,
Discord 2000, ...) into several, at word boundaries."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence


def split_message(text: str, limit: int) -> list[str]:
    """``text`` in chunks of at most ``limit`` characters, each as long as whole words allow.

    Chunks break at whitespace, which is dropped at the break; whitespace inside a chunk is
    kept as it was (newlines matter on Discord and Slack). A word is cut only when it alone is
    longer than ``limit``. No chunk is empty or starts or ends with whitespace, and
    whitespace-only text gives no chunks at all.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    chunks: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        # rest[limit] being whitespace means the first `limit` characters end on a whole word
        cut = next((i for i in range(limit, 0, -1) if rest[i].isspace()), 0)
        if cut == 0:  # the first word alone is too long
            chunks.append(rest[:limit])
            rest = rest[limit:]
        else:
            chunks.append(rest[:cut].rstrip())
            rest = rest[cut:].lstrip()
    if rest:
        chunks.append(rest)
    return chunks


class SentParts:
    """Which parts of each split message went out. A message whose sending failed half way
    is handed out again by the bus; it then goes on where it stopped instead of repeating
    its first parts."""

    def __init__(self, remembered: int = 10_000) -> None:
        self._remembered = remembered
        self._done: OrderedDict[str, int] = OrderedDict()

    async def send(
        self, key: str, parts: Sequence[str], send_one: Callable[[int, str], Awaitable[object]]
    ) -> None:
        for index in range(self._done.get(key, 0), len(parts)):
            await send_one(index, parts[index])
            self._done[key] = index + 1
            self._done.move_to_end(key)
            if len(self._done) > self._remembered:
                self._done.popitem(last=False)
