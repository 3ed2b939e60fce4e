"""URLs: links a community keeps, each with an optional title.

An address is stored as ``http(s)://host/...``, scheme and host in lower case: one typed
without a scheme (``example.com``) gets ``https://``, and the angle brackets Discord users put
around links to stop previews are taken off. The same address twice in one community is
refused, naming the number it has. A search wants every word in the title or the address, as
part of a word or whole (``docs`` finds ``https://docs.example.com``).
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from waddlebot.core.errors import Conflict
from waddlebot.features.memories.common import (
    Author,
    MemoriesError,
    NumberedService,
    check_add,
    check_text,
)
from waddlebot.features.memories.models import SavedUrl

MAX_URL = 500
MAX_TITLE = 150
MAX_URLS = 1000  # per community
MAX_SEARCH_WORDS = 8


class DuplicateUrl(Conflict):
    def __init__(self, number: int) -> None:
        super().__init__(f"that link is saved already, as #{number}")
        self.number = number


@dataclass(frozen=True, slots=True)
class UrlInfo:
    number: int
    url: str
    title: str
    added_by: str
    added_by_user_id: int | None
    created_at: datetime


def _info(row: SavedUrl) -> UrlInfo:
    return UrlInfo(
        number=row.number,
        url=row.url,
        title=row.title,
        added_by=row.added_by,
        added_by_user_id=row.added_by_user_id,
        created_at=row.created_at,
    )


def check_url(typed: str) -> str:
    """The address as stored; MemoriesError when it is not a web address."""
    url = typed.strip().removeprefix("<").removesuffix(">")
    if not url:
        raise MemoriesError("which link? e.g. https://example.com")
    if "://" not in url:
        url = f"https://{url}"
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        host = ""
        parts = None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not _is_host(host):
        raise MemoriesError(f"{typed.strip()!r} is not a web address, e.g. https://example.com")
    if any(char.isspace() for char in url):
        raise MemoriesError("a web address has no spaces in it")
    url = parts._replace(scheme=parts.scheme.lower(), netloc=parts.netloc.lower()).geturl()
    if len(url) > MAX_URL:
        raise MemoriesError(f"a link is at most {MAX_URL} characters")
    return url


def _is_host(host: str) -> bool:
    if host == "localhost":
        return True
    labels = host.split(".")
    return len(labels) >= 2 and all(labels) and not host.startswith("-")


class UrlService(NumberedService[UrlInfo]):
    model = SavedUrl
    kind = "url"
    noun = "link"
    plural = "links"
    limit = MAX_URLS

    async def _shown(
        self, session: AsyncSession, rows: Sequence[SavedUrl]
    ) -> builtins.list[UrlInfo]:
        return [_info(row) for row in rows]

    async def add(self, community_id: int, url: str, title: str = "", *, author: Author) -> UrlInfo:
        check_add(author, "links")
        url = check_url(url)
        title = title.strip()
        if title:
            title = check_text(title, "a title", MAX_TITLE)
        async with self.db.session() as session:
            number = await self._next_number(session, community_id)
            taken = await session.scalar(
                select(SavedUrl.number).where(
                    SavedUrl.community_id == community_id, SavedUrl.url == url
                )
            )
            if taken is not None:
                raise DuplicateUrl(taken)  # rolls back: the number is not used up
            row = SavedUrl(
                community_id=community_id,
                number=number,
                url=url,
                title=title,
                added_by=author.name[:256],
                added_by_user_id=author.user_id,
            )
            session.add(row)
            await session.flush()
            info = _info(row)
        self._audit("url.add", author, community_id, number, {"url": url, "title": title})
        return info

    async def list(
        self, community_id: int, *, newest_first: bool = False, limit: int = 100, offset: int = 0
    ) -> builtins.list[UrlInfo]:
        where = SavedUrl.community_id == community_id
        return await self._page(where, newest_first=newest_first, limit=limit, offset=offset)

    async def search(
        self, community_id: int, words: str, *, newest_first: bool = False, limit: int = 100
    ) -> builtins.list[UrlInfo]:
        """The links whose title or address holds every word (any case)."""
        wanted = words.lower().split()
        if not wanted:
            raise MemoriesError("say what to look for, e.g. a word of the title")
        if len(wanted) > MAX_SEARCH_WORDS:
            raise MemoriesError(f"a search has at most {MAX_SEARCH_WORDS} words")
        where = SavedUrl.community_id == community_id
        for word in wanted:
            where &= or_(
                func.lower(SavedUrl.title).contains(word, autoescape=True),
                func.lower(SavedUrl.url).contains(word, autoescape=True),
            )
        return await self._page(where, newest_first=newest_first, limit=limit)

    async def remove(self, community_id: int, number: int, *, author: Author) -> None:
        """NotFound, NotAllowed."""
        await self._remove(community_id, number, author)
        self._audit("url.remove", author, community_id, number)
