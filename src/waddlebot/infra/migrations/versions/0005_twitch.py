"""Platform tokens (encrypted) and Twitch EventSub subscriptions.

Revision ID: 0005_twitch
Revises: 0004_aliases_timers
Create Date: 2026-11-27 14:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005_twitch"
down_revision: str | Sequence[str] | None = "0004_aliases_timers"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _text(name: str, length: int, default: str | None = None) -> sa.Column[object]:
    return sa.Column(name, sa.String(length), server_default=default, nullable=False)


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(
        name,
        sa.DateTime(timezone=True),
        server_default=None if nullable else sa.func.now(),
        nullable=nullable,
    )


def upgrade() -> None:
    op.create_table(
        "platform_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        _text("platform", 16),
        _text("account_id", 128),
        _text("login", 128, ""),
        _text("purpose", 16),
        sa.Column("community_id", sa.Integer(), nullable=True),
        _text("access_token", 2000),
        _text("refresh_token", 2000, ""),
        sa.Column("scopes", JSON, server_default=sa.text("'[]'"), nullable=False),
        _timestamp("expires_at", nullable=True),
        _timestamp("validated_at", nullable=True),
        _text("status", 32, "ok"),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name="fk_platform_tokens_community_id_communities",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_platform_tokens"),
        sa.UniqueConstraint(
            "platform", "account_id", name="uq_platform_tokens_platform_account_id"
        ),
    )
    op.create_table(
        "twitch_subscriptions",
        _text("id", 64),
        _text("type", 64),
        _text("version", 8),
        _text("broadcaster_id", 64),
        sa.Column("condition", JSON, nullable=False),
        _text("transport", 16),
        _text("status", 64),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_twitch_subscriptions"),
    )
    op.create_index(
        "ix_twitch_subscriptions_broadcaster_id", "twitch_subscriptions", ["broadcaster_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_twitch_subscriptions_broadcaster_id", table_name="twitch_subscriptions")
    op.drop_table("twitch_subscriptions")
    op.drop_table("platform_tokens")
