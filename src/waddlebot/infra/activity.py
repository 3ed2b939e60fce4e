"""A community's activity per minute: chat messages, commands and command errors, counted by
the router with each batch (one pipelined INCRBY per community and kind, in the cache every
process shares) and read by the portal's dashboard. Each minute's counter expires after
:data:`KEEP_SECONDS`, and when each place was last heard from is kept beside them, and the
community's last :data:`FAILURES_KEPT` command errors (which command, which module, what
went wrong), in slots a counter hands out so routers side by side lose none of them."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Literal

import orjson

from waddlebot.infra.ports import Cache

Kind = Literal["messages", "commands", "errors"]
KINDS: tuple[Kind, ...] = ("messages", "commands", "errors")
WINDOW_MINUTES = 60  # what the dashboard shows
KEEP_SECONDS = (WINDOW_MINUTES + 5) * 60  # a minute's counter outlives the window it is in
SEEN_SECONDS = 7 * 86_400  # "last event seen" of a place, forgotten after a quiet week
FAILURES_KEPT = 10  # the dashboard's "last errors"
# what a command came to that counts as an error: its module failed, or did not answer in time
ERRORS = frozenset({"error", "timeout"})


def minute_of(at: float) -> int:
    """The minute (since the epoch) a moment falls in."""
    return int(at // 60)


def count_key(community_id: int, kind: Kind, minute: int) -> str:
    return f"activity:{community_id}:{kind}:{minute}"


def seen_key(entity_id: str) -> str:
    return f"activity:seen:{entity_id}"


def failures_key(community_id: int) -> str:
    return f"activity:{community_id}:failures"


def failure_key(community_id: int, slot: int) -> str:
    return f"activity:{community_id}:failure:{slot}"


@dataclass(frozen=True, slots=True)
class Failure:
    """A command that came to an error, as the dashboard lists it."""

    at: int  # seconds since the epoch
    command: str  # as typed: "!boom"
    module: str
    reason: str  # one of ERRORS


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


async def note_failures(cache: Cache, failures: Sequence[tuple[int, Failure]]) -> None:
    """Keep each (community, failure) among its community's last :data:`FAILURES_KEPT`, for
    :data:`KEEP_SECONDS`. Errors are rare: two round trips each."""
    for community_id, failure in failures:
        number = await cache.incr(failures_key(community_id), 1, KEEP_SECONDS)
        value = orjson.dumps({"number": number, **asdict(failure)})
        await cache.set(failure_key(community_id, number % FAILURES_KEPT), value, KEEP_SECONDS)


async def last_failures(cache: Cache, community_id: int) -> list[Failure]:
    """The community's last command errors of the past hour, newest first."""
    slots = [failure_key(community_id, slot) for slot in range(FAILURES_KEPT)]
    kept = sorted(
        (orjson.loads(value) for value in await cache.get_many(slots) if value),
        key=lambda fields: int(fields.pop("number")),
        reverse=True,
    )
    return [Failure(**fields) for fields in kept]
