"""The song queue's tables: the requests waiting and playing, whether a community's queue
is open and how loud its player plays, and what its moderators banned. In the database
rather than the cache: the queue outlives a router's restart in every mode (the embedded
cache is in memory) and every router sees one order."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
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
    channel: Mapped[str] = mapped_column(String(200), default="", server_default="")  # artist
    duration: Mapped[int | None] = mapped_column(Integer, nullable=True)  # seconds
    requester_platform: Mapped[str] = mapped_column(String(16))
    requester_account: Mapped[str] = mapped_column(String(128))  # their id on that platform
    requester_name: Mapped[str] = mapped_column(String(64))
    # the WaddleBot person behind the account (one across linked accounts), when known
    requester_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(nullable=True)


class SongQueueState(Base):
    """A community's queue: closed to new requests while ``open`` is false, and its player's
    volume (open, at the default volume, without a row)."""

    __tablename__ = "music_queues"

    community_id: Mapped[int] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), primary_key=True
    )
    open: Mapped[bool] = mapped_column(Boolean, default=True)
    volume: Mapped[int | None] = mapped_column(Integer, nullable=True)  # 0-100


class MusicBan(Base):
    """What a community's moderators refuse at ``!sr``: a ``song`` (its source and id, as
    ``youtube:<id>``), a ``channel`` (its name, casefolded) or a ``person`` (``platform:id``).
    ``label`` is how it is shown back."""

    __tablename__ = "music_bans"
    __table_args__ = (UniqueConstraint("community_id", "kind", "value"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(200))
    label: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# Spotify's table lives in its package; imported here so the schema holds it
from waddlebot.features.music.spotify.models import SpotifyAccount  # noqa: E402

__all__ = ["MusicBan", "SongQueueState", "SongRequest", "SpotifyAccount"]
