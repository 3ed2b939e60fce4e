"""Song requests played: each request's channel (the artist), the player's volume, and what
moderators banned from requests.

Revision ID: 0015_music_playback
Revises: 0014_music_spotify
Create Date: 2026-12-06 18:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_music_playback"
down_revision: str | Sequence[str] | None = "0014_music_spotify"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "music_requests", sa.Column("channel", sa.String(200), nullable=False, server_default="")
    )
    op.add_column("music_queues", sa.Column("volume", sa.Integer(), nullable=True))
    op.create_table(
        "music_bans",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.String(200), nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name="fk_music_bans_community_id_communities",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_music_bans"),
        sa.UniqueConstraint(
            "community_id", "kind", "value", name="uq_music_bans_community_id_kind_value"
        ),
    )


def downgrade() -> None:
    op.drop_table("music_bans")
    with op.batch_alter_table("music_queues") as batch:  # SQLite drops a column by a copy
        batch.drop_column("volume")
    with op.batch_alter_table("music_requests") as batch:
        batch.drop_column("channel")
