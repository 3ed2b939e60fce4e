"""The audit trail: who did what, where, and whether it was allowed.

``AuditLog.record`` never waits on the database: rows go to an in-memory buffer that a
background task writes in batches (one executemany insert per batch). When the database
rejects a batch while it is up, the rows are written one at a time, so only a row that
really cannot be stored is lost, not the batch it came in.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypedDict, Unpack

import structlog
from sqlalchemy import Select, insert, or_, select, text
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
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


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Which of a community's entries to read: by ``actor`` (as written, or its person
    without the address: ``user:2`` is also ``user:2@203.0.113.7``), ``action`` (as
    written, or every action under a prefix ending in a dot: ``command.``), ``decision``,
    and when (``since`` inclusive, ``until`` exclusive; aware datetimes). Empty: any."""

    actor: str = ""
    action: str = ""
    decision: str = ""
    since: datetime | None = None
    until: datetime | None = None

    def where(self, query: Select[AuditRow]) -> Select[AuditRow]:
        if self.actor:
            query = query.where(
                or_(
                    AuditRow.actor == self.actor,
                    AuditRow.actor.startswith(self.actor + "@", autoescape=True),
                )
            )
        if self.action.endswith("."):
            query = query.where(AuditRow.action.startswith(self.action, autoescape=True))
        elif self.action:
            query = query.where(AuditRow.action == self.action)
        if self.decision:
            query = query.where(AuditRow.decision == self.decision)
        if self.since is not None:
            query = query.where(AuditRow.at >= self.since)
        if self.until is not None:
            query = query.where(AuditRow.at < self.until)
        return query


class AuditFields(TypedDict, total=False):
    """What an audit entry says besides its action and decision (all optional)."""

    actor: str
    target: str
    community_id: int | None
    session_id: str
    detail: Mapping[str, Any] | None


def audit_row(action: str, *, decision: str, **fields: Unpack[AuditFields]) -> dict[str, Any]:
    """One ``audit_log`` row as insert parameters (values clipped to their columns, and
    cleaned of characters no database column can hold)."""
    if decision not in DECISIONS:
        raise ValueError(f"decision must be one of {', '.join(DECISIONS)}, not {decision!r}")
    detail = fields.get("detail")
    return {
        "at": utcnow(),
        "action": _storable(action)[:100],
        "decision": decision,
        "actor": _storable(fields.get("actor", ""))[:256],
        "target": _storable(fields.get("target", ""))[:256],
        "community_id": fields.get("community_id"),
        "session_id": _storable(fields.get("session_id", ""))[:64],
        "detail": _plain_json(dict(detail)) if detail else {},
    }


def _storable(text: str) -> str:
    """``text`` without NUL characters (PostgreSQL text and JSON cannot hold them) and with
    lone surrogates (not encodable as UTF-8) replaced."""
    text = text.replace("\x00", "")
    try:
        text.encode()
    except UnicodeEncodeError:
        text = text.encode(errors="replace").decode()
    return text


def _plain_json(detail: dict[str, Any]) -> dict[str, Any]:
    # Round-trip through JSON now (odd values become strings) so one unserialisable detail
    # cannot fail a whole batch later, far from the code that recorded it.
    plain: dict[str, Any] = _storable_json(json.loads(json.dumps(detail, default=str)))
    return plain


def _storable_json(value: Any) -> Any:
    if isinstance(value, str):
        return _storable(value)
    if isinstance(value, dict):
        return {_storable(key): _storable_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_storable_json(item) for item in value]
    return value


def _database_trouble(exc: BaseException) -> bool:
    """Whether a failed write says the database is unreachable (rather than that it
    refused the rows)."""
    if isinstance(exc, OSError | TimeoutError | PoolTimeoutError):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def _error_name(exc: BaseException) -> str:
    # Only class names: database errors quote the rejected row's values in their message.
    orig = getattr(exc, "orig", None)
    return type(exc).__name__ + (f" ({type(orig).__name__})" if orig is not None else "")


def _error_text(exc: BaseException) -> str:
    """The message of a connection problem ("connection refused"), never one that may quote
    row values (statement errors list the parameters, encoding errors the text)."""
    if isinstance(exc, StatementError | UnicodeError) or not _database_trouble(exc):
        return ""
    return str(exc)


