"""The overlay tables."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    ForeignKey,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from waddlebot.infra.db.models import SEALED, Base, created_at_column


class OverlayToken(Base):
    """The secret in a community's browser-source URLs (``/overlay/<token>/<kind>``): one per
    community. Looked up by its SHA-256; kept encrypted (``token_sealed``) only so that
    ``!overlay url`` can show it again. Replacing it (``!overlay rotate``) retires the old one."""

    __tablename__ = "overlay_tokens"

    community_id: Mapped[int] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), primary_key=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_sealed: Mapped[str] = mapped_column(String(500), info=SEALED)
    created_by: Mapped[str] = mapped_column(String(256), default="", server_default="")
    created_at: Mapped[datetime] = created_at_column()
