"""Each community's song queue in the database: requests in the order they came, the first
of them playing. Every change runs under the community's lock (``lock_community``), so the
limits counted before an insert hold against other routers, and two ``!skip``\\ s at once
end one song, not two."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from waddlebot.core.clock import Clock, SystemClock
from waddlebot.core.errors import Conflict, LimitReached
from waddlebot.features.music.models import SongQueueState, SongRequest
from waddlebot.features.music.sources import Track
from waddlebot.infra.db.engine import Database
from waddlebot.infra.directory import lock_community

LISTED = 500  # the most of a queue read at once (a community's limit is far lower)


@dataclass(frozen=True, slots=True)
class Requester:
    platform: str
    account: str  # their id on that platform
    name: str
    user_id: int | None = None  # the WaddleBot person, when known: one across linked accounts

    def same_person(self, other: Requester) -> bool:
        """Whether both are one person: the same WaddleBot user when both are known (linked
        accounts on two platforms are one), else the same account on the same platform."""
        if self.user_id is not None and other.user_id is not None:
            return self.user_id == other.user_id
        return (self.platform, self.account) == (other.platform, other.account)


@dataclass(frozen=True, slots=True)
class Song:
    id: int
    source: str
    track_id: str
    title: str
    duration: int | None
    requester: Requester
    playing: bool
    channel: str = ""  # the artist, or the channel that posted it


@dataclass(frozen=True, slots=True)
class Added:
    song: Song
    ahead: int  # songs before it, the one playing included
    started: bool  # nothing was playing: it plays now


class QueueClosed(Conflict):
    pass


def _song(row: SongRequest) -> Song:
    return Song(
        id=row.id,
        source=row.source,
        track_id=row.track_id,
        title=row.title,
        duration=row.duration,
        requester=Requester(
            row.requester_platform, row.requester_account, row.requester_name, row.requester_user_id
        ),
        playing=row.started_at is not None,
        channel=row.channel,
    )


def _of(community_id: int, requester: Requester | None = None) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [SongRequest.community_id == community_id]
    if requester is None:
        return where
    account = and_(
        SongRequest.requester_platform == requester.platform,
        SongRequest.requester_account == requester.account,
    )
    if requester.user_id is None:
        return [*where, account]
    # theirs from any of their linked accounts; a request kept before people were recorded
    # (no user id) is theirs by its account
    return [*where, or_(SongRequest.requester_user_id == requester.user_id, account)]


class SongQueue:
    def __init__(self, db: Database, clock: Clock | None = None) -> None:
        self._db = db
        self.clock = clock or SystemClock()

    async def add(
        self,
        community_id: int,
        track: Track,
        requester: Requester,
        *,
        per_person: int,
        most: int,
    ) -> Added:
        """Queue ``track``: QueueClosed, or LimitReached (the queue has ``most``, or they have
        ``per_person`` waiting) with the line that says so."""
        async with self._db.session() as session:
            await lock_community(session, community_id)
            if not await self._open(session, community_id):
                raise QueueClosed("Song requests are closed right now.")
            waiting = await self._count(session, community_id)
            if most and waiting >= most:
                raise LimitReached(
                    f"The queue is full ({most} songs); try again once some have played."
                )
            theirs = await self._count(session, community_id, requester)
            if per_person and theirs >= per_person:
                noun = "song" if per_person == 1 else "songs"
                raise LimitReached(
                    f"You have {theirs} {noun} in the queue, the most allowed here; "
                    "!wrongsong takes your last one out."
                )
            started = waiting == 0
            row = SongRequest(
                community_id=community_id,
                source=track.source,
                track_id=track.id,
                title=track.title,
                channel=track.channel[:200],
                duration=track.duration,
                requester_platform=requester.platform,
                requester_account=requester.account,
                requester_name=requester.name[:64],
                requester_user_id=requester.user_id,
                requested_at=self.clock.now(),
                started_at=self.clock.now() if started else None,
            )
            session.add(row)
            await session.flush()
            return Added(_song(row), ahead=waiting, started=started)

    async def songs(self, community_id: int) -> list[Song]:
        """The queue: the song playing first, then those waiting in order."""
        async with self._db.read_session() as session:
            rows = await session.scalars(
                select(SongRequest).where(*_of(community_id)).order_by(SongRequest.id).limit(LISTED)
            )
            return [_song(row) for row in rows]

    async def playing(self, community_id: int) -> Song | None:
        async with self._db.read_session() as session:
            return await self._playing(session, community_id)

    async def withdraw_last(self, community_id: int, requester: Requester) -> Song | None:
        """Take out their latest request still waiting (the one playing is ``!skip``'s)."""
        async with self._db.session() as session:
            await lock_community(session, community_id)
            row = await session.scalar(
                select(SongRequest)
                .where(*_of(community_id, requester), SongRequest.started_at.is_(None))
                .order_by(SongRequest.id.desc())
                .limit(1)
            )
            if row is None:
                return None
            await session.delete(row)
            return _song(row)

    async def remove(self, community_id: int, song_id: int) -> Song | None:
        """Take song ``song_id`` out while it waits; None when no such song waits here (the
        one playing is skipped, not removed)."""
        async with self._db.session() as session:
            await lock_community(session, community_id)
            row = await session.scalar(
                select(SongRequest).where(
                    *_of(community_id), SongRequest.id == song_id, SongRequest.started_at.is_(None)
                )
            )
            if row is None:
                return None
            await session.delete(row)
            return _song(row)

    async def advance(self, community_id: int, *, ended: int | None = None) -> Song | None:
        """End the song playing (only if it is ``ended``, when given: a second report of the
        same end changes nothing) and start the next; the song playing afterwards. What the
        media overlay's player calls when a song finishes."""
        async with self._db.session() as session:
            await lock_community(session, community_id)
            current = await self._playing(session, community_id)
            if current is not None and ended in (None, current.id):
                await session.execute(delete(SongRequest).where(SongRequest.id == current.id))
            elif current is not None:
                return current
            following = await session.scalar(
                select(SongRequest).where(*_of(community_id)).order_by(SongRequest.id).limit(1)
            )
            if following is None:
                return None
            following.started_at = self.clock.now()
            return _song(following)

    async def clear(self, community_id: int) -> int:
        """Empty the queue, the song playing included; how many there were."""
        async with self._db.session() as session:
            await lock_community(session, community_id)
            result = await session.execute(delete(SongRequest).where(*_of(community_id)))
            return int(getattr(result, "rowcount", 0) or 0)

    async def is_open(self, community_id: int) -> bool:
        async with self._db.read_session() as session:
            return await self._open(session, community_id)

    async def set_open(self, community_id: int, open_: bool) -> None:
        async with self._db.session() as session:
            await lock_community(session, community_id)
            changed = await session.execute(
                update(SongQueueState)
                .where(SongQueueState.community_id == community_id)
                .values(open=open_)
            )
            if not getattr(changed, "rowcount", 0):
                session.add(SongQueueState(community_id=community_id, open=open_))

    async def volume(self, community_id: int) -> int | None:
        """The player's volume (0-100) moderators set; None: never set."""
        async with self._db.read_session() as session:
            state = await session.get(SongQueueState, community_id)
            return None if state is None else state.volume

    async def set_volume(self, community_id: int, percent: int) -> None:
        async with self._db.session() as session:
            await lock_community(session, community_id)
            changed = await session.execute(
                update(SongQueueState)
                .where(SongQueueState.community_id == community_id)
                .values(volume=percent)
            )
            if not getattr(changed, "rowcount", 0):
                session.add(SongQueueState(community_id=community_id, open=True, volume=percent))

    async def _open(self, session: AsyncSession, community_id: int) -> bool:
        state = await session.get(SongQueueState, community_id)
        return state is None or state.open

    async def _count(
        self, session: AsyncSession, community_id: int, requester: Requester | None = None
    ) -> int:
        found = await session.scalar(
            select(func.count()).select_from(SongRequest).where(*_of(community_id, requester))
        )
        return int(found or 0)

    async def _playing(self, session: AsyncSession, community_id: int) -> Song | None:
        row = await session.scalar(
            select(SongRequest)
            .where(*_of(community_id), SongRequest.started_at.is_not(None))
            .limit(1)
        )
        return _song(row) if row is not None else None
