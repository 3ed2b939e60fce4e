"""Song requests record the WaddleBot person who asked, so the limits per person, ``!queue``'s
"yours", ``!wrongsong`` and a requester's own ``!skip`` hold across their linked accounts.

Revision ID: 0016_music_requester_person
Revises: 0015_music_playback
Create Date: 2026-12-07 03:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_music_requester_person"
down_revision: str | Sequence[str] | None = "0015_music_playback"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("music_requests") as batch:  # SQLite adds a key by a copy
        batch.add_column(sa.Column("requester_user_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_music_requests_requester_user_id_users",
            "users",
            ["requester_user_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("music_requests") as batch:
        batch.drop_constraint("fk_music_requests_requester_user_id_users", type_="foreignkey")
        batch.drop_column("requester_user_id")
