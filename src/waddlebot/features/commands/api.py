"""``/api/v1/commands/communities/{community_id}``: a community's custom commands over HTTP.

For now one endpoint: importing the commands of another bot (Nightbot, StreamElements,
PhantomBot), admin role. See :mod:`waddlebot.features.commands.importer`.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from waddlebot.features.commands.importer import (
    CommandResult,
    ImportReport,
    import_commands,
)
from waddlebot.web.deps import Admin, Running

router = APIRouter(prefix="/api/v1/commands/communities/{community_id}", tags=["commands"])


class ImportIn(BaseModel):
    payload: list[Any] | dict[str, Any] | str = Field(
        description="the export: a JSON list (Nightbot, StreamElements), or text (PhantomBot)"
    )


class CommandResultOut(BaseModel):
    name: str
    status: Literal["imported", "replaced", "skipped"]
    reason: Literal["", "exists", "reserved", "duplicate", "invalid"] = Field(
        description="why it was skipped; empty when it was imported"
    )
    detail: str
    warnings: list[str] = Field(description="variables with no counterpart here")

    @classmethod
    def of(cls, result: CommandResult) -> CommandResultOut:
        return cls(
            name=result.name,
            status=result.status,
            reason=result.reason,
            detail=result.detail,
            warnings=list(result.warnings),
        )


class ImportOut(BaseModel):
    source: str
    overwrite: bool
    imported: int = Field(description="commands added or replaced")
    skipped: int
    commands: list[CommandResultOut]

    @classmethod
    def of(cls, report: ImportReport) -> ImportOut:
        return cls(
            source=report.source,
            overwrite=report.overwrite,
            imported=report.imported,
            skipped=report.skipped,
            commands=[CommandResultOut.of(result) for result in report.results],
        )


@router.post("/import", response_model=ImportOut)
async def import_from_another_bot(
    caller: Admin,
    runtime: Running,
    body: ImportIn,
    source: Literal["nightbot", "streamelements", "phantombot"] = Query(),
    overwrite: bool = Query(default=False),
) -> ImportOut:
    """Import the custom commands of a Nightbot, StreamElements or PhantomBot export (admin
    role). Each command stands alone; existing ones are skipped unless ``overwrite``."""
    community_id = caller.community_id
    report = await import_commands(
        runtime.commands,
        community_id,
        source,
        body.payload,
        actor=caller.actor,
        overwrite=overwrite,
        reserved=runtime.registry.declared_names(),
        aliases=(await runtime.aliases.index([community_id]))[community_id],
    )
    return ImportOut.of(report)
