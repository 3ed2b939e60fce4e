"""What travels on the bus: an event envelope in, outbound messages out (orjson bytes)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import orjson

from waddlebot.core.contract import OutboundMessage
from waddlebot.core.events import Event


@dataclass(frozen=True, slots=True)
class Envelope:
    event: Event
    notify: bool = False  # publish a completion on "sessions.done" for waiters
    accepted_at: float = 0.0  # wall clock when the event was accepted, for latency figures


def encode_envelope(event: Event, *, notify: bool = False) -> bytes:
    return orjson.dumps({"e": event.model_dump(mode="json"), "n": notify, "t": time.time()})


def decode_envelope(data: bytes) -> Envelope:
    """Raises ``ValueError`` (or pydantic's subclass of it) for a malformed entry."""
    raw = orjson.loads(data)
    if not isinstance(raw, dict) or "e" not in raw:
        raise ValueError("bus entry is not an event envelope")
    return Envelope(Event.model_validate(raw["e"]), bool(raw.get("n")), float(raw.get("t", 0)))


def encode_outbound(message: OutboundMessage) -> bytes:
    return orjson.dumps(message.model_dump(mode="json"))


def decode_outbound(data: bytes) -> OutboundMessage:
    return OutboundMessage.model_validate_json(data)
