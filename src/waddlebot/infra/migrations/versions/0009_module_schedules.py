"""When modules' scheduled handlers next run, per community.

Revision ID: 0009_module_schedules
Revises: 0008_overlays
Create Date: 2026-12-10 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_module_schedules"
down_revision: str | Sequence[str] | None = "0008_overlays"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "module_schedule_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("module", sa.String(32), nullable=False),
        sa.Column("schedule", sa.String(32), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("spec", sa.String(200), nullable=False),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("runs", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name="fk_module_schedule_runs_community_id_communities",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_module_schedule_runs"),
        sa.UniqueConstraint(
            "module",
            "schedule",
            "community_id",
            name="uq_module_schedule_runs_module_schedule_community_id",
        ),
    )
    op.create_index("ix_module_schedule_runs_next_run_at", "module_schedule_runs", ["next_run_at"])


def downgrade() -> None:
    op.drop_index("ix_module_schedule_runs_next_run_at", table_name="module_schedule_runs")
    op.drop_table("module_schedule_runs")
