"""The dead letters: events the router set aside (``events.dead``), for an operator to list
and to put back on the bus.

A replayed event goes back on ``events`` marked as a replay (``encode_replay``), which makes
the router treat it as a later delivery of the same event: it takes over the event's own
"processing" claim, which the attempts that failed left behind, instead of skipping the event
as a duplicate of itself. The claim is never deleted from here: the dedupe key stays the one
record of whether the event was answered, written only by the router. An event whose key says
"done" was answered already; it is taken off the dead letters and not replayed.

Moving an entry back is one atomic step (``Bus.move``), so two operators replaying at once put
it back once.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import structlog

from waddlebot.core.events import Event
from waddlebot.infra import keys, metrics
from waddlebot.infra.codec import decode_dead_letter, decode_envelope, encode_replay
from waddlebot.infra.ports import Bus, BusMessage, Cache
from waddlebot.router.pipeline import is_finished

log = structlog.get_logger("waddlebot.dead_letters")

ENTRY_ID = re.compile(r"^\d{1,20}-\d{1,20}$")
EXCERPT = 80  # characters of an event's text shown in a listing
PAGE = 500

ReplayOutcome = Literal["replayed", "already_answered", "not_found", "malformed"]


@dataclass(frozen=True, slots=True)
class DeadLetter:
    id: str  # its id on events.dead
    dead_at: datetime | None  # when it was set aside
    reason: str  # why, when known
    deliveries: int | None  # how often it had been handed out, when known
    event: Event | None  # None when the entry is no valid envelope
    payload: bytes  # the entry as it was on the events stream

    @property
    def event_id(self) -> str:
        return self.event.event_id if self.event else ""

    @property
    def excerpt(self) -> str:
        if self.event is None:
            return self.payload[:EXCERPT].decode("utf-8", "replace")
        text = " ".join(self.event.text.split())
        return text if len(text) <= EXCERPT else text[: EXCERPT - 1] + "…"

    def summary(self) -> dict[str, Any]:
        """What a listing shows (the API's and the command line's)."""
        event = self.event
        return {
            "id": self.id,
            "dead_at": self.dead_at,
            "reason": self.reason,
            "deliveries": self.deliveries,
            "event_id": self.event_id,
            "platform": event.platform if event else "",
            "entity_id": event.entity_id if event else "",
            "message_id": event.message_id if event else "",
            "text": self.excerpt,
        }


@dataclass(frozen=True, slots=True)
class Replayed:
    id: str
    outcome: ReplayOutcome
    event_id: str = ""
    entry_id: str = ""  # its new id on events, when replayed


def check_entry_id(entry_id: str) -> str:
    if not ENTRY_ID.match(entry_id):
        raise ValueError(f"{entry_id!r} is not a dead letter id (like 1712345678901-0)")
    return entry_id


def _entry_time(entry_id: str) -> datetime:
    """A stream id begins with the time it was added, in milliseconds."""
    return datetime.fromtimestamp(int(entry_id.partition("-")[0]) / 1000, UTC)


def parse(message: BusMessage) -> DeadLetter:
    record = decode_dead_letter(message.data)
    try:
        event: Event | None = decode_envelope(record.payload).event
    except ValueError:
        event = None
    dead_at = (
        datetime.fromtimestamp(record.dead_at, UTC)
        if record.dead_at is not None
        else _entry_time(message.id)
    )
    return DeadLetter(
        id=message.id,
        dead_at=dead_at,
        reason=record.reason or ("" if event else "not a valid event envelope"),
        deliveries=record.deliveries,
        event=event,
        payload=record.payload,
    )


class DeadLetters:
    def __init__(self, bus: Bus, cache: Cache) -> None:
        self._bus = bus
        self._cache = cache

    async def count(self) -> int:
        return await self._bus.length(keys.DEAD_LETTER_STREAM)

    async def page(self, *, after: str = "", limit: int = 100) -> list[DeadLetter]:
        """Oldest first, from the one after ``after``."""
        if after:
            check_entry_id(after)
        messages = await self._bus.entries(keys.DEAD_LETTER_STREAM, after=after, count=limit)
        return [parse(m) for m in messages]

    async def list_all(self) -> list[DeadLetter]:
        letters: list[DeadLetter] = []
        while True:
            page = await self.page(after=letters[-1].id if letters else "", limit=PAGE)
            letters += page
            if len(page) < PAGE:
                return letters

    async def replay(self, ids: Sequence[str]) -> list[Replayed]:
        for entry_id in ids:  # all checked before anything is moved
            check_entry_id(entry_id)
        results = []
        for entry_id in dict.fromkeys(ids):  # each once, in the order given
            message = await self._bus.entry(keys.DEAD_LETTER_STREAM, entry_id)
            if message is None:
                results.append(Replayed(entry_id, "not_found"))
            else:
                results.append(await self._replay(parse(message)))
        return results

    async def replay_all(self) -> list[Replayed]:
        return [await self._replay(letter) for letter in await self.list_all()]

    async def _replay(self, letter: DeadLetter) -> Replayed:
        if letter.event is None:  # it would only come back: left for the operator to delete
            return Replayed(letter.id, "malformed")
        event = letter.event
        envelope = decode_envelope(letter.payload)
        state = await self._cache.get(keys.dedupe_key(event.platform, event.message_id))
        if is_finished(state):
            await self._bus.delete(keys.DEAD_LETTER_STREAM, [letter.id])
            log.info("dead letter already answered; removed", id=letter.id, event_id=event.event_id)
            return Replayed(letter.id, "already_answered", event.event_id)
        moved = await self._bus.move(
            keys.DEAD_LETTER_STREAM, letter.id, keys.EVENTS_STREAM, encode_replay(envelope)
        )
        if moved is None:  # someone else replayed or removed it meanwhile
            return Replayed(letter.id, "not_found", event.event_id)
        metrics.REPLAYED.inc()
        log.info("dead letter replayed", id=letter.id, event_id=event.event_id, entry=moved)
        return Replayed(letter.id, "replayed", event.event_id, moved)
