"""Custom commands and named counters.

Revision ID: 0003_custom_commands
Revises: 0002_identity_labels
Create Date: 2026-11-27 13:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_custom_commands"
down_revision: str | Sequence[str] | None = "0002_identity_labels"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _text(name: str, length: int, default: str | None = None) -> sa.Column[object]:
    return sa.Column(name, sa.String(length), server_default=default, nullable=False)


def _number(name: str, default: str) -> sa.Column[object]:
    return sa.Column(name, sa.Integer(), server_default=default, nullable=False)


def _timestamp(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False)


def _community_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["community_id"],
        ["communities.id"],
        name=f"fk_{table}_community_id_communities",
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "custom_commands",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        _text("name", 32),
        _text("response", 2000, ""),
        _number("level", "100"),
        _number("cooldown", "0"),
        _number("user_cooldown", "0"),
        _text("alias_of", 200, ""),
        sa.Column("enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        _number("count", "0"),
        _text("created_by", 256, ""),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        _community_fk("custom_commands"),
        sa.PrimaryKeyConstraint("id", name="pk_custom_commands"),
        sa.UniqueConstraint("community_id", "name", name="uq_custom_commands_community_id_name"),
    )
    op.create_table(
        "counters",
        sa.Column("community_id", sa.Integer(), nullable=False),
        _text("name", 32),
        _number("value", "0"),
        _community_fk("counters"),
        sa.PrimaryKeyConstraint("community_id", "name", name="pk_counters"),
    )


def downgrade() -> None:
    op.drop_table("counters")
    op.drop_table("custom_commands")
