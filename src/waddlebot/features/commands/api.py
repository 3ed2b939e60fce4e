"""``/api/v1/commands/communities/{community_id}``: a community's custom commands over HTTP.

For now one endpoint: importing the commands of another bot (Nightbot, StreamElements,
PhantomBot), admin role. See :mod:`waddlebot.features.commands.importer`.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from waddlebot.features.commands.importer import (
    ImportReport,
    import_commands,
)
from waddlebot.features.shared import Services
from waddlebot.web.deps import Admin
from waddlebot.web.records import FromRecord

router = APIRouter(prefix="/api/v1/commands/communities/{community_id}", tags=["commands"])


class ImportIn(BaseModel):
    payload: list[Any] | dict[str, Any] | str = Field(
        description="the export: a JSON list (Nightbot, StreamElements), or text (PhantomBot)"
    )


class CommandResultOut(FromRecord):
    name: str
    status: Literal["imported", "replaced", "skipped"]
    reason: Literal["", "exists", "reserved", "duplicate", "invalid"] = Field(
        description="why it was skipped; empty when it was imported"
    )
    detail: str
    warnings: list[str] = Field(description="variables with no counterpart here")


class ImportOut(FromRecord):
    source: str
    overwrite: bool
    imported: int = Field(description="commands added or replaced")
    skipped: int
    commands: list[CommandResultOut]

    @classmethod
    def of(cls, report: ImportReport) -> ImportOut:
        commands = [CommandResultOut.from_record(result) for result in report.results]
        return cls.from_record(report, commands=commands)


@router.post("/import", response_model=ImportOut)
async def import_from_another_bot(
    caller: Admin,
    runtime: Services,
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
