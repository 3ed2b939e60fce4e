"""A channel's conversation with the model: its last turns (a question and its answer), kept
in the cache port, so every router of a distributed WaddleBot reads the same, and forgotten
after a quiet spell. Two routers answering in one channel at the same moment may each keep
their own turn and lose the other's: a memory, not a record."""

from __future__ import annotations

from typing import cast

import orjson

from waddlebot.features.ai.providers import Message
from waddlebot.infra.ports import Cache

KEY = "ai:memory:{community}:{platform}:{channel}"


class ChannelMemory:
    def __init__(self, cache: Cache, *, ttl: float) -> None:
        self._cache = cache
        self._ttl = ttl

    @staticmethod
    def key(community_id: int, platform: str, channel: str) -> str:
        return KEY.format(community=community_id, platform=platform, channel=channel)

    async def recall(self, key: str, turns: int) -> list[Message]:
        """The last ``turns`` turns, oldest first, as user and assistant messages."""
        if turns <= 0:
            return []
        raw = await self._cache.get(key)
        if raw is None:
            return []
        try:
            kept = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return []  # written by something else: start the conversation anew
        if not isinstance(kept, list):
            return []
        messages = [
            cast(Message, {"role": item["role"], "content": item["content"]})
            for item in kept
            if isinstance(item, dict)
            and item.get("role") in ("user", "assistant")
            and isinstance(item.get("content"), str)
        ]
        return messages[-2 * turns :]

    async def remember(
        self, key: str, earlier: list[Message], question: str, answer: str, turns: int
    ) -> None:
        """Keep the turn just had after ``earlier``, the oldest dropped past ``turns``; the
        quiet time starts again."""
        if turns <= 0:
            return
        added: list[Message] = [
            {"role": "user", "content": question},
            {"role": "assistant", "content": answer},
        ]
        kept = (earlier + added)[-2 * turns :]
        await self._cache.set(key, orjson.dumps(kept), ttl=self._ttl)
