"""The inventory tables."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from waddlebot.infra.db.models import Base, created_at_column, utcnow


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
    created_at: Mapped[datetime] = created_at_column()
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
