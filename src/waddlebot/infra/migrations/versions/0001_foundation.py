"""Foundation: communities, entities, users, identities, memberships, API keys, audit log,
module settings.

Revision ID: 0001_foundation
Revises:
Create Date: 2025-01-01 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001_foundation"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Types are spelled out here rather than imported from the models, so this revision keeps
# meaning the same thing when the models move on.
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIGINT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
EMPTY = sa.text("'{}'")


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[object]:
    if nullable:
        return sa.Column(name, sa.DateTime(timezone=True), nullable=True)
    return sa.Column(name, sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False)


def _text(name: str, length: int, default: str | None = None) -> sa.Column[object]:
    return sa.Column(name, sa.String(length), server_default=default, nullable=False)


def upgrade() -> None:
    op.create_table(
        "communities",
        sa.Column("id", sa.Integer(), nullable=False),
        _text("name", 200),
        _text("prefix", 8, "!"),
        _text("timezone", 64, "UTC"),
        _timestamp("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_communities"),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        _text("display_name", 256, ""),
        _timestamp("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
    )
    op.create_table(
        "entities",
        sa.Column("id", sa.String(256), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        _text("platform", 16),
        _text("server_id", 128, ""),
        _text("channel_id", 128, ""),
        _text("name", 200, ""),
        _timestamp("created_at"),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name="fk_entities_community_id_communities",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_entities"),
    )
    op.create_index("ix_entities_community_id", "entities", ["community_id"])
    op.create_table(
        "identities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        _text("platform", 16),
        _text("platform_user_id", 128),
        _text("login", 128, ""),
        _text("display_name", 256, ""),
        _timestamp("created_at"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_identities_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_identities"),
        sa.UniqueConstraint(
            "platform", "platform_user_id", name="uq_identities_platform_platform_user_id"
        ),
    )
    op.create_index("ix_identities_user_id", "identities", ["user_id"])
    op.create_table(
        "memberships",
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        _text("role", 16, "member"),
        _timestamp("created_at"),
        sa.CheckConstraint(
            "role IN ('owner', 'admin', 'moderator', 'member')", name="ck_memberships_role"
        ),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name="fk_memberships_community_id_communities",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_memberships_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("community_id", "user_id", name="pk_memberships"),
    )
    op.create_index("ix_memberships_user_id", "memberships", ["user_id"])
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        _text("name", 100),
        _text("key_id", 32),
        _text("secret_hash", 128),
        _text("scopes", 200, "*"),
        sa.Column("community_id", sa.Integer(), nullable=True),
        _timestamp("created_at"),
        _timestamp("last_used_at", nullable=True),
        _timestamp("revoked_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name="fk_api_keys_community_id_communities",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
        sa.UniqueConstraint("key_id", name="uq_api_keys_key_id"),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", BIGINT_ID, nullable=False),
        _timestamp("at"),
        sa.Column("community_id", sa.Integer(), nullable=True),
        _text("session_id", 64, ""),
        _text("actor", 256, ""),
        _text("action", 100),
        _text("target", 256, ""),
        _text("decision", 16),
        sa.Column("detail", JSON, server_default=EMPTY, nullable=False),
        sa.CheckConstraint("decision IN ('allow', 'deny', 'change')", name="ck_audit_log_decision"),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_community_id_id", "audit_log", ["community_id", "id"])
    op.create_table(
        "module_settings",
        sa.Column("community_id", sa.Integer(), nullable=False),
        _text("module", 64),
        sa.Column("enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("config", JSON, server_default=EMPTY, nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name="fk_module_settings_community_id_communities",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("community_id", "module", name="pk_module_settings"),
    )


def downgrade() -> None:
    op.drop_table("module_settings")
    op.drop_index("ix_audit_log_community_id_id", table_name="audit_log")
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_table("api_keys")
    op.drop_index("ix_memberships_user_id", table_name="memberships")
    op.drop_table("memberships")
    op.drop_index("ix_identities_user_id", table_name="identities")
    op.drop_table("identities")
    op.drop_index("ix_entities_community_id", table_name="entities")
    op.drop_table("entities")
    op.drop_table("users")
    op.drop_table("communities")
