"""The shared part of the relational schema, as SQLAlchemy 2 typed declarative models: the
base every table derives from, and the tables every feature and platform reads (communities,
their places, people and their platform accounts, memberships, the audit log, module settings,
platform tokens). Each feature's own tables are in ``features/<name>/models.py``;
:func:`waddlebot.features.load_models` imports them all onto :data:`metadata`.

Migrations in ``waddlebot/infra/migrations/versions`` are written by hand to match these
models exactly; ``tests/integration/test_migrations.py`` compares the two with alembic's
autogenerate and fails on any difference.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    UniqueConstraint,
    func,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator, TypeEngine

# Deterministic constraint names: alembic's batch mode (SQLite table rebuilds) and later
# migrations can only drop or alter a constraint they can name.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ROLES = ("owner", "admin", "moderator", "member")
DECISIONS = ("allow", "deny", "change")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp that always comes back as an aware UTC ``datetime``.

    PostgreSQL stores ``timestamptz``; SQLite has no time zones and drops ``tzinfo``, so values
    are converted to UTC before they are stored and UTC is re-attached when they are read.
    Naive datetimes are refused: they are almost always a bug (``datetime.utcnow()``).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass an aware datetime (UTC)")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# JSON everywhere, stored as JSONB on PostgreSQL (compact, comparable, indexable).
JsonType: TypeEngine[Any] = JSON().with_variant(JSONB(), "postgresql")
# 64-bit ids on PostgreSQL; SQLite only autoincrements a column declared exactly INTEGER.
BigIntId: TypeEngine[int] = BigInteger().with_variant(Integer(), "sqlite")


# ``info`` of a column holding values the secret box encrypted (infra/secretbox.py): what
# ``waddlebot secret-key rotate`` re-encrypts with the newest key (infra/secret_rotation.py)
SEALED = {"sealed": True}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UtcDateTime()}


def created_at_column() -> Mapped[datetime]:
    return mapped_column(default=utcnow, server_default=func.now())


class Community(Base):
    """A tenant: owns entities, members, settings and data."""

    __tablename__ = "communities"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(8), default="!", server_default="!")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    settings: Mapped[dict[str, Any]] = mapped_column(
        JsonType, default=dict, server_default=text("'{}'")
    )
    created_at: Mapped[datetime] = created_at_column()


class Entity(Base):
    """One place on one platform (``twitch:1337``, ``discord:<guild>:<channel>``)."""

    __tablename__ = "entities"

    id: Mapped[str] = mapped_column(String(256), primary_key=True)
    community_id: Mapped[int] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), index=True
    )
    platform: Mapped[str] = mapped_column(String(16))
    server_id: Mapped[str] = mapped_column(String(128), default="", server_default="")
    channel_id: Mapped[str] = mapped_column(String(128), default="", server_default="")
    name: Mapped[str] = mapped_column(String(200), default="", server_default="")
    created_at: Mapped[datetime] = created_at_column()


class User(Base):
    """A person, who may have one identity on each platform."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    display_name: Mapped[str] = mapped_column(String(256), default="", server_default="")
    created_at: Mapped[datetime] = created_at_column()


