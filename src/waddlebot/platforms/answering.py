"""Answering a platform that waits for the answer (a Discord interaction, a Slack slash
command: both want a first response within 3 seconds): the answer in the response when the
router gives it in time, else an acknowledgement now and the answer later.

The process that takes the request decides, and writes the decision where every process sees
it (the cache): the process sending the replies reads it, skips what was answered inline and
sends the rest the late way once the request is acknowledged.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from waddlebot.core.contract import OutboundMessage
from waddlebot.core.events import Event
from waddlebot.infra import keys, metrics, tracing
from waddlebot.infra.codec import encode_envelope
from waddlebot.infra.completion import CompletionHub
from waddlebot.infra.ports import Backlogged, Bus, Cache

PENDING, INLINE, DEFERRED = "pending", "inline", "deferred"
Inline = Callable[[list[dict[str, Any]]], dict[str, Any] | None]


@dataclass(frozen=True)
class AnswerState:
    state: str  # PENDING, INLINE or DEFERRED
    data: Mapping[str, str] = field(default_factory=dict)  # how to answer late


class AnswerStates:
    """Requests waiting for an answer, shared by every process, for ``ttl`` seconds."""

    def __init__(self, cache: Cache, namespace: str, *, ttl: int, poll: float = 0.02) -> None:
        self._cache = cache
        self._namespace = namespace
        self._ttl = ttl
        self._poll = poll

    def _key(self, request_id: str) -> str:
        return f"{self._namespace}:answer:{request_id}"

    async def put(self, request_id: str, state: AnswerState) -> None:
        value = orjson.dumps({"state": state.state, "data": dict(state.data)})
        await self._cache.set(self._key(request_id), value, self._ttl)

    async def get(self, request_id: str) -> AnswerState | None:
        raw = await self._cache.get(self._key(request_id))
        if raw is None:
            return None
        found = orjson.loads(raw)
        return AnswerState(found["state"], found["data"])

    async def settled(self, request_id: str, wait: float) -> AnswerState | None:
        """The state once the taking process has decided (or ``wait`` has passed: that
        process is gone, and the state stays pending)."""
        deadline = time.monotonic() + wait
        while True:
            found = await self.get(request_id)
            if found is None or found.state != PENDING or time.monotonic() >= deadline:
                return found
            await asyncio.sleep(self._poll)


async def publish_event(
    bus: Bus, event: Event, *, notify: bool = False, once: tuple[str, float] | None = None
) -> bool:
    """Put a collector's event on the bus (``notify``: the router says when it is done).
    ``once``: a key and seconds: the platform's delivery id, so a redelivery within that time
    is not published again (one round trip for the check and the publish; False for such a
    repeat, counted). Raises :class:`~waddlebot.infra.ports.Backlogged` (counted) while the
    router is too far behind: the collector then tells its platform to send it again later (a
    webhook's 503), or its person that nothing was sent."""
    try:
        await bus.admit(keys.EVENTS_STREAM)
    except Backlogged:
        metrics.EVENTS_REFUSED.labels(event.platform).inc()
        raise
    with tracing.publishing(keys.EVENTS_STREAM) as parent:
        payload = encode_envelope(event, notify=notify, traceparent=parent)
        if once is None:
            await bus.publish(keys.EVENTS_STREAM, [payload])
        elif await bus.publish_once(keys.EVENTS_STREAM, payload, *once) is None:
            metrics.DUPLICATES.labels(event.platform).inc()
            return False
    metrics.events_accepted(event.platform).inc()
    return True


async def answer_in_time(
    states: AnswerStates,
    request_id: str,
    late: Mapping[str, str],
    event: Event,
    *,
    bus: Bus,
    completions: CompletionHub | None,
    wait: float,
    inline: Inline,
) -> dict[str, Any] | None:
    """Publish ``event`` and make the request's first response of the router's replies
    (``inline``), or None when they do not come within ``wait`` seconds or make no inline
    answer. The decision is kept with ``late`` (how to answer later) under ``request_id``."""
    await states.put(request_id, AnswerState(PENDING, late))
    replies = await _replies_in_time(event, bus, completions, wait)
    response = inline(replies) if replies is not None else None
    await states.put(request_id, AnswerState(INLINE if response is not None else DEFERRED, late))
    return response


async def _replies_in_time(
    event: Event, bus: Bus, completions: CompletionHub | None, wait: float
) -> list[dict[str, Any]] | None:
    if completions is None:
        await publish_event(bus, event)
        return None
    completion = completions.expect(event.event_id)
    try:
        await publish_event(bus, event, notify=True)
        done = await asyncio.wait_for(completion, wait)
    except TimeoutError:
        return None
    finally:
        completions.forget(event.event_id)
    replies: list[dict[str, Any]] = done["replies"]
    return replies


def answers_to(replies: Sequence[Mapping[str, Any]], request_id: str) -> list[OutboundMessage]:
    """The replies answering the request (others go elsewhere, the usual way)."""
    return [OutboundMessage.model_validate(r) for r in replies if r.get("reply_to") == request_id]
