"""The commands tables."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    func,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from waddlebot.infra.db.models import Base, created_at_column, utcnow


class CustomCommand(Base):
    """A ``!name`` command a community defines at run time (the ``commands`` module)."""

    __tablename__ = "custom_commands"
    __table_args__ = (UniqueConstraint("community_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(32))
    response: Mapped[str] = mapped_column(String(2000), default="", server_default="")
    level: Mapped[int] = mapped_column(Integer, default=100, server_default="100")
    cooldown: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    user_cooldown: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    alias_of: Mapped[str] = mapped_column(String(200), default="", server_default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_by: Mapped[str] = mapped_column(String(256), default="", server_default="")
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(
        default=utcnow, onupdate=utcnow, server_default=func.now()
    )


class Counter(Base):
    """A named counter of a community (``$(count deaths +1)``, ``$(getcount deaths)``)."""

    __tablename__ = "counters"

    community_id: Mapped[int] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
