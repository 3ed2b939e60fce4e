"""``/api/v1/audit``: a community's audit log, newest first, filtered by who, what, when and
the decision (admin role: it names people and the addresses they came from)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel

from waddlebot.infra.audit import AuditEntry, AuditFilter
from waddlebot.web.deps import Admin
from waddlebot.web.host import Running
from waddlebot.web.pages import Page, PageOf, Paging
from waddlebot.web.records import FromRecord

router = APIRouter(prefix="/api/v1/audit/communities/{community_id}", tags=["audit"])
ENTRY_ID = re.compile(r"\d{1,19}")  # a page's cursor: the id of its last entry


class AuditEntryOut(FromRecord):
    id: int
    at: datetime
    actor: str
    action: str
    target: str
    decision: str
    session_id: str
    detail: dict[str, Any]


class Filters(BaseModel):
    """The query's filters, as the API and the portal page take them."""

    actor: str = ""
    action: str = ""
    decision: Literal["", "allow", "deny", "change"] = ""
    since: AwareDatetime | None = None
    until: AwareDatetime | None = None

    def audit_filter(self) -> AuditFilter:
        return AuditFilter(
            self.actor.strip(), self.action.strip(), self.decision, self.since, self.until
        )


async def entries_page(
    host: Running, community_id: int, filters: Filters, paging: Paging
) -> Page[AuditEntry]:
    """One page of the community's entries that ``filters`` picks (the API's and the
    portal's)."""
    after = paging.keyed(ENTRY_ID)
    found = await host.audit.search(
        community_id,
        filters.audit_filter(),
        before=int(after) if after else None,
        limit=paging.limit + 1,
    )
    return paging.page_by_key(found, lambda entry: str(entry.id))


@router.get("/entries", response_model=Page[AuditEntryOut])
async def list_entries(
    caller: Admin,
    host: Running,
    paging: PageOf,
    actor: Annotated[
        str, Query(max_length=256, description="who: as written, or user:<id> for any address")
    ] = "",
    action: Annotated[
        str,
        Query(max_length=100, description="what: as written, or a prefix ending in a dot"),
    ] = "",
    decision: Annotated[Literal["", "allow", "deny", "change"], Query()] = "",
    since: Annotated[AwareDatetime | None, Query(description="from (inclusive)")] = None,
    until: Annotated[AwareDatetime | None, Query(description="to (exclusive)")] = None,
) -> Page[AuditEntryOut]:
    """The community's audit log, newest first (admin role)."""
    filters = Filters(actor=actor, action=action, decision=decision, since=since, until=until)
    found = await entries_page(host, caller.community_id, filters, paging)
    return Page(items=[AuditEntryOut.from_record(e) for e in found.items], next=found.next)
