"""The backups section of the settings (``WADDLEBOT_BACKUP*``): each community exported to the
object store on a schedule, the last few kept (docs/operations.md, "Backups")."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import NoDecode


class BackupSettings(BaseModel):
    backups: bool = Field(
        default=False, description="export communities to the object store on a schedule"
    )
    backup_interval_hours: float = Field(
        default=24.0, ge=0.25, le=24.0 * 366, description="how often each community is exported"
    )
    backup_keep: int = Field(
        default=7, ge=1, le=1000, description="backups kept per community; older ones are deleted"
    )
    backup_communities: Annotated[list[int], NoDecode] = Field(
        default_factory=list,
        description="the community ids to back up (comma-separated); empty: every community",
    )

    @field_validator("backup_communities", mode="before")
    @classmethod
    def _ids_comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value
