"""Browser-source overlay tokens.

Revision ID: 0008_overlays
Revises: 0007_inventory_calendar
Create Date: 2026-11-27 17:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0008_overlays"
down_revision: str | Sequence[str] | None = "0007_inventory_calendar"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
