"""The memories tables."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from waddlebot.infra.db.models import Base, created_at_column, utcnow

MEMORY_KINDS = ("quote", "url", "note", "reminder")


REMINDER_REPEATS = ("once", "daily", "weekly")


# the PostgreSQL full-text index of quotes; SQLite has the FTS5 table quotes_fts instead

QUOTE_SEARCH_VECTOR = "to_tsvector('simple'::regconfig, text)"


class MemoryCounter(Base):
    """The last number a community gave its quotes (URLs, notes, reminders): numbers count up
    and are never given twice, even after a removal."""

    __tablename__ = "memory_counters"
    __table_args__ = (CheckConstraint("kind IN ('quote', 'url', 'note', 'reminder')", name="kind"),)

    community_id: Mapped[int] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    last_number: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Quote(Base):
    """Something someone said, kept by a community (``!quote add``)."""

    __tablename__ = "quotes"
    __table_args__ = (
        UniqueConstraint("community_id", "number"),
        Index("ix_quotes_community_id_said_by_user_id", "community_id", "said_by_user_id"),
        Index("ix_quotes_search", text(QUOTE_SEARCH_VECTOR), postgresql_using="gin").ddl_if(
            dialect="postgresql"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(String(400))
    said_by: Mapped[str] = mapped_column(String(256), default="", server_default="")
    said_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    added_by: Mapped[str] = mapped_column(String(256), default="", server_default="")
    added_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    platform: Mapped[str] = mapped_column(String(16), default="", server_default="")
    entity_id: Mapped[str] = mapped_column(String(256), default="", server_default="")
    game: Mapped[str] = mapped_column(String(200), default="", server_default="")
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(
        default=utcnow, onupdate=utcnow, server_default=func.now()
    )


class SavedUrl(Base):
    """A link a community keeps (``!url add``)."""

    __tablename__ = "urls"
    __table_args__ = (UniqueConstraint("community_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    url: Mapped[str] = mapped_column(String(500))
    title: Mapped[str] = mapped_column(String(150), default="", server_default="")
    added_by: Mapped[str] = mapped_column(String(256), default="", server_default="")
    added_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = created_at_column()


class Note(Base):
    """A community's note (``!note add``), with labels of its own in ``note_labels``."""

    __tablename__ = "notes"
    __table_args__ = (UniqueConstraint("community_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(String(400))
    added_by: Mapped[str] = mapped_column(String(256), default="", server_default="")
    added_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(
        default=utcnow, onupdate=utcnow, server_default=func.now()
    )


class NoteLabel(Base):
    """A free-form label (``#todo``) on a note. Not the ``labels`` table: those are defined by
    admins beforehand and may grant permission levels; these are made by writing them."""

    __tablename__ = "note_labels"
    __table_args__ = (Index("ix_note_labels_community_id_label", "community_id", "label"),)

    note_id: Mapped[int] = mapped_column(
        ForeignKey("notes.id", ondelete="CASCADE"), primary_key=True
    )
    label: Mapped[str] = mapped_column(String(32), primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))


class Reminder(Base):
    """A message to post once or on a schedule (``!remind``), in a place or privately to one
    account (``to_user``). The scheduler claims a due one (``claimed_by``, until
    ``claimed_until``) before it posts, so only one process sends it."""

    __tablename__ = "reminders"
    __table_args__ = (
        UniqueConstraint("community_id", "number"),
        CheckConstraint("repeat IN ('once', 'daily', 'weekly')", name="repeat"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    entity_id: Mapped[str] = mapped_column(ForeignKey("entities.id", ondelete="CASCADE"))
    platform: Mapped[str] = mapped_column(String(16))
    channel_id: Mapped[str] = mapped_column(String(128), default="", server_default="")
    to_user: Mapped[str] = mapped_column(String(128), default="", server_default="")
    text: Mapped[str] = mapped_column(String(300))
    due_at: Mapped[datetime] = mapped_column(index=True)
    repeat: Mapped[str] = mapped_column(String(8), default="once", server_default="once")
    weekday: Mapped[int | None] = mapped_column(Integer, nullable=True)  # 0 is Monday
    time_of_day: Mapped[str] = mapped_column(String(5), default="", server_default="")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    created_by: Mapped[str] = mapped_column(String(256), default="", server_default="")
    created_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )
    claimed_by: Mapped[str] = mapped_column(String(64), default="", server_default="")
    claimed_until: Mapped[datetime | None] = mapped_column(nullable=True)
    runs: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_run_at: Mapped[datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = created_at_column()
