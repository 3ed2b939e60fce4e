"""The community tables."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    ForeignKey,
)
from sqlalchemy.orm import Mapped, mapped_column

from waddlebot.infra.db.models import Base


class StreamState(Base):
    """Whether a place is live, as its platform last told us (Twitch stream.online/offline)."""

    __tablename__ = "stream_states"

    entity_id: Mapped[str] = mapped_column(
        ForeignKey("entities.id", ondelete="CASCADE"), primary_key=True
    )
    live: Mapped[bool] = mapped_column(Boolean)
    changed_at: Mapped[datetime] = mapped_column()