async def write_rows(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Insert audit rows within the caller's transaction (one executemany)."""
    if rows:
        await session.execute(insert(AuditRow), rows)


async def write_change(session: AsyncSession, action: str, **fields: Unpack[AuditFields]) -> None:
    """Audit a change in the same transaction as the change itself: both are stored, or
    neither."""
    await write_rows(session, [audit_row(action, decision="change", **fields)])


class ChangeRecorder:
    """Audits the changes to one kind of thing: ``.record("timer.add", actor, community_id,
    "rules", detail)`` records a ``change`` of the target ``timer:rules``."""

    def __init__(self, audit: AuditLog, kind: str) -> None:
        self.audit = audit
        self.kind = kind

    def record(
        self,
        action: str,
        actor: str,
        community_id: int,
        name: str | int,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        self.audit.change(action, actor, f"{self.kind}:{name}", community_id, detail)


class AuditLog:
    """Buffered audit writer. ``start()`` the flusher, ``record()`` freely, ``await stop()``
    to write what is left. Write errors never reach the code that recorded the rows: when
    the database is unreachable the rows are retried once (in the next batch); when it is up
    but rejects the batch, the rows are written one by one and only those it rejects on
    their own are dropped. Either way drops are counted in ``dropped`` and logged (without
    the rows' contents)."""

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
        self.dropped = 0  # rows given up on (buffer overflow, a retry that failed too, or
        # a row the database refused)
        self._buffer: deque[dict[str, Any]] = deque(maxlen=max_buffered)
        self._retry: list[dict[str, Any]] = []  # rows whose first write failed
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def pending(self) -> int:
        return len(self._buffer) + len(self._retry)

    def record(self, action: str, *, decision: str, **fields: Unpack[AuditFields]) -> None:
        """Buffer one entry; returns at once. A full batch wakes the flusher early."""
        row = audit_row(action, decision=decision, **fields)
        if len(self._buffer) == self._buffer.maxlen:  # the database has been down a long time
            self.dropped += 1  # appending pushes out the oldest
        self._buffer.append(row)
        if len(self._buffer) >= self.batch_size:
            self._wake.set()

    def change(
        self,
        action: str,
        actor: str = "",
        target: str = "",
        community_id: int | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        """Buffer a ``change`` entry: ``actor`` changed ``target`` (in the community)."""
        self.record(
            action,
            decision="change",
            actor=actor,
            target=target,
            community_id=community_id,
            detail=detail,
        )

    def changes(self, kind: str) -> ChangeRecorder:
        """A recorder of the changes to things of one ``kind`` (``timer``, ``alias``...)."""
        return ChangeRecorder(self, kind)

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
            retries = len(self._retry)
            rows = self._retry + list(self._buffer)
            self._retry = []
            self._buffer.clear()
            if not rows:
                return 0
            try:
                await self._write(rows)
            except Exception as exc:
                if _database_trouble(exc) or not await self._primary_answers():
                    self._give_up_retries(rows, retries, exc)
                    return 0
                log.warning("audit_batch_refused", rows=len(rows), error=_error_name(exc))
            else:
                return len(rows)
            return await self._write_one_by_one(rows, retries)

    async def _write(self, rows: list[dict[str, Any]]) -> None:
        async with self.db.session() as session:
            await write_rows(session, rows)

    async def _write_one_by_one(self, rows: list[dict[str, Any]], retries: int) -> int:
        """The database is up but refused a batch: find the rows it refuses on their own.
        The first ``retries`` rows already failed once before."""
        written = 0
        for index, row in enumerate(rows):
            try:
                await self._write([row])
            except Exception as exc:
                if _database_trouble(exc):  # it went away meanwhile: back to retrying
                    self._give_up_retries(rows[index:], max(retries - index, 0), exc)
                    break
                self.dropped += 1
                log.error("audit_row_dropped", error=_error_name(exc))
            else:
                written += 1
        return written

    def _give_up_retries(
        self, rows: list[dict[str, Any]], retries: int, exc: BaseException
    ) -> None:
        """Keep ``rows`` for one more try, except the first ``retries`` (their second)."""
        self.dropped += retries
        self._retry = rows[retries:]
        log.error(
            "audit_write_failed",
            retrying=len(self._retry),
            dropped=retries,
            error=_error_name(exc),
            detail=_error_text(exc),
        )

    async def _primary_answers(self) -> bool:
        try:
            async with self.db.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception:
            return False
        return True

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
        return await self._read(query)

    async def search(
        self,
        community_id: int,
        found: AuditFilter = AuditFilter(),
        *,
        before: int | None = None,
        limit: int = 50,
    ) -> list[AuditEntry]:
        """A community's entries that ``found`` picks, newest first, from the one before
        the entry with id ``before`` (None: the newest)."""
        query = found.where(select(AuditRow).where(AuditRow.community_id == community_id))
        if before is not None:
            query = query.where(AuditRow.id < before)
        return await self._read(query.order_by(AuditRow.id.desc()).limit(limit))

    async def _read(self, query: Select[AuditRow]) -> list[AuditEntry]:
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
