"""What a community's moderators banned from song requests (``!sr ban``): songs, channels
(the artist's or uploader's name) and people. Checked at every ``!sr``: a banned person is
refused before the source is asked, a banned song or channel when its candidates come back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from waddlebot.features.music.models import MusicBan
from waddlebot.features.music.queue import Requester
from waddlebot.features.music.sources import Track
from waddlebot.infra.db.engine import Database
from waddlebot.infra.db.models import utcnow

BanKind = Literal["song", "channel", "person"]
LISTED = 1000  # the most bans listed at once


def song_key(source: str, track_id: str) -> str:
    return f"{source}:{track_id}"


def channel_key(name: str) -> str:
    return " ".join(name.casefold().split())[:200]


def person_key(platform: str, account: str) -> str:
    return f"{platform}:{account}"[:200]


@dataclass(frozen=True, slots=True)
class Ban:
    kind: BanKind
    value: str  # what is compared (song_key, channel_key, person_key)
    label: str  # how a reply names it


@dataclass(frozen=True, slots=True)
class Listed:
    """One ban as the moderators' list shows it."""

    id: int
    ban: Ban
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Banned:
    """A community's bans, read once for one request."""

    songs: frozenset[str] = frozenset()
    channels: frozenset[str] = frozenset()
    people: frozenset[str] = frozenset()

    def person(self, requester: Requester) -> bool:
        return person_key(requester.platform, requester.account) in self.people

    def refusal(self, track: Track) -> str | None:
        """Why ``track`` is refused here, None when it is not banned."""
        if song_key(track.source, track.id) in self.songs:
            return f'"{track.title}" is banned from song requests here.'
        if track.channel and channel_key(track.channel) in self.channels:
            return f'"{track.title}" is by {track.channel}, banned from song requests here.'
        return None


def _ban(row: MusicBan) -> Ban:
    kinds: dict[str, BanKind] = {"song": "song", "person": "person"}
    return Ban(kinds.get(row.kind, "channel"), row.value, row.label)


class MusicBans:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, community_id: int, ban: Ban) -> Listed | None:
        """Ban it; None when it was banned already."""
        try:
            async with self._db.session() as session:
                if await self._find(session, community_id, ban) is not None:
                    return None
                row = MusicBan(
                    community_id=community_id,
                    kind=ban.kind,
                    value=ban.value,
                    label=ban.label[:200],
                    created_at=utcnow(),
                )
                session.add(row)
                await session.flush()
                listed = Listed(row.id, _ban(row), row.created_at)
        except IntegrityError:  # banned at the same moment by someone else
            return None
        return listed

    async def remove(self, community_id: int, ban: Ban) -> bool:
        """Lift it; False when it was not banned."""
        async with self._db.session() as session:
            found = await self._find(session, community_id, ban)
            if found is None:
                return False
            await session.execute(delete(MusicBan).where(MusicBan.id == found.id))
        return True

    async def remove_id(self, community_id: int, ban_id: int) -> Ban | None:
        """Lift ban ``ban_id``; None when the community has no such ban."""
        async with self._db.session() as session:
            found = await session.scalar(
                select(MusicBan).where(MusicBan.community_id == community_id, MusicBan.id == ban_id)
            )
            if found is None:
                return None
            await session.execute(delete(MusicBan).where(MusicBan.id == found.id))
            return _ban(found)

    async def listed(self, community_id: int) -> list[Listed]:
        """The community's bans, newest first."""
        async with self._db.read_session() as session:
            rows = await session.scalars(
                select(MusicBan)
                .where(MusicBan.community_id == community_id)
                .order_by(MusicBan.id.desc())
                .limit(LISTED)
            )
            return [Listed(row.id, _ban(row), row.created_at) for row in rows]

    async def of(self, community_id: int) -> Banned:
        async with self._db.read_session() as session:
            rows = (
                await session.execute(
                    select(MusicBan.kind, MusicBan.value).where(
                        MusicBan.community_id == community_id
                    )
                )
            ).all()
        by_kind: dict[str, set[str]] = {"song": set(), "channel": set(), "person": set()}
        for kind, value in rows:
            by_kind.setdefault(kind, set()).add(value)
        return Banned(
            songs=frozenset(by_kind["song"]),
            channels=frozenset(by_kind["channel"]),
            people=frozenset(by_kind["person"]),
        )

    @staticmethod
    async def _find(session: AsyncSession, community_id: int, ban: Ban) -> MusicBan | None:
        found: MusicBan | None = await session.scalar(
            select(MusicBan).where(
                MusicBan.community_id == community_id,
                MusicBan.kind == ban.kind,
                MusicBan.value == ban.value,
            )
        )
        return found
