"""The module store: what modules remember (ctx.store), and what each uses per community.

Revision ID: 0011_module_store
Revises: 0010_marketplace
Create Date: 2026-12-01 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_module_store"
down_revision: str | Sequence[str] | None = "0010_marketplace"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "module_store",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("module", sa.String(32), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("scope_id", sa.String(300), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("counter", sa.BigInteger(), nullable=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name="fk_module_store_community_id_communities",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_module_store"),
        sa.UniqueConstraint(
            "module",
            "community_id",
            "scope",
            "scope_id",
            "key",
            name="uq_module_store_module_community_id_scope_scope_id_key",
        ),
    )
    op.create_index("ix_module_store_expires_at", "module_store", ["expires_at"])
    op.create_table(
        "module_store_usage",
        sa.Column("module", sa.String(32), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name="fk_module_store_usage_community_id_communities",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("module", "community_id", name="pk_module_store_usage"),
    )


def downgrade() -> None:
    op.drop_table("module_store_usage")
    op.drop_index("ix_module_store_expires_at", table_name="module_store")
    op.drop_table("module_store")
