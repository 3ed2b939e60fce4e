"""The song queue's tables: the requests waiting and playing, and whether a community's
queue is open. In the database rather than the cache: the queue outlives a router's restart
in every mode (the embedded cache is in memory) and every router sees one order."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from waddlebot.infra.db.models import Base, BigIntId, utcnow


class SongRequest(Base):
    """One request: waiting while ``started_at`` is empty, playing once it is set (one per
    community at most); gone when it ends, is skipped or withdrawn. The id is the order."""

    __tablename__ = "music_requests"
    __table_args__ = (Index("ix_music_requests_community_id_id", "community_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(16))
    track_id: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    duration: Mapped[int | None] = mapped_column(Integer, nullable=True)  # seconds
    requester_platform: Mapped[str] = mapped_column(String(16))
    requester_account: Mapped[str] = mapped_column(String(128))  # their id on that platform
    requester_name: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(nullable=True)


class SongQueueState(Base):
    """A community's queue: closed to new requests while ``open`` is false (open without a
    row)."""

    __tablename__ = "music_queues"

    community_id: Mapped[int] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), primary_key=True
    )
    open: Mapped[bool] = mapped_column(Boolean, default=True)


# Spotify's table lives in its package; imported here so the schema holds it
from waddlebot.features.music.spotify.models import SpotifyAccount  # noqa: E402

__all__ = ["SongQueueState", "SongRequest", "SpotifyAccount"]
