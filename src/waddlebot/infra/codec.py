"""What travels on the bus: an event envelope in, outbound messages out (orjson bytes)."""

from __future__ import annotations

import contextlib
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass

import orjson
from pydantic import BaseModel, TypeAdapter

from waddlebot.core.contract import OutboundMessage
from waddlebot.core.events import Event


@dataclass(frozen=True, slots=True)
class Envelope:
    event: Event
    notify: bool = False  # publish a completion on "sessions.done" for waiters
    accepted_at: float = 0.0  # wall clock when the event was accepted, for latency figures
    replayed: bool = False  # put back on the bus by an operator, from the dead letters
    traceparent: str | None = None  # W3C trace context of its publishing, while tracing is on


def dumps_compact(value: object) -> bytes:
    """orjson, copied into an exactly sized ``bytes``. orjson's result keeps its whole 4 KiB
    output buffer allocated, which adds up for values that are kept (cache entries, entries
    on the in-process bus): 4 KiB each instead of a few hundred bytes."""
    return bytes(memoryview(orjson.dumps(value)))


class _WireEnvelope(BaseModel):
    """The envelope as JSON, so one pass of pydantic's parser reads a whole bus entry."""

    e: Event
    n: bool = False
    t: float = 0.0
    r: bool = False
    p: str | None = None  # traceparent: absent from entries written while tracing is off


# the serializer itself: TypeAdapter.dump_json's keyword handling cost as much again
_EVENT_JSON = TypeAdapter(Event).serializer


class _EncodedHere:
    """The envelopes this process encoded lately, by their bytes, while a router runs here
    (``waddlebot up``): it takes such an event back as it was made rather than parsing and
    checking it again, which is most of what decoding costs. The bytes are the key, so an
    entry coming back from Redis (equal bytes, another object) is found too; one read
    elsewhere is forgotten once ``size`` newer ones are kept. Events are frozen, so sharing
    one is safe, and an envelope parsed from those bytes would equal the one kept."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.routers = 0  # routers running in this process: keep envelopes while one does
        # each operation one call into C, so none can fail halfway if threads share it
        self._kept: OrderedDict[bytes, Envelope] = OrderedDict()

    def keep(self, data: bytes, envelope: Envelope) -> None:
        kept = self._kept
        kept[data] = envelope
        if len(kept) > self.size:
            kept.popitem(last=False)  # the oldest

    def take(self, data: bytes) -> Envelope | None:
        return self._kept.pop(data, None) if type(data) is bytes else None

    def clear(self) -> None:
        self._kept.clear()


_ENCODED_HERE = _EncodedHere(4096)


@contextlib.contextmanager
def decoding_here() -> Iterator[None]:
    """While a router runs in this process: keep what is encoded here for it to decode."""
    _ENCODED_HERE.routers += 1
    try:
        yield
    finally:
        _ENCODED_HERE.routers -= 1
        if not _ENCODED_HERE.routers:
            _ENCODED_HERE.clear()


def encode_envelope(event: Event, *, notify: bool = False, traceparent: str | None = None) -> bytes:
    # the event straight to JSON (pydantic's serializer, no dict in between), in the envelope;
    # exactly what dumping the envelope as a dict gives, for a fraction of the time
    accepted_at = time.time()
    fields = (
        _EVENT_JSON.to_json(event),
        b"true" if notify else b"false",
        orjson.dumps(accepted_at),
    )
    if traceparent is None:  # tracing off: the entry as it always was
        data = b'{"e":%b,"n":%b,"t":%b}' % fields
    else:
        data = b'{"e":%b,"n":%b,"t":%b,"p":%b}' % (*fields, orjson.dumps(traceparent))
    if _ENCODED_HERE.routers:
        _ENCODED_HERE.keep(data, Envelope(event, notify, accepted_at, False, traceparent))
    return data


def encode_replay(envelope: Envelope) -> bytes:
    """The envelope of a dead letter put back on the bus: marked as a replay (the router then
    treats it as a later delivery of the event, see ``Router._dedupe``), nobody waiting."""
    event = envelope.event.model_dump(mode="json")
    return dumps_compact({"e": event, "n": False, "t": envelope.accepted_at, "r": True})


def decode_envelope(data: bytes) -> Envelope:
    """Raises ``ValueError`` (pydantic's ``ValidationError`` is one) for a malformed entry."""
    made_here = _ENCODED_HERE.take(data)
    if made_here is not None:
        return made_here
    wire = _WireEnvelope.model_validate_json(data)
    return Envelope(wire.e, wire.n, wire.t, wire.r, wire.p)


@dataclass(frozen=True, slots=True)
class DeadLetterRecord:
    """An entry of ``events.dead``: the bus entry that could not be processed, and why."""

    payload: bytes  # the entry as it was on ``events`` (an envelope, unless malformed)
    reason: str = ""  # empty for dead letters written before reasons were kept
    deliveries: int | None = None
    entry_id: str = ""  # its id on ``events``
    dead_at: float | None = None  # wall clock when it was set aside


def encode_dead_letter(
    payload: bytes, *, reason: str, deliveries: int, entry_id: str, dead_at: float
) -> bytes:
    # an envelope is JSON, so UTF-8: only a malformed entry could lose bytes here
    return dumps_compact(
        {
            "dead": {"reason": reason, "deliveries": deliveries, "entry": entry_id, "at": dead_at},
            "payload": payload.decode("utf-8", "replace"),
        }
    )


def decode_dead_letter(data: bytes) -> DeadLetterRecord:
    """Never fails: a dead letter that is no record (a bare envelope, as earlier versions
    wrote them, or anything else) is its own payload."""
    try:
        wire = orjson.loads(data)
    except orjson.JSONDecodeError:
        return DeadLetterRecord(data)
    dead = wire.get("dead") if isinstance(wire, dict) else None
    payload = wire.get("payload") if isinstance(wire, dict) else None
    if not isinstance(dead, dict) or not isinstance(payload, str):
        return DeadLetterRecord(data)
    deliveries, dead_at = dead.get("deliveries"), dead.get("at")
    return DeadLetterRecord(
        payload.encode(),
        reason=str(dead.get("reason", "")),
        deliveries=deliveries if isinstance(deliveries, int) else None,
        entry_id=str(dead.get("entry", "")),
        dead_at=float(dead_at) if isinstance(dead_at, int | float) else None,
    )


def encode_outbound(message: OutboundMessage) -> bytes:
    return message.model_dump_json().encode()


def decode_outbound(data: bytes) -> OutboundMessage:
    return OutboundMessage.model_validate_json(data)
