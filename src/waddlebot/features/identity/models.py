"""The identity tables."""

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

from waddlebot.infra.db.models import SEALED, Base, created_at_column, utcnow

LINK_PURPOSES = ("identity", "community")


KEY_KINDS = ("service", "user")


class ApiKey(Base):
    """An API key. Only a hash of its secret is stored (see ``features/identity/apikeys.py``).

    ``kind`` is ``service`` (WaddleBot's own services, Kong; ``role`` says what it may do) or
    ``user`` (a person's key, acting as that user). ``key_sealed`` is the whole key, encrypted,
    kept only while the Kong broker is configured (Kong's key-auth compares the key itself;
    ``features/kong/``); keys made before have none.
    """

    __tablename__ = "api_keys"
    __table_args__ = (CheckConstraint("kind IN ('service', 'user')", name="kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    key_id: Mapped[str] = mapped_column(String(32), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(128))
    scopes: Mapped[str] = mapped_column(String(200), default="*", server_default="*")
    community_id: Mapped[int | None] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(16), default="service", server_default="service")
    role: Mapped[str] = mapped_column(String(16), default="", server_default="")
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = created_at_column()
    last_used_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    key_sealed: Mapped[str | None] = mapped_column(String(500), info=SEALED)


class LinkCode(Base):
    """A one-time code: linking an identity to a user, or a place to a community. Only a hash
    of the code is stored."""

    __tablename__ = "link_codes"
    __table_args__ = (
        CheckConstraint("purpose IN ('identity', 'community')", name="purpose"),
        Index("ix_link_codes_target", "platform", "platform_user_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16))
    code_hash: Mapped[str] = mapped_column(String(64), index=True)
    community_id: Mapped[int | None] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE")
    )
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    platform: Mapped[str] = mapped_column(String(16))
    platform_user_id: Mapped[str] = mapped_column(String(128), default="", server_default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = created_at_column()
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class Account(Base):
    """Portal login for a user: an email and an argon2 password hash."""

    __tablename__ = "accounts"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(
        default=utcnow, onupdate=utcnow, server_default=func.now()
    )
