"""Inventory items and checkouts; calendar events and attendees.

Revision ID: 0007_inventory_calendar
Revises: 0006_memories
Create Date: 2026-11-27 17:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0007_inventory_calendar"
down_revision: str | Sequence[str] | None = "0006_memories"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
