"""The platform accounts connected to a community by OAuth (a broadcaster's Twitch channel,
...), with what the bot last learned of their tokens: never the tokens themselves."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from waddlebot.infra.db.engine import Database
from waddlebot.infra.db.models import PlatformToken


@dataclass(frozen=True, slots=True)
class Connection:
    platform: str
    login: str
    purpose: str  # bot | broadcaster
    status: str  # ok, or why not (invalid, ...)
    validated_at: datetime | None


async def connections(db: Database, community_id: int) -> list[Connection]:
    query = (
        select(
            PlatformToken.platform,
            PlatformToken.login,
            PlatformToken.purpose,
            PlatformToken.status,
            PlatformToken.validated_at,
        )
        .where(PlatformToken.community_id == community_id)
        .order_by(PlatformToken.platform, PlatformToken.login)
    )
    async with db.read_session() as session:
        rows = (await session.execute(query)).all()
    return [Connection(*row) for row in rows]
