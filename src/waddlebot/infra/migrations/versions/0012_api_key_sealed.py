"""API keys keep a sealed copy of the key for the Kong broker (Kong's key-auth needs it).

Revision ID: 0012_api_key_sealed
Revises: 0011_module_store
Create Date: 2026-12-06 15:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_api_key_sealed"
down_revision: str | Sequence[str] | None = "0011_module_store"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("api_keys", sa.Column("key_sealed", sa.String(500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:  # SQLite drops a column by a copy
        batch.drop_column("key_sealed")
