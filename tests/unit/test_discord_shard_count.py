"""The Discord replicas agree on one shard count: the first asks Discord, the others read."""

from __future__ import annotations

import asyncio

from waddlebot.infra.memory import MemoryCache
from waddlebot.platforms.discord.shard_count import agreed_shard_count


class Discord:
    def __init__(self, recommended: int) -> None:
        self.recommended = recommended
        self.asked = 0

    async def get_bot_gateway(self) -> tuple[int, str]:
        self.asked += 1
        await asyncio.sleep(0)  # another replica may ask meanwhile
        return self.recommended, "wss://gateway.example"


async def test_later_replicas_read_the_first_ones_count() -> None:
    cache, discord = MemoryCache(), Discord(4)
    assert await agreed_shard_count(cache, discord.get_bot_gateway) == 4
    discord.recommended = 6
    assert await agreed_shard_count(cache, discord.get_bot_gateway) == 4
    assert discord.asked == 1


async def test_replicas_asking_at_once_agree_on_the_first_stored() -> None:
    cache = MemoryCache()
    askers = [Discord(4), Discord(6), Discord(8)]
    counts = await asyncio.gather(*(agreed_shard_count(cache, d.get_bot_gateway) for d in askers))
    assert len(set(counts)) == 1
