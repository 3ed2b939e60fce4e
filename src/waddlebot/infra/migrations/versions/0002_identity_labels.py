"""Identity and labels: link codes, labels and their assignments, portal accounts, user and
service API keys, community settings.

Revision ID: 0002_identity_labels
Revises: 0001_foundation
Create Date: 2026-11-27 12:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002_identity_labels"
down_revision: str | Sequence[str] | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
EMPTY = sa.text("'{}'")


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[object]:
    if nullable:
        return sa.Column(name, sa.DateTime(timezone=True), nullable=True)
    return sa.Column(name, sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False)


def _text(name: str, length: int, default: str | None = None) -> sa.Column[object]:
    return sa.Column(name, sa.String(length), server_default=default, nullable=False)


def _community_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["community_id"],
        ["communities.id"],
        name=f"fk_{table}_community_id_communities",
        ondelete="CASCADE",
    )


def _user_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["user_id"], ["users.id"], name=f"fk_{table}_user_id_users", ondelete="CASCADE"
    )


def upgrade() -> None:
    with op.batch_alter_table("communities") as batch:
        batch.add_column(sa.Column("settings", JSON, server_default=EMPTY, nullable=False))
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(_text("kind", 16, "service"))
        batch.add_column(_text("role", 16, ""))
        batch.add_column(sa.Column("user_id", sa.Integer(), nullable=True))
        batch.add_column(_timestamp("expires_at", nullable=True))
        batch.create_foreign_key(
            "fk_api_keys_user_id_users", "users", ["user_id"], ["id"], ondelete="CASCADE"
        )
        batch.create_check_constraint("kind", "kind IN ('service', 'user')")
        batch.create_index("ix_api_keys_user_id", ["user_id"])
    op.create_table(
        "labels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        _text("name", 32),
        _text("colour", 7, ""),
        _text("description", 200, ""),
        sa.Column("grants_level", sa.Integer(), nullable=True),
        _timestamp("created_at"),
        _community_fk("labels"),
        sa.PrimaryKeyConstraint("id", name="pk_labels"),
        sa.UniqueConstraint("community_id", "name", name="uq_labels_community_id_name"),
    )
    op.create_index("ix_labels_community_id", "labels", ["community_id"])
    op.create_table(
        "label_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("label_id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        _text("target_type", 16),
        _text("target_id", 64),
        _text("assigned_by", 256, ""),
        _timestamp("created_at"),
        _timestamp("expires_at", nullable=True),
        sa.CheckConstraint(
            "target_type IN ('user', 'community', 'item', 'event', 'memory')",
            name="ck_label_assignments_target_type",
        ),
        _community_fk("label_assignments"),
        sa.ForeignKeyConstraint(
            ["label_id"],
            ["labels.id"],
            name="fk_label_assignments_label_id_labels",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_label_assignments"),
        sa.UniqueConstraint(
            "label_id",
            "target_type",
            "target_id",
            name="uq_label_assignments_label_id_target_type_target_id",
        ),
    )
    op.create_index(
        "ix_label_assignments_target",
        "label_assignments",
        ["community_id", "target_type", "target_id"],
    )
    op.create_table(
        "link_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        _text("purpose", 16),
        _text("code_hash", 64),
        sa.Column("community_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        _text("platform", 16),
        _text("platform_user_id", 128, ""),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        _timestamp("created_at"),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        _timestamp("used_at", nullable=True),
        sa.CheckConstraint("purpose IN ('identity', 'community')", name="ck_link_codes_purpose"),
        _community_fk("link_codes"),
        _user_fk("link_codes"),
        sa.PrimaryKeyConstraint("id", name="pk_link_codes"),
    )
    op.create_index("ix_link_codes_code_hash", "link_codes", ["code_hash"])
    op.create_index("ix_link_codes_target", "link_codes", ["platform", "platform_user_id"])
    op.create_table(
        "accounts",
        sa.Column("user_id", sa.Integer(), nullable=False),
        _text("email", 254),
        _text("password_hash", 255),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        _user_fk("accounts"),
        sa.PrimaryKeyConstraint("user_id", name="pk_accounts"),
        sa.UniqueConstraint("email", name="uq_accounts_email"),
    )


def downgrade() -> None:
    op.drop_table("accounts")
    op.drop_index("ix_link_codes_target", table_name="link_codes")
    op.drop_index("ix_link_codes_code_hash", table_name="link_codes")
    op.drop_table("link_codes")
    op.drop_index("ix_label_assignments_target", table_name="label_assignments")
    op.drop_table("label_assignments")
    op.drop_index("ix_labels_community_id", table_name="labels")
    op.drop_table("labels")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_index("ix_api_keys_user_id")
        batch.drop_constraint("kind", type_="check")
        batch.drop_constraint("fk_api_keys_user_id_users", type_="foreignkey")
        batch.drop_column("expires_at")
        batch.drop_column("user_id")
        batch.drop_column("role")
        batch.drop_column("kind")
    with op.batch_alter_table("communities") as batch:
        batch.drop_column("settings")
