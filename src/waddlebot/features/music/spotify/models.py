"""A community's Spotify: the streamer's own Spotify app (client id, the secret sealed) and,
once they connected their account, its tokens (sealed too). Sealed with the settings'
SecretBox (``WADDLEBOT_SECRET_KEYS``), as the platforms' tokens are, and re-sealed by
``waddlebot secret-key rotate`` (``info=SEALED``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from waddlebot.infra.db.models import SEALED, Base, utcnow


class SpotifyAccount(Base):
    __tablename__ = "music_spotify_accounts"

    community_id: Mapped[int] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), primary_key=True
    )
    client_id: Mapped[str] = mapped_column(String(64))
    client_secret_sealed: Mapped[str] = mapped_column(Text, info=SEALED)
    refresh_token_sealed: Mapped[str | None] = mapped_column(Text, nullable=True, info=SEALED)
    access_token_sealed: Mapped[str | None] = mapped_column(Text, nullable=True, info=SEALED)
    expires_at: Mapped[datetime | None] = mapped_column(nullable=True)
    account_id: Mapped[str] = mapped_column(String(128), default="")  # the Spotify user's id
    account_name: Mapped[str] = mapped_column(String(128), default="")
    scopes: Mapped[str] = mapped_column(String(256), default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
