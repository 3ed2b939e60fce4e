"""Song requests: the queue of each community, and whether it is open.

Revision ID: 0013_music
Revises: 0012_api_key_sealed
Create Date: 2026-12-06 16:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_music"
down_revision: str | Sequence[str] | None = "0012_api_key_sealed"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "music_requests",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("track_id", sa.String(64), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("duration", sa.Integer(), nullable=True),
        sa.Column("requester_platform", sa.String(16), nullable=False),
        sa.Column("requester_account", sa.String(128), nullable=False),
        sa.Column("requester_name", sa.String(64), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name="fk_music_requests_community_id_communities",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_music_requests"),
    )
    op.create_index("ix_music_requests_community_id_id", "music_requests", ["community_id", "id"])
    op.create_table(
        "music_queues",
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("open", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name="fk_music_queues_community_id_communities",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("community_id", name="pk_music_queues"),
    )


def downgrade() -> None:
    op.drop_table("music_queues")
    op.drop_index("ix_music_requests_community_id_id", table_name="music_requests")
    op.drop_table("music_requests")
