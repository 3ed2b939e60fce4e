"""The calendar section of the settings (``WADDLEBOT_CALENDAR_*``); see docs/commands.md."""

from __future__ import annotations

from pydantic import BaseModel, Field


class CalendarSettings(BaseModel):
    calendar_public_url: str = Field(
        default="",
        description="base URL calendar apps fetch feeds from; empty: http://<host>:<port>",
    )
