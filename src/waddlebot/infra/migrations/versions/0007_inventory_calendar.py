"""Inventory items and checkouts; calendar events and attendees.

Revision ID: 0007_inventory_calendar
Revises: 0006_memories
Create Date: 2026-11-27 17:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_inventory_calendar"
down_revision: str | Sequence[str] | None = "0006_memories"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _text(name: str, length: int, default: str | None = None) -> sa.Column[object]:
    return sa.Column(name, sa.String(length), server_default=default, nullable=False)


def _timestamp(name: str, *, nullable: bool = False, now: bool = True) -> sa.Column[object]:
    return sa.Column(
        name,
        sa.DateTime(timezone=True),
        server_default=sa.func.now() if now else None,
        nullable=nullable,
    )


def _fk(table: str, column: str, target: str, ondelete: str = "CASCADE") -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}", ondelete=ondelete
    )


def upgrade() -> None:
    op.create_table(
        "inventory_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        _text("name", 64),
        _text("name_key", 64),
        _text("description", 300, ""),
        sa.Column("holder_user_id", sa.Integer(), nullable=True),
        _text("holder_name", 256, ""),
        _timestamp("checked_out_at", nullable=True, now=False),
        _text("created_by", 256, ""),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        _fk("inventory_items", "community_id", "communities"),
        _fk("inventory_items", "holder_user_id", "users", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name="pk_inventory_items"),
        sa.UniqueConstraint(
            "community_id", "name_key", name="uq_inventory_items_community_id_name_key"
        ),
    )
    op.create_table(
        "inventory_item_labels",
        sa.Column("item_id", sa.Integer(), nullable=False),
        _text("name", 32),
        _fk("inventory_item_labels", "item_id", "inventory_items"),
        sa.PrimaryKeyConstraint("item_id", "name", name="pk_inventory_item_labels"),
    )
    op.create_table(
        "inventory_checkouts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        _text("user_name", 256, ""),
        _timestamp("out_at", now=False),
        _text("out_by", 256, ""),
        _timestamp("in_at", nullable=True, now=False),
        _text("in_by", 256, ""),
        _fk("inventory_checkouts", "item_id", "inventory_items"),
        _fk("inventory_checkouts", "user_id", "users", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name="pk_inventory_checkouts"),
    )
    op.create_index("ix_inventory_checkouts_item_id", "inventory_checkouts", ["item_id"])
    op.create_table(
        "calendar_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("entity_id", sa.String(256), nullable=True),
        _text("title", 100),
        _text("description", 500, ""),
        _timestamp("starts_at", now=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        _text("timezone", 64),
        _text("rrule", 100, ""),
        sa.Column("capacity", sa.Integer(), nullable=True),
        _text("status", 16, "pending"),
        sa.Column("creator_user_id", sa.Integer(), nullable=True),
        _text("creator_name", 256, ""),
        _text("created_by", 256, ""),
        _text("decided_by", 256, ""),
        _timestamp("decided_at", nullable=True, now=False),
        _text("reason", 200, ""),
        _timestamp("remind_at", nullable=True, now=False),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'rejected', 'cancelled')",
            name="ck_calendar_events_status",
        ),
        _fk("calendar_events", "community_id", "communities"),
        sa.ForeignKeyConstraint(
            ["entity_id"],
            ["entities.id"],
            name="fk_calendar_events_entity_id_entities",
            ondelete="SET NULL",
        ),
        _fk("calendar_events", "creator_user_id", "users", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name="pk_calendar_events"),
    )
    op.create_index(
        "ix_calendar_events_community_id_status", "calendar_events", ["community_id", "status"]
    )
    op.create_index("ix_calendar_events_remind_at", "calendar_events", ["remind_at"])
    op.create_table(
        "calendar_attendees",
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        _text("name", 256, ""),
        _timestamp("joined_at"),
        _fk("calendar_attendees", "event_id", "calendar_events"),
        _fk("calendar_attendees", "user_id", "users"),
        sa.PrimaryKeyConstraint("event_id", "user_id", name="pk_calendar_attendees"),
    )
    op.create_index("ix_calendar_attendees_user_id", "calendar_attendees", ["user_id"])
    op.create_table(
        "calendar_feeds",
        sa.Column("community_id", sa.Integer(), nullable=False),
        _text("token_hash", 64),
        _text("created_by", 256, ""),
        _timestamp("created_at"),
        _fk("calendar_feeds", "community_id", "communities"),
        sa.PrimaryKeyConstraint("community_id", name="pk_calendar_feeds"),
        sa.UniqueConstraint("token_hash", name="uq_calendar_feeds_token_hash"),
    )


def downgrade() -> None:
    op.drop_table("calendar_feeds")
    op.drop_index("ix_calendar_attendees_user_id", table_name="calendar_attendees")
    op.drop_table("calendar_attendees")
    op.drop_index("ix_calendar_events_remind_at", table_name="calendar_events")
    op.drop_index("ix_calendar_events_community_id_status", table_name="calendar_events")
    op.drop_table("calendar_events")
    op.drop_index("ix_inventory_checkouts_item_id", table_name="inventory_checkouts")
    op.drop_table("inventory_checkouts")
    op.drop_table("inventory_item_labels")
    op.drop_table("inventory_items")
