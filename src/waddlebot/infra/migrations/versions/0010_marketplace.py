"""The marketplace: registered modules, their versions, and each community's modules.

Revision ID: 0010_marketplace
Revises: 0009_module_schedules
Create Date: 2026-12-06 09:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010_marketplace"
down_revision: str | Sequence[str] | None = "0009_module_schedules"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _timestamp(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "catalogue_modules",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), server_default="http", nullable=False),
        sa.Column("url", sa.String(500), nullable=False),
        sa.Column("secret_sealed", sa.String(500), nullable=False),
        sa.Column("latest_version", sa.String(64), nullable=False),
        sa.Column("registered_by", sa.String(256), server_default="", nullable=False),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.PrimaryKeyConstraint("name", name="pk_catalogue_modules"),
    )
    op.create_table(
        "catalogue_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("module", sa.String(32), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("manifest", JSON, nullable=False),
        sa.Column("schema_errors", sa.Text(), server_default="", nullable=False),
        _timestamp("created_at"),
        sa.ForeignKeyConstraint(
            ["module"],
            ["catalogue_modules.name"],
            name="fk_catalogue_versions_module_catalogue_modules",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_catalogue_versions"),
        sa.UniqueConstraint("module", "version", name="uq_catalogue_versions_module_version"),
    )
    op.create_index("ix_catalogue_versions_module", "catalogue_versions", ["module"])
    op.create_table(
        "community_modules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("module", sa.String(32), nullable=False),
        sa.Column("version", sa.String(64), server_default="", nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("grants", JSON, server_default=sa.text("'[]'"), nullable=False),
        sa.Column("events", JSON, server_default=sa.text("'[]'"), nullable=False),
        sa.Column("renames", JSON, server_default=sa.text("'{}'"), nullable=False),
        sa.Column("config", JSON, server_default=sa.text("'{}'"), nullable=False),
        sa.Column("installed_by", sa.String(256), server_default="", nullable=False),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name="fk_community_modules_community_id_communities",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_community_modules"),
        sa.UniqueConstraint(
            "community_id", "module", name="uq_community_modules_community_id_module"
        ),
    )
    op.create_index("ix_community_modules_community_id", "community_modules", ["community_id"])


def downgrade() -> None:
    op.drop_table("community_modules")
    op.drop_table("catalogue_versions")
    op.drop_table("catalogue_modules")
