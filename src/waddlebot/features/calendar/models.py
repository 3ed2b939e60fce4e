"""The calendar tables."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from waddlebot.infra.db.models import Base, created_at_column, utcnow

EVENT_STATUSES = ("pending", "approved", "rejected", "cancelled")


class CalendarEvent(Base):
    """An event of a community's calendar (the ``calendar`` module). A recurring one is one
    row with an RRULE; its occurrences are computed, never stored."""

    __tablename__ = "calendar_events"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'approved', 'rejected', 'cancelled')", name="status"
        ),
        Index("ix_calendar_events_community_id_status", "community_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    entity_id: Mapped[str | None] = mapped_column(  # where reminders are announced
        ForeignKey("entities.id", ondelete="SET NULL"), nullable=True
    )
    title: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(String(500), default="", server_default="")
    starts_at: Mapped[datetime] = mapped_column()  # the first occurrence
    duration_minutes: Mapped[int] = mapped_column(Integer)
    timezone: Mapped[str] = mapped_column(String(64))  # recurrence keeps this wall-clock time
    rrule: Mapped[str] = mapped_column(String(100), default="", server_default="")
    capacity: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    creator_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    creator_name: Mapped[str] = mapped_column(String(256), default="", server_default="")
    created_by: Mapped[str] = mapped_column(String(256), default="", server_default="")
    decided_by: Mapped[str] = mapped_column(String(256), default="", server_default="")
    decided_at: Mapped[datetime | None] = mapped_column(nullable=True)
    reason: Mapped[str] = mapped_column(String(200), default="", server_default="")
    remind_at: Mapped[datetime | None] = mapped_column(nullable=True, index=True)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(
        default=utcnow, onupdate=utcnow, server_default=func.now()
    )


class CalendarAttendee(Base):
    """Someone going to an event (every occurrence of a recurring one)."""

    __tablename__ = "calendar_attendees"

    event_id: Mapped[int] = mapped_column(
        ForeignKey("calendar_events.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    name: Mapped[str] = mapped_column(String(256), default="", server_default="")
    joined_at: Mapped[datetime] = created_at_column()


class CalendarFeed(Base):
    """A community's iCalendar feed: only a hash (sha256) of its secret token is kept."""

    __tablename__ = "calendar_feeds"

    community_id: Mapped[int] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), primary_key=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[str] = mapped_column(String(256), default="", server_default="")
    created_at: Mapped[datetime] = created_at_column()
