"""Answering a slash command within Discord's 3 seconds: inline when the router's answer
comes in time and is one message, deferred ("thinking...") otherwise, the answer then
following as the interaction's follow-up.

The process that takes the interaction (a gateway shard, or the HTTP endpoint) decides how it
is first answered, and writes the decision where every process sees it (the cache): the
process sending the replies reads it, skips a reply already given inline, and turns the
others into follow-ups once the interaction is deferred.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from waddlebot.core.contract import OutboundMessage, Visibility
from waddlebot.infra.ports import Cache

PENDING, INLINE, DEFERRED = "pending", "inline", "deferred"
CHANNEL_MESSAGE, DEFERRED_MESSAGE = 4, 5  # interaction callback types
EPHEMERAL = 1 << 6  # message flag: only the person who ran the command sees it
TTL = 15 * 60  # an interaction token works this long
MAX_LENGTH = 2000
NOTHING_TO_SAY = "Done."  # a command that answered nothing still gets an answer
# never @everyone or a role because of what a user typed (py-cord types it as a TypedDict)
SAFE_MENTIONS: Any = {"parse": ["users"], "replied_user": True}


@dataclass(frozen=True)
class InteractionState:
    application_id: str
    token: str
    state: str  # PENDING, INLINE or DEFERRED


class InteractionStates:
    """The interactions of the last 15 minutes, shared by every process."""

    def __init__(self, cache: Cache, *, poll: float = 0.02) -> None:
        self._cache = cache
        self._poll = poll

    async def put(self, interaction_id: str, state: InteractionState) -> None:
        value = orjson.dumps([state.application_id, state.token, state.state])
        await self._cache.set(_key(interaction_id), value, TTL)

    async def get(self, interaction_id: str) -> InteractionState | None:
        raw = await self._cache.get(_key(interaction_id))
        if raw is None:
            return None
        application_id, token, state = orjson.loads(raw)
        return InteractionState(application_id, token, state)

    async def settled(self, interaction_id: str, wait: float) -> InteractionState | None:
        """The state once the taking process has decided (or ``wait`` has passed: that
        process is gone, and the state stays pending)."""
        deadline = time.monotonic() + wait
        while True:
            found = await self.get(interaction_id)
            if found is None or found.state != PENDING or time.monotonic() >= deadline:
                return found
            await asyncio.sleep(self._poll)


def _key(interaction_id: str) -> str:
    return f"discord:interaction:{interaction_id}"


def inline_response(
    replies: Sequence[Mapping[str, Any]], interaction_id: str
) -> dict[str, Any] | None:
    """The interaction's first response made of the router's answer, or None when it cannot
    be given inline (more than one message: it is deferred and follows)."""
    mine = [
        OutboundMessage.model_validate(r) for r in replies if r.get("reply_to") == interaction_id
    ]
    if not mine:
        return {"type": CHANNEL_MESSAGE, "data": {"content": NOTHING_TO_SAY, "flags": EPHEMERAL}}
    if len(mine) > 1 or len(mine[0].text) > MAX_LENGTH:
        return None
    (answer,) = mine
    data: dict[str, Any] = {"content": answer.text, "allowed_mentions": SAFE_MENTIONS}
    if answer.visibility is not Visibility.CHANNEL:
        data["flags"] = EPHEMERAL
    return {"type": CHANNEL_MESSAGE, "data": data}


DEFER: dict[str, Any] = {"type": DEFERRED_MESSAGE}
