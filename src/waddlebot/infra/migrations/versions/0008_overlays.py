"""Browser-source overlay tokens.

Revision ID: 0008_overlays
Revises: 0007_inventory_calendar
Create Date: 2026-11-27 17:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_overlays"
down_revision: str | Sequence[str] | None = "0007_inventory_calendar"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "overlay_tokens",
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("token_sealed", sa.String(500), nullable=False),
        sa.Column("created_by", sa.String(256), server_default="", nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name="fk_overlay_tokens_community_id_communities",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("community_id", name="pk_overlay_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_overlay_tokens_token_hash"),
    )


def downgrade() -> None:
    op.drop_table("overlay_tokens")