class Identity(Base):
    """One account on one platform, belonging to one user."""

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("platform", "platform_user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    platform: Mapped[str] = mapped_column(String(16))
    platform_user_id: Mapped[str] = mapped_column(String(128))
    login: Mapped[str] = mapped_column(String(128), default="", server_default="")
    display_name: Mapped[str] = mapped_column(String(256), default="", server_default="")
    created_at: Mapped[datetime] = created_at_column()


class Membership(Base):
    """A user's role in a community."""

    __tablename__ = "memberships"
    __table_args__ = (
        CheckConstraint("role IN ('owner', 'admin', 'moderator', 'member')", name="role"),
    )

    community_id: Mapped[int] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    role: Mapped[str] = mapped_column(String(16), default="member", server_default="member")
    created_at: Mapped[datetime] = created_at_column()


class AuditRow(Base):
    """Who did what, where, and whether it was allowed. No foreign keys: the trail outlives
    the communities it mentions."""

    __tablename__ = "audit_log"
    __table_args__ = (
        CheckConstraint("decision IN ('allow', 'deny', 'change')", name="decision"),
        Index("ix_audit_log_community_id_id", "community_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now(), index=True)
    community_id: Mapped[int | None] = mapped_column(Integer)
    session_id: Mapped[str] = mapped_column(String(64), default="", server_default="")
    actor: Mapped[str] = mapped_column(String(256), default="", server_default="")
    action: Mapped[str] = mapped_column(String(100))
    target: Mapped[str] = mapped_column(String(256), default="", server_default="")
    decision: Mapped[str] = mapped_column(String(16))
    detail: Mapped[dict[str, Any]] = mapped_column(
        JsonType, default=dict, server_default=text("'{}'")
    )


class ModuleSetting(Base):
    """Whether a module is enabled in a community, and its configuration."""

    __tablename__ = "module_settings"

    community_id: Mapped[int] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), primary_key=True
    )
    module: Mapped[str] = mapped_column(String(64), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    config: Mapped[dict[str, Any]] = mapped_column(
        JsonType, default=dict, server_default=text("'{}'")
    )


class PlatformToken(Base):
    """An OAuth token a platform gave WaddleBot for one account (the bot's own account, or a
    broadcaster who connected their channel). Both tokens are encrypted at rest."""

    __tablename__ = "platform_tokens"
    __table_args__ = (UniqueConstraint("platform", "account_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    account_id: Mapped[str] = mapped_column(String(128))
    login: Mapped[str] = mapped_column(String(128), default="", server_default="")
    purpose: Mapped[str] = mapped_column(String(16))  # bot | broadcaster
    community_id: Mapped[int | None] = mapped_column(
        ForeignKey("communities.id", ondelete="SET NULL"), nullable=True
    )
    access_token: Mapped[str] = mapped_column(String(2000), info=SEALED)
    refresh_token: Mapped[str] = mapped_column(
        String(2000), default="", server_default="", info=SEALED
    )
    scopes: Mapped[list[str]] = mapped_column(JsonType, default=list, server_default=text("'[]'"))
    expires_at: Mapped[datetime | None] = mapped_column(nullable=True)
    validated_at: Mapped[datetime | None] = mapped_column(nullable=True)
    status: Mapped[str] = mapped_column(String(32), default="ok", server_default="ok")
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(
        default=utcnow, onupdate=utcnow, server_default=func.now()
    )


class TwitchSubscription(Base):
    """An EventSub subscription as Twitch last described it (revocations included)."""

    __tablename__ = "twitch_subscriptions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # Twitch's id
    type: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(8))
    broadcaster_id: Mapped[str] = mapped_column(String(64), index=True)
    condition: Mapped[dict[str, Any]] = mapped_column(JsonType)
    transport: Mapped[str] = mapped_column(String(16))  # webhook | websocket
    status: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(
        default=utcnow, onupdate=utcnow, server_default=func.now()
    )


class ModuleScheduleRun(Base):
    """When a module's scheduled handler (``@module.every`` / ``@module.at``) next runs for
    one community; claimed with a conditional update, so one router process runs each run."""

    __tablename__ = "module_schedule_runs"
    __table_args__ = (UniqueConstraint("module", "schedule", "community_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    module: Mapped[str] = mapped_column(String(32))
    schedule: Mapped[str] = mapped_column(String(32))
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    spec: Mapped[str] = mapped_column(String(200))  # ScheduleSpec.fingerprint it was planned by
    next_run_at: Mapped[datetime] = mapped_column(index=True)
    last_run_at: Mapped[datetime | None] = mapped_column(nullable=True)
    runs: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


metadata = Base.metadata

__all__ = [
    "DECISIONS",
    "NAMING_CONVENTION",
    "ROLES",
    "SEALED",
    "AuditRow",
    "Base",
    "BigIntId",
    "Community",
    "Entity",
    "Identity",
    "JsonType",
    "Membership",
    "ModuleScheduleRun",
    "ModuleSetting",
    "PlatformToken",
    "TwitchSubscription",
    "User",
    "UtcDateTime",
    "created_at_column",
    "metadata",
    "utcnow",
]
