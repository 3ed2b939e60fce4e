"""The audit trail: who did what, where, and whether it was allowed.

``AuditLog.record`` never waits on the database: rows go to an in-memory buffer that a
background task writes in batches (one executemany insert per batch).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from waddlebot.infra.db.engine import Database
from waddlebot.infra.db.models import DECISIONS, AuditRow, utcnow

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: datetime
    action: str
    decision: str
    actor: str = ""
    target: str = ""
    community_id: int | None = None
    session_id: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


def audit_row(
    action: str,
    *,
    decision: str,
    actor: str = "",
    target: str = "",
    community_id: int | None = None,
    session_id: str = "",
    detail: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One ``audit_log`` row as insert parameters (values clipped to their columns)."""
    if decision not in DECISIONS:
        raise ValueError(f"decision must be one of {', '.join(DECISIONS)}, not {decision!r}")
    return {
        "at": utcnow(),
        "action": action[:100],
        "decision": decision,
        "actor": actor[:256],
        "target": target[:256],
        "community_id": community_id,
        "session_id": session_id[:64],
        "detail": _plain_json(detail) if detail else {},
    }


def _plain_json(detail: dict[str, Any]) -> dict[str, Any]:
    # Round-trip through JSON now (odd values become strings) so one unserialisable detail
    # cannot fail a whole batch later, far from the code that recorded it.
    plain: dict[str, Any] = json.loads(json.dumps(detail, default=str))
    return plain


async def write_rows(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Insert audit rows within the caller's transaction (one executemany)."""
    if rows:
        await session.execute(insert(AuditRow), rows)


class AuditLog:
    """Buffered audit writer. ``start()`` the flusher, ``record()`` freely, ``await stop()``
    to write what is left. Write errors are logged and the rows retried once (in the next
    batch); they never reach the code that recorded them."""

    def __init__(
        self,
        db: Database,
        *,
        flush_interval: float = 0.2,
        batch_size: int = 200,
        max_buffered: int = 100_000,
    ) -> None:
        self.db = db
        self.flush_interval = flush_interval
        self.batch_size = batch_size
        self.max_buffered = max_buffered
        self.dropped = 0  # rows given up on (buffer overflow, or a retry that failed too)
        self._buffer: list[dict[str, Any]] = []
        self._retry: list[dict[str, Any]] = []  # rows whose first write failed
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def pending(self) -> int:
        return len(self._buffer) + len(self._retry)

    def record(
        self,
        action: str,
        *,
        decision: str,
        actor: str = "",
        target: str = "",
        community_id: int | None = None,
        session_id: str = "",
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Buffer one entry; returns at once. A full batch wakes the flusher early."""
        self._buffer.append(
            audit_row(
                action,
                decision=decision,
                actor=actor,
                target=target,
                community_id=community_id,
                session_id=session_id,
                detail=detail,
            )
        )
        if len(self._buffer) > self.max_buffered:  # the database has been down a long time
            del self._buffer[0]
            self.dropped += 1
        if len(self._buffer) >= self.batch_size:
            self._wake.set()

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._stopping = False
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="audit-log-flusher"
            )

    async def stop(self) -> None:
        """Stop the flusher and write everything still buffered (retrying failures once)."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
        await self.flush()
        if self._retry:  # one more go for rows that failed in the last flush
            await self.flush()

    async def flush(self) -> int:
        """Write buffered rows now, in one insert; returns how many were written."""
        async with self._lock:
            retry, fresh = self._retry, self._buffer
            self._retry, self._buffer = [], []
            rows = retry + fresh
            if not rows:
                return 0
            try:
                async with self.db.session() as session:
                    await write_rows(session, rows)
            except Exception:
                self.dropped += len(retry)
                self._retry = fresh
                log.exception("audit_write_failed", retrying=len(fresh), dropped=len(retry))
                return 0
            return len(rows)

    async def _run(self) -> None:
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.flush_interval)
            self._wake.clear()
            try:
                await self.flush()
            except Exception:  # pragma: no cover - flush already logs its own errors
                log.exception("audit_flush_failed")

    async def recent(self, limit: int = 50, community_id: int | None = None) -> list[AuditEntry]:
        """The newest entries first (written ones only: ``flush()`` first to include all)."""
        query = select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)
        if community_id is not None:
            query = query.where(AuditRow.community_id == community_id)
        async with self.db.read_session() as session:
            rows = (await session.scalars(query)).all()
        return [
            AuditEntry(
                id=row.id,
                at=row.at,
                action=row.action,
                decision=row.decision,
                actor=row.actor,
                target=row.target,
                community_id=row.community_id,
                session_id=row.session_id,
                detail=row.detail,
            )
            for row in rows
        ]
