"""Song requests from Spotify: each community's own Spotify app and its connected account's
tokens (sealed).

Revision ID: 0014_music_spotify
Revises: 0013_music
Create Date: 2026-12-06 18:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_music_spotify"
down_revision: str | Sequence[str] | None = "0013_music"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "music_spotify_accounts",
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("client_secret_sealed", sa.Text(), nullable=False),
        sa.Column("refresh_token_sealed", sa.Text(), nullable=True),
        sa.Column("access_token_sealed", sa.Text(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("account_id", sa.String(128), nullable=False),
        sa.Column("account_name", sa.String(128), nullable=False),
        sa.Column("scopes", sa.String(256), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name="fk_music_spotify_accounts_community_id_communities",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("community_id", name="pk_music_spotify_accounts"),
    )


def downgrade() -> None:
    op.drop_table("music_spotify_accounts")
