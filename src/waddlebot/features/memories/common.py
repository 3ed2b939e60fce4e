"""What quotes, URLs, notes and reminders share: who is asking, the rules for who may add and
change what, numbering, the community's time zone, and auditing.

Times people type (``!remind me at 18:30``) and dates shown (a quote's) are in the community's
time zone, which the services are handed as a :data:`~waddlebot.core.language.ZoneOf`.

Numbers are per community and per kind (quote #1, URL #1...), count up, and are never given
twice: the last one given lives in ``memory_counters``, so removing #7 leaves a gap rather
than handing 7 to the next quote. Every add first locks the community's row
(:func:`~waddlebot.infra.directory.lock_community`), so the count against a limit, the
next number and the insert cannot interleave with another writer's, in any process.

Quotes, links and notes are kept alike (:class:`NumberedService`): got by number, listed in
order of it, changed and removed by whoever may change them, each change audited.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from waddlebot.core.errors import LimitReached, NotAllowed, UnknownNumber, UserError
from waddlebot.core.permissions import Level
from waddlebot.features.memories.models import MemoryCounter
from waddlebot.infra.audit import AuditLog
from waddlebot.infra.db.engine import Database
from waddlebot.infra.directory import lock_community

ADD_LEVEL = Level.VIP  # adds quotes, URLs and notes
CHANGE_LEVEL = Level.MODERATOR  # edits and removes anyone's
UTC = ZoneInfo("UTC")


class MemoriesError(UserError):
    """A mistake in what was typed (answered with the usage line in chat, 422 over HTTP).
    The refusals (nothing by that number, not allowed, a limit, a link saved already) are
    the other kinds of :mod:`waddlebot.core.errors`, said plainly."""


@dataclass(frozen=True, slots=True)
class Author:
    """Who asks: their name as shown, their WaddleBot user (None when unknown), their level
    (None: a service account, which may do anything) and how the audit log names them."""

    name: str
    user_id: int | None
    level: int | None
    actor: str

    @property
    def unrestricted(self) -> bool:
        return self.level is None


def level_name(level: int) -> str:
    """``VIPs``, ``moderators``: who holds a level, for messages."""
    named = Level.at_least(level)
    return "VIPs" if named is Level.VIP else f"{named.label}s"


def check_add(author: Author, what: str) -> None:
    """NotAllowed unless the author may add quotes, URLs or notes (``what``)."""
    if author.level is not None and author.level < ADD_LEVEL:
        raise NotAllowed(f"only {level_name(ADD_LEVEL)} and up can add {what}")


def check_change(author: Author, added_by_user_id: int | None, what: str, doing: str) -> None:
    """NotAllowed unless the author is a moderator (or up) or added it themselves."""
    if author.level is None or author.level >= CHANGE_LEVEL:
        return
    if author.user_id is not None and author.user_id == added_by_user_id:
        return
    raise NotAllowed(
        f"only {level_name(CHANGE_LEVEL)} and up, and whoever added it, can {doing} {what}"
    )


def check_text(text: str, what: str, limit: int) -> str:
    """The text stripped; MemoriesError when empty or too long."""
    text = text.strip()
    if not text:
        raise MemoriesError(f"{what} cannot be empty")
    if len(text) > limit:
        raise MemoriesError(f"{what} is at most {limit} characters (this one has {len(text)})")
    return text


async def next_number(
    session: AsyncSession,
    community_id: int,
    kind: str,
    *,
    count: ColumnElement[bool],
    limit: int,
    what: str,
) -> int:
    """Lock the community, check that fewer than ``limit`` rows match ``count`` (LimitReached
    otherwise, naming ``what``), and take the next number of ``kind``. LookupError for an
    unknown community."""
    await lock_community(session, community_id)
    have = await session.scalar(select(func.count()).where(count))
    if (have or 0) >= limit:
        raise LimitReached(f"this community already has {limit} {what} (the limit)")
    counter = await session.get(MemoryCounter, (community_id, kind))
    if counter is None:
        counter = MemoryCounter(community_id=community_id, kind=kind, last_number=0)
        session.add(counter)
    counter.last_number += 1
    await session.flush()
    return counter.last_number


async def utc(community_id: int) -> ZoneInfo:
    """The time zone of every community, for a service given no better way to know."""
    return UTC


Info = TypeVar("Info")


class NumberedService(Generic[Info]):
    """What the quote, link and note services share. A subclass says which table it keeps
    (with ``community_id``, ``number`` and ``added_by_user_id`` columns), how it names what it
    keeps, and how a row is handed out (:meth:`_shown`)."""

    model: ClassVar[type[Any]]  # Quote, SavedUrl, Note
    kind: ClassVar[str]  # "url": its numbers' counter, audit actions ("url.add") and targets
    noun: ClassVar[str]  # "link": in messages ("there is no link #4 here")
    plural: ClassVar[str]  # "links"
    limit: ClassVar[int]  # per community

    def __init__(self, db: Database, audit: AuditLog) -> None:
        self.db = db
        self.audit = audit
        self._changes = audit.changes(self.kind)

    async def _shown(self, session: AsyncSession, rows: Sequence[Any]) -> list[Info]:
        """The rows as the service hands them out, in the same order."""
        raise NotImplementedError

    async def get(self, community_id: int, number: int) -> Info | None:
        async with self.db.session() as session:
            row = await session.scalar(self._one(community_id, number))
            return None if row is None else (await self._shown(session, [row]))[0]

    async def remove(self, community_id: int, number: int, *, author: Author) -> None:
        """NotFound, NotAllowed. Each service has its own, which calls :meth:`_remove` and
        audits it naming the action in full (docs/operations.md is checked against the
        actions the source names)."""
        raise NotImplementedError

    async def _remove(self, community_id: int, number: int, author: Author) -> None:
        async with self.db.session() as session:
            row = await self._to_change(session, community_id, number, author, "remove")
            await session.delete(row)

    async def _next_number(self, session: AsyncSession, community_id: int) -> int:
        """Lock the community and take the next number (see :func:`next_number`)."""
        return await next_number(
            session,
            community_id,
            self.kind,
            count=self.model.community_id == community_id,
            limit=self.limit,
            what=self.plural,
        )

    async def _page(
        self,
        where: ColumnElement[bool],
        *,
        newest_first: bool = False,
        limit: int,
        offset: int = 0,
    ) -> list[Info]:
        """The rows that match, by number."""
        order = self.model.number.desc() if newest_first else self.model.number
        async with self.db.session() as session:
            rows = await session.scalars(
                select(self.model).where(where).order_by(order).offset(offset).limit(limit)
            )
            return await self._shown(session, list(rows))

    async def _to_change(
        self, session: AsyncSession, community_id: int, number: int, author: Author, doing: str
    ) -> Any:
        """The row, locked, when the author may do this to it; NotFound, NotAllowed."""
        row = await session.scalar(self._one(community_id, number).with_for_update())
        if row is None:
            raise UnknownNumber(self.noun, number)
        check_change(author, row.added_by_user_id, self.plural, doing)
        return row

    def _one(self, community_id: int, number: int) -> Any:
        return select(self.model).where(
            self.model.community_id == community_id, self.model.number == number
        )

    def _audit(
        self,
        action: str,
        author: Author,
        community_id: int,
        number: int,
        detail: dict[str, Any] | None = None,
    ) -> None:
        self._changes.record(action, author.actor, community_id, number, detail)
