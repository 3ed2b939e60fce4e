"""Quotes: something someone said, kept by a community with who said it, who added it, the
game being played (when the platform says) and when.

VIPs and up add quotes; moderators and up, and whoever added a quote, edit and remove it
(see :mod:`~waddlebot.features.memories.common`). Each change is audited.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from waddlebot.features.memories.common import Author, NumberedService, check_add, check_text
from waddlebot.features.memories.models import Quote
from waddlebot.features.memories.search import matching, parse_search
from waddlebot.infra.db.records import record_of

MAX_TEXT = 400
MAX_NAME = 64
MAX_GAME = 200
MAX_QUOTES = 10_000  # per community


@dataclass(frozen=True, slots=True)
class QuoteInfo:
    number: int
    text: str
    said_by: str  # as written when it was added, without "@"; "" when nobody was named
    said_by_user_id: int | None
    added_by: str
    added_by_user_id: int | None
    platform: str
    game: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Speaker:
    """Who said a quote: the name as written (``bob``) and, when known, the user."""

    name: str
    user_id: int | None = None


def _info(row: Quote) -> QuoteInfo:
    return record_of(QuoteInfo, row)


def _speaker_name(speaker: Speaker | None) -> str:
    if speaker is None:
        return ""
    return check_text(speaker.name.lstrip("@"), "the name of who said it", MAX_NAME)


class QuoteService(NumberedService[QuoteInfo]):
    model = Quote
    kind = noun = "quote"
    plural = "quotes"
    limit = MAX_QUOTES

    async def _shown(
        self, session: AsyncSession, rows: Sequence[Quote]
    ) -> builtins.list[QuoteInfo]:
        return [_info(row) for row in rows]

    async def add(
        self,
        community_id: int,
        text: str,
        *,
        author: Author,
        said_by: Speaker | None = None,
        platform: str = "",
        entity_id: str = "",
        game: str = "",
    ) -> QuoteInfo:
        check_add(author, "quotes")
        text = check_text(text, "a quote", MAX_TEXT)
        name = _speaker_name(said_by)
        async with self.db.session() as session:
            number = await self._next_number(session, community_id)
            row = await self._added(
                session,
                community_id,
                number,
                author,
                text=text,
                said_by=name,
                said_by_user_id=said_by.user_id if said_by else None,
                platform=platform,
                entity_id=entity_id,
                game=game[:MAX_GAME],
            )
            info = _info(row)
        self._audit(
            "quote.add",
            author,
            community_id,
            number,
            {"text": text, "said_by": name, "game": info.game},
        )
        return info

    async def random(
        self, community_id: int, said_by: Speaker | None = None
    ) -> tuple[QuoteInfo | None, int]:
        """A random quote (by that person, when given) and how many there are to pick from."""
        where = self._by(community_id, said_by)
        async with self.db.session() as session:
            count = await session.scalar(select(func.count()).select_from(Quote).where(where))
            row = await session.scalar(select(Quote).where(where).order_by(func.random()).limit(1))
            return (None if row is None else _info(row)), int(count or 0)

    async def numbers(
        self, community_id: int, said_by: Speaker | None = None
    ) -> builtins.list[int]:
        """The numbers of the community's quotes (by that person, when given), in order."""
        async with self.db.session() as session:
            rows = await session.scalars(
                select(Quote.number).where(self._by(community_id, said_by)).order_by(Quote.number)
            )
            return builtins.list(rows)

    async def search(
        self, community_id: int, words: str, *, limit: int = 20, offset: int = 0
    ) -> tuple[builtins.list[QuoteInfo], int]:
        """The quotes that match a search (see :mod:`.search`), by number, and how many
        match in all. MemoriesError for a search with nothing to look for."""
        query = parse_search(words)
        where = (Quote.community_id == community_id) & matching(query, self.db.dialect)
        async with self.db.session() as session:
            total = await session.scalar(select(func.count()).select_from(Quote).where(where))
        return await self._page(where, limit=limit, offset=offset), int(total or 0)

    async def list(
        self, community_id: int, *, limit: int = 100, offset: int = 0
    ) -> builtins.list[QuoteInfo]:
        return await self._page(Quote.community_id == community_id, limit=limit, offset=offset)

    async def latest(self, community_id: int, *, limit: int) -> builtins.list[QuoteInfo]:
        """The community's newest quotes, newest first."""
        where = Quote.community_id == community_id
        return await self._page(where, newest_first=True, limit=limit)

    async def edit(
        self,
        community_id: int,
        number: int,
        *,
        author: Author,
        text: str | None = None,
        said_by: Speaker | None = None,
    ) -> QuoteInfo:
        """Change a quote's text, who said it, or both. NotFound, NotAllowed."""
        changes: dict[str, Any] = {}
        if text is not None:
            changes["text"] = check_text(text, "a quote", MAX_TEXT)
        if said_by is not None:
            changes["said_by"] = _speaker_name(said_by)
            changes["said_by_user_id"] = said_by.user_id
        async with self.db.session() as session:
            row = await self._to_change(session, community_id, number, author, "edit")
            for key, value in changes.items():
                setattr(row, key, value)
            await session.flush()
            info = _info(row)
        detail = {k: v for k, v in changes.items() if k != "said_by_user_id"}
        self._audit("quote.edit", author, community_id, number, detail)
        return info

    async def remove(self, community_id: int, number: int, *, author: Author) -> None:
        """NotFound, NotAllowed."""
        await self._remove(community_id, number, author)
        self._audit("quote.remove", author, community_id, number)

    @staticmethod
    def _by(community_id: int, said_by: Speaker | None) -> ColumnElement[bool]:
        """The community's quotes, or only those said by someone: by their user (when known)
        or by the name written when the quote was added."""
        where = Quote.community_id == community_id
        if said_by is None:
            return where
        name = func.lower(Quote.said_by) == said_by.name.lstrip("@").lower()
        if said_by.user_id is None:
            return where & name
        return where & or_(Quote.said_by_user_id == said_by.user_id, name)
