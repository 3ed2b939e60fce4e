"""A community's activity per minute: chat messages, commands and command errors, counted by
the router with each batch (one pipelined INCRBY per community and kind, in the cache every
process shares) and read by the portal's dashboard. Each minute's counter expires after
:data:`KEEP_SECONDS`, and when each place was last heard from is kept beside them."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from waddlebot.infra.ports import Cache

Kind = Literal["messages", "commands", "errors"]
KINDS: tuple[Kind, ...] = ("messages", "commands", "errors")
WINDOW_MINUTES = 60  # what the dashboard shows
KEEP_SECONDS = (WINDOW_MINUTES + 5) * 60  # a minute's counter outlives the window it is in
SEEN_SECONDS = 7 * 86_400  # "last event seen" of a place, forgotten after a quiet week


def minute_of(at: float) -> int:
    """The minute (since the epoch) a moment falls in."""
    return int(at // 60)


def count_key(community_id: int, kind: Kind, minute: int) -> str:
    return f"activity:{community_id}:{kind}:{minute}"


def seen_key(entity_id: str) -> str:
    return f"activity:seen:{entity_id}"


@dataclass(frozen=True, slots=True)
class Minute:
    minute: int  # since the epoch
    messages: int
    commands: int
    errors: int

    @property
    def at(self) -> int:
        """Its start, in seconds since the epoch."""
        return self.minute * 60


async def count(
    cache: Cache,
    counts: Counter[tuple[int, Kind]],
    seen: Iterable[str],
    at: float | None = None,
) -> None:
    """Add ``counts`` ((community, kind) → how many) to the minute of ``at`` (now), and mark
    the places in ``seen`` as heard from then. One round trip each, pipelined together by
    the Redis cache."""
    now = time.time() if at is None else at
    minute = minute_of(now)
    items = [(count_key(c, kind, minute), n) for (c, kind), n in counts.items() if n]
    if items:
        await cache.incr_many(items, KEEP_SECONDS)
    places = sorted(set(seen))
    if places:
        stamp = b"%d" % int(now)
        await cache.set_many([(seen_key(e), stamp) for e in places], SEEN_SECONDS)


async def last_hour(cache: Cache, community_id: int, at: float | None = None) -> list[Minute]:
    """The community's last :data:`WINDOW_MINUTES` minutes, oldest first, the current one
    last (still counting)."""
    end = minute_of(time.time() if at is None else at)
    minutes = range(end - WINDOW_MINUTES + 1, end + 1)
    names = [count_key(community_id, kind, m) for m in minutes for kind in KINDS]
    values = [int(v) if v else 0 for v in await cache.get_many(names)]
    width = len(KINDS)
    return [Minute(m, *values[i * width : (i + 1) * width]) for i, m in enumerate(minutes)]


async def last_seen(cache: Cache, entity_ids: Sequence[str]) -> dict[str, int | None]:
    """When each place was last heard from (seconds since the epoch), None when not lately."""
    values = await cache.get_many([seen_key(e) for e in entity_ids]) if entity_ids else []
    return {e: int(v) if v else None for e, v in zip(entity_ids, values, strict=True)}
