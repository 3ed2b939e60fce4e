"""How every list endpoint pages: ``?limit=`` (default :data:`DEFAULT_LIMIT`, at most
:data:`MAX_LIMIT`) and ``?cursor=``; the answer is ``{"items": [...], "next": <cursor>}``, with
``next`` null on the last page. To read a whole list, ask again with ``cursor=<next>`` until
``next`` is null.

A cursor is opaque to clients: base64url of where the next page starts, an offset into the
list, or for a list read by key (the dead letters) the key of the last item given. A cursor
that is not one the API gave is a 422 naming ``cursor``. Each endpoint asks for one item more
than the page holds, so the last page says so (``next`` null) instead of a client asking for
an empty one.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Query
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field

from waddlebot.web.numbers import MAX_STORED_INT

DEFAULT_LIMIT = 100
MAX_LIMIT = 500
_OFFSET, _KEY = "o", "k"  # what a cursor holds: an offset, or the key of the last item
MAX_CURSOR = 300  # characters: a key (a stream entry id) is short

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a list."""

    items: list[T]
    next: str | None = Field(
        description="give it as ?cursor= for the next page; null on the last page"
    )


def _encode(kind: str, position: str) -> str:
    return base64.urlsafe_b64encode(f"{kind}{position}".encode()).decode().rstrip("=")


def offset_cursor(offset: int) -> str:
    """The cursor of the page of an offset list starting at ``offset``."""
    return _encode(_OFFSET, str(offset))


def _refuse_cursor(cursor: str) -> RequestValidationError:
    return RequestValidationError(
        [
            {
                "type": "value_error",
                "loc": ("query", "cursor"),
                "msg": "not a cursor this list gave: give the next of a page, or none for the "
                "first page",
                "input": cursor,
            }
        ]
    )


@dataclass(frozen=True, slots=True)
class Paging:
    """The page asked for: ``limit`` items from ``offset`` (an offset list), or after ``key``
    (a list read by key; empty for the first page)."""

    limit: int
    offset: int = 0
    key: str = ""
    cursor: str = ""  # as given, to say which when it does not fit the list

    @property
    def end(self) -> int:
        """How many items a list read from its start must hold for this page and one more."""
        return self.offset + self.limit + 1

    def keyed(self, form: re.Pattern[str]) -> str:
        """The key to read after, for a list read by key whose keys look like ``form`` (422
        for an offset cursor, or a key of another form)."""
        if self.offset or (self.key and not form.fullmatch(self.key)):
            raise _refuse_cursor(self.cursor)
        return self.key

    def page(self, rows: Sequence[T]) -> Page[T]:
        """The page of an offset list, from its rows starting at ``offset`` (up to one more
        than ``limit``)."""
        if self.key:
            raise _refuse_cursor(self.cursor)
        more = len(rows) > self.limit
        following = offset_cursor(self.offset + self.limit) if more else None
        return Page(items=list(rows[: self.limit]), next=following)

    def page_of_all(self, rows: Sequence[T]) -> Page[T]:
        """The page of a list given whole, or from its start to at least :attr:`end`."""
        return self.page(rows[self.offset : self.end])

    def page_by_key(self, rows: Sequence[T], key: Callable[[T], str]) -> Page[T]:
        """The page of a list read by key, from its rows after :meth:`keyed` (up to one more
        than ``limit``)."""
        more = len(rows) > self.limit
        kept = list(rows[: self.limit])
        return Page(items=kept, next=_encode(_KEY, key(kept[-1])) if more else None)


def _decode(cursor: str) -> tuple[str, str]:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise _refuse_cursor(cursor) from exc
    return text[:1], text[1:]


def paging(
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description=f"items per page, at most {MAX_LIMIT}")
    ] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=MAX_CURSOR,
            description="the next of the page before; none for the first page",
        ),
    ] = None,
) -> Paging:
    if cursor is None:
        return Paging(limit)
    kind, position = _decode(cursor)
    offset = int(position) if position.isascii() and position.isdigit() else 0
    if kind == _OFFSET and 0 < offset <= MAX_STORED_INT:
        return Paging(limit, offset=offset, cursor=cursor)
    if kind == _KEY and position:
        return Paging(limit, key=position, cursor=cursor)
    raise _refuse_cursor(cursor)


PageOf = Annotated[Paging, Depends(paging)]
"""A list endpoint's parameter: the page asked for."""
