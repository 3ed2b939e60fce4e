"""Paging (``web/pages.py``): cursors lead from page to page, and nothing else is one."""

from __future__ import annotations

import base64

import pytest
from fastapi.exceptions import RequestValidationError

from waddlebot.router.dead_letters import ENTRY_ID
from waddlebot.web.pages import Paging, paging

ROWS = list(range(7))


def _walk(limit: int) -> list[list[int]]:
    pages, cursor = [], None
    while True:
        asked = paging(limit=limit, cursor=cursor)
        page = asked.page_of_all(ROWS)
        pages.append(page.items)
        if page.next is None:
            return pages
        cursor = page.next


def test_pages_follow_one_another_to_the_end_without_an_empty_one() -> None:
    assert _walk(3) == [[0, 1, 2], [3, 4, 5], [6]]
    assert _walk(7) == [ROWS]  # exactly one page full: the last, no empty page after it
    assert _walk(100) == [ROWS]


def test_a_list_read_by_key_continues_after_the_last_key() -> None:
    asked = paging(limit=2, cursor=None)
    first = asked.page_by_key(["1-0", "2-0", "3-0"], key=str)
    assert first.items == ["1-0", "2-0"] and first.next is not None
    after = paging(limit=2, cursor=first.next).keyed(ENTRY_ID)
    assert after == "2-0"


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    ["%%%", "x", _b64("o0"), _b64("o-1"), _b64("o2147483648"), _b64("o²"), _b64("k"), _b64("z1")],
)
def test_anything_but_a_cursor_the_api_gave_is_a_422_naming_it(cursor: str) -> None:
    with pytest.raises(RequestValidationError) as refused:
        paging(limit=10, cursor=cursor)
    assert refused.value.errors()[0]["loc"] == ("query", "cursor")


def test_a_cursor_of_the_other_kind_of_list_is_refused() -> None:
    offset_page = Paging(2).page_of_all(ROWS)
    with pytest.raises(RequestValidationError):
        paging(limit=2, cursor=offset_page.next).keyed(ENTRY_ID)
    keyed = paging(limit=1, cursor=None).page_by_key(["1-0", "2-0"], key=str)
    with pytest.raises(RequestValidationError):
        paging(limit=1, cursor=keyed.next).page_of_all(ROWS)
    not_an_entry = paging(limit=1, cursor=_b64("kabc"))
    with pytest.raises(RequestValidationError):
        not_an_entry.keyed(ENTRY_ID)
