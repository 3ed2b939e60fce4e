"""How many gateway shards the Discord replicas share, agreed once: the first replica to
start asks Discord (``GET /gateway/bot``) and stores the count in the cache (Redis in a
deployment), and every later one reads it. So all replicas split the same shards even when
Discord's recommendation moves between their starts (it grows with the bot's guilds).

The stored count never expires. Discord says when it must change: it closes a session with
4011 (sharding required) once a shard has too many guilds. Changing the count of running
replicas would let two sessions of different counts serve one guild, so it is changed with
every replica stopped: delete :data:`KEY` (or set ``WADDLEBOT_DISCORD_SHARD_COUNT``, which
every replica then uses instead) and start them again (docs/discord.md).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog

from waddlebot.infra.ports import Cache

log = structlog.get_logger("waddlebot.discord")

KEY = "discord:shard_count"

AskDiscord = Callable[[], Awaitable[tuple[int, str]]]  # py-cord's get_bot_gateway


async def agreed_shard_count(cache: Cache, ask: AskDiscord) -> int:
    """The stored count; else Discord's recommendation, stored unless another replica
    stored one first (then that one)."""
    stored = await cache.get(KEY)
    if stored is not None:
        return int(stored)
    recommended, _url = await ask()
    if await cache.add(KEY, str(recommended).encode()):
        log.info("discord shard count agreed", shard_count=recommended)
        return recommended
    stored = await cache.get(KEY)
    return int(stored) if stored is not None else recommended
