"""The labels tables."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from waddlebot.infra.db.models import Base, created_at_column

LABEL_TARGETS = ("user", "community", "item", "event", "memory")


class Label(Base):
    """A short name a community applies to users (and later items, events, memories). A label
    may grant a permission level; its name doubles as a capability modules check."""

    __tablename__ = "labels"
    __table_args__ = (UniqueConstraint("community_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(32))
    colour: Mapped[str] = mapped_column(String(7), default="", server_default="")
    description: Mapped[str] = mapped_column(String(200), default="", server_default="")
    grants_level: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = created_at_column()


class LabelAssignment(Base):
    """A label applied to one target; it may expire."""

    __tablename__ = "label_assignments"
    __table_args__ = (
        UniqueConstraint("label_id", "target_type", "target_id"),
        CheckConstraint(
            "target_type IN ('user', 'community', 'item', 'event', 'memory')", name="target_type"
        ),
        Index("ix_label_assignments_target", "community_id", "target_type", "target_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    label_id: Mapped[int] = mapped_column(ForeignKey("labels.id", ondelete="CASCADE"))
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    target_type: Mapped[str] = mapped_column(String(16))
    target_id: Mapped[str] = mapped_column(String(64))
    assigned_by: Mapped[str] = mapped_column(String(256), default="", server_default="")
    created_at: Mapped[datetime] = created_at_column()
    expires_at: Mapped[datetime | None]
