"""What WaddleBot knows of a place's stream, for ``$(uptime)`` and ``$(game)``: since when it
is live (``stream_states``, kept from the platform's stream online/offline events by the
timers service) and what is being played (cached by the platform's collector, which asks
the platform every few minutes while a stream is live)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from waddlebot.features.community.models import StreamState
from waddlebot.infra.db.engine import Database
from waddlebot.infra.ports import Cache

GAME_TTL = 900.0  # a game older than this is not shown (the collector polls more often)


@dataclass(frozen=True, slots=True)
class Live:
    since: datetime | None  # None: offline, or the platform never said
    game: str | None


def _game_key(entity_id: str) -> str:
    return f"stream:game:{entity_id}"


class StreamStatus:
    def __init__(self, db: Database, cache: Cache) -> None:
        self._db = db
        self._cache = cache

    async def of(self, entity_id: str) -> Live:
        async with self._db.read_session() as session:
            row = (
                await session.execute(
                    select(StreamState.live, StreamState.changed_at).where(
                        StreamState.entity_id == entity_id
                    )
                )
            ).first()
        since = row[1] if row is not None and row[0] else None
        game = await self._cache.get(_game_key(entity_id)) if since is not None else None
        return Live(since, game.decode() if game else None)

    async def set_game(self, entity_id: str, game: str) -> None:
        await self._cache.set(_game_key(entity_id), game.encode(), GAME_TTL)
