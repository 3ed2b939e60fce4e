"""Memories: quotes, URLs, notes and reminders.

Revision ID: 0006_memories
Revises: 0005_twitch
Create Date: 2026-11-27 17:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0006_memories"
down_revision: str | Sequence[str] | None = "0005_twitch"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
