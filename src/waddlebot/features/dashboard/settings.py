"""The dashboard section of the settings."""

from __future__ import annotations

from pydantic import BaseModel, Field


class DashboardSettings(BaseModel):
    portal_live_seconds: float = Field(
        default=5.0,
        gt=0,
        le=60,
        description="how often an open dashboard page looks for new activity figures",
    )
