"""The module store's tables: the entries, and what each module uses in each community."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from waddlebot.infra.db.models import Base, BigIntId, utcnow


class ModuleStoreEntry(Base):
    """One key of a module's bucket (module, community, scope, scope id). A whole number is
    kept in ``counter`` (so it can be counted in one statement), any other value as JSON in
    ``value``; ``version`` grows with every change (compare-and-set)."""

    __tablename__ = "module_store"
    __table_args__ = (UniqueConstraint("module", "community_id", "scope", "scope_id", "key"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    module: Mapped[str] = mapped_column(String(32))
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(String(16))
    scope_id: Mapped[str] = mapped_column(String(300))
    key: Mapped[str] = mapped_column(String(200))
    value: Mapped[str | None] = mapped_column(Text, nullable=True)
    counter: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    size: Mapped[int] = mapped_column(Integer)  # bytes counted against the quota
    version: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime | None] = mapped_column(nullable=True, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ModuleStoreUsage(Base):
    """The bytes a module keeps in a community: changed in the transaction of every write,
    by a conditional update that refuses to pass the quota."""

    __tablename__ = "module_store_usage"

    module: Mapped[str] = mapped_column(String(32), primary_key=True)
    community_id: Mapped[int] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), primary_key=True
    )
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
