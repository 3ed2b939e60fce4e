"""Aliases, timers and the live state of streams.

Revision ID: 0004_aliases_timers
Revises: 0003_custom_commands
Create Date: 2026-11-27 14:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_aliases_timers"
down_revision: str | Sequence[str] | None = "0003_custom_commands"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _text(name: str, length: int, default: str | None = None) -> sa.Column[object]:
    return sa.Column(name, sa.String(length), server_default=default, nullable=False)


def _number(name: str, default: str, kind: type[sa.Integer] = sa.Integer) -> sa.Column[object]:
    return sa.Column(name, kind(), server_default=default, nullable=False)


def _flag(name: str, default: bool) -> sa.Column[object]:
    return sa.Column(
        name, sa.Boolean(), server_default=sa.true() if default else sa.false(), nullable=False
    )


def _timestamp(name: str, *, nullable: bool = False, now: bool = True) -> sa.Column[object]:
    return sa.Column(
        name,
        sa.DateTime(timezone=True),
        server_default=sa.func.now() if now else None,
        nullable=nullable,
    )


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}", ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "aliases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        _text("name", 32),
        _text("expansion", 400),
        _flag("forced", False),
        _text("created_by", 256, ""),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        _fk("aliases", "community_id", "communities"),
        sa.PrimaryKeyConstraint("id", name="pk_aliases"),
        sa.UniqueConstraint("community_id", "name", name="uq_aliases_community_id_name"),
    )
    op.create_table(
        "timers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        _text("entity_id", 256),
        _text("name", 32),
        _text("message", 500),
        sa.Column("interval_minutes", sa.Integer(), nullable=False),
        _number("min_lines", "0"),
        _flag("enabled", True),
        _timestamp("next_run_at", now=False),
        _timestamp("last_run_at", nullable=True, now=False),
        _number("runs", "0"),
        _number("lines_mark", "0", sa.BigInteger),
        _text("created_by", 256, ""),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        _fk("timers", "community_id", "communities"),
        _fk("timers", "entity_id", "entities"),
        sa.PrimaryKeyConstraint("id", name="pk_timers"),
        sa.UniqueConstraint("community_id", "name", name="uq_timers_community_id_name"),
    )
    op.create_index("ix_timers_next_run_at", "timers", ["next_run_at"])
    op.create_table(
        "stream_states",
        _text("entity_id", 256),
        sa.Column("live", sa.Boolean(), nullable=False),
        _timestamp("changed_at", now=False),
        _fk("stream_states", "entity_id", "entities"),
        sa.PrimaryKeyConstraint("entity_id", name="pk_stream_states"),
    )


def downgrade() -> None:
    op.drop_table("stream_states")
    op.drop_index("ix_timers_next_run_at", table_name="timers")
    op.drop_table("timers")
    op.drop_table("aliases")
