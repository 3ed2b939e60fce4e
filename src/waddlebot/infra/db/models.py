"""The relational schema, as SQLAlchemy 2 typed declarative models.

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
    false,
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
LABEL_TARGETS = ("user", "community", "item", "event", "memory")
LINK_PURPOSES = ("identity", "community")
KEY_KINDS = ("service", "user")


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


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UtcDateTime()}


def _created_at() -> Mapped[datetime]:
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
    created_at: Mapped[datetime] = _created_at()


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
    created_at: Mapped[datetime] = _created_at()


class User(Base):
    """A person, who may have one identity on each platform."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    display_name: Mapped[str] = mapped_column(String(256), default="", server_default="")
    created_at: Mapped[datetime] = _created_at()


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
    created_at: Mapped[datetime] = _created_at()


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
    created_at: Mapped[datetime] = _created_at()


class ApiKey(Base):
    """An API key. Only a hash of its secret is stored (see ``features/identity/apikeys.py``).

    ``kind`` is ``service`` (WaddleBot's own services, Kong; ``role`` says what it may do) or
    ``user`` (a person's key, acting as that user).
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
    created_at: Mapped[datetime] = _created_at()
    last_used_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


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


metadata = Base.metadata

__all__ = [
    "DECISIONS",
    "NAMING_CONVENTION",
    "ROLES",
    "ApiKey",
    "AuditRow",
    "Base",
    "BigIntId",
    "Community",
    "Entity",
    "Identity",
    "JsonType",
    "Membership",
    "ModuleSetting",
    "User",
    "UtcDateTime",
    "metadata",
    "utcnow",
]


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
    created_at: Mapped[datetime] = _created_at()


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
    created_at: Mapped[datetime] = _created_at()
    expires_at: Mapped[datetime | None]


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
    created_at: Mapped[datetime] = _created_at()
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
    created_at: Mapped[datetime] = _created_at()
    updated_at: Mapped[datetime] = mapped_column(
        default=utcnow, onupdate=utcnow, server_default=func.now()
    )


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
    created_at: Mapped[datetime] = _created_at()
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


class Alias(Base):
    """A Linux-style alias of a community (``!alias hi='!so $1'``, the ``alias`` module)."""

    __tablename__ = "aliases"
    __table_args__ = (UniqueConstraint("community_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(32))
    expansion: Mapped[str] = mapped_column(String(400))  # the command it runs, without prefix
    forced: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_by: Mapped[str] = mapped_column(String(256), default="", server_default="")
    created_at: Mapped[datetime] = _created_at()
    updated_at: Mapped[datetime] = mapped_column(
        default=utcnow, onupdate=utcnow, server_default=func.now()
    )


class Timer(Base):
    """A message posted every so many minutes in one place (the ``timers`` module)."""

    __tablename__ = "timers"
    __table_args__ = (UniqueConstraint("community_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    entity_id: Mapped[str] = mapped_column(ForeignKey("entities.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(String(500))
    interval_minutes: Mapped[int] = mapped_column(Integer)
    min_lines: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    next_run_at: Mapped[datetime] = mapped_column(index=True)
    last_run_at: Mapped[datetime | None] = mapped_column(nullable=True)
    runs: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    lines_mark: Mapped[int] = mapped_column(  # the place's chat line count at the last run
        BigInteger, default=0, server_default="0"
    )
    created_by: Mapped[str] = mapped_column(String(256), default="", server_default="")
    created_at: Mapped[datetime] = _created_at()
    updated_at: Mapped[datetime] = mapped_column(
        default=utcnow, onupdate=utcnow, server_default=func.now()
    )


class StreamState(Base):
    """Whether a place is live, as its platform last told us (Twitch stream.online/offline)."""

    __tablename__ = "stream_states"

    entity_id: Mapped[str] = mapped_column(
        ForeignKey("entities.id", ondelete="CASCADE"), primary_key=True
    )
    live: Mapped[bool] = mapped_column(Boolean)
    changed_at: Mapped[datetime] = mapped_column()


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
    access_token: Mapped[str] = mapped_column(String(2000))  # encrypted
    refresh_token: Mapped[str] = mapped_column(String(2000), default="", server_default="")
    scopes: Mapped[list[str]] = mapped_column(JsonType, default=list, server_default=text("'[]'"))
    expires_at: Mapped[datetime | None] = mapped_column(nullable=True)
    validated_at: Mapped[datetime | None] = mapped_column(nullable=True)
    status: Mapped[str] = mapped_column(String(32), default="ok", server_default="ok")
    created_at: Mapped[datetime] = _created_at()
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
    created_at: Mapped[datetime] = _created_at()
    updated_at: Mapped[datetime] = mapped_column(
        default=utcnow, onupdate=utcnow, server_default=func.now()
    )


# ----- memories: quotes, URLs, notes, reminders (migration 0006_memories) -----

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
    created_at: Mapped[datetime] = _created_at()
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
    created_at: Mapped[datetime] = _created_at()


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
    created_at: Mapped[datetime] = _created_at()
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
    created_at: Mapped[datetime] = _created_at()


# ----- inventory and calendar (migration 0007_inventory_calendar) -----

EVENT_STATUSES = ("pending", "approved", "rejected", "cancelled")


class InventoryItem(Base):
    """A thing a community lends out (the ``inventory`` module); who has it, since when."""

    __tablename__ = "inventory_items"
    __table_args__ = (UniqueConstraint("community_id", "name_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))  # as first written
    name_key: Mapped[str] = mapped_column(String(64))  # case-folded, for lookups
    description: Mapped[str] = mapped_column(String(300), default="", server_default="")
    holder_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    holder_name: Mapped[str] = mapped_column(String(256), default="", server_default="")
    checked_out_at: Mapped[datetime | None] = mapped_column(nullable=True)  # None: available
    created_by: Mapped[str] = mapped_column(String(256), default="", server_default="")
    created_at: Mapped[datetime] = _created_at()
    updated_at: Mapped[datetime] = mapped_column(
        default=utcnow, onupdate=utcnow, server_default=func.now()
    )


class InventoryItemLabel(Base):
    """A free-form label on one item (``#camera``); not a user label (see services/inventory)."""

    __tablename__ = "inventory_item_labels"

    item_id: Mapped[int] = mapped_column(
        ForeignKey("inventory_items.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(32), primary_key=True)


class InventoryCheckout(Base):
    """One lending of an item: to whom, when it went out and when it came back."""

    __tablename__ = "inventory_checkouts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(
        ForeignKey("inventory_items.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    user_name: Mapped[str] = mapped_column(String(256), default="", server_default="")
    out_at: Mapped[datetime] = mapped_column()
    out_by: Mapped[str] = mapped_column(String(256), default="", server_default="")
    in_at: Mapped[datetime | None] = mapped_column(nullable=True)
    in_by: Mapped[str] = mapped_column(String(256), default="", server_default="")


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
    created_at: Mapped[datetime] = _created_at()
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
    joined_at: Mapped[datetime] = _created_at()


class CalendarFeed(Base):
    """A community's iCalendar feed: only a hash (sha256) of its secret token is kept."""

    __tablename__ = "calendar_feeds"

    community_id: Mapped[int] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), primary_key=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[str] = mapped_column(String(256), default="", server_default="")
    created_at: Mapped[datetime] = _created_at()


# ----- browser-source overlays (migration 0008_overlays) -----


class OverlayToken(Base):
    """The secret in a community's browser-source URLs (``/overlay/<token>/<kind>``): one per
    community. Looked up by its SHA-256; kept encrypted (``token_sealed``) only so that
    ``!overlay url`` can show it again. Replacing it (``!overlay rotate``) retires the old one."""

    __tablename__ = "overlay_tokens"

    community_id: Mapped[int] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), primary_key=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_sealed: Mapped[str] = mapped_column(String(500))
    created_by: Mapped[str] = mapped_column(String(256), default="", server_default="")
    created_at: Mapped[datetime] = _created_at()
