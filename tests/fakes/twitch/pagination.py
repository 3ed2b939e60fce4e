"""Helix's cursor pagination: ``first`` (page size) and ``after`` (an opaque cursor)."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any, TypeVar

from starlette.datastructures import QueryParams

T = TypeVar("T")


class BadPage(ValueError):
    pass


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f'{{"o":{offset}}}'.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        return int(text.removeprefix('{"o":').removesuffix("}"))
    except ValueError as exc:
        raise BadPage("invalid cursor") from exc


def page(
    items: Sequence[T], params: QueryParams, default_size: int = 20, max_size: int = 100
) -> tuple[list[T], dict[str, Any]]:
    """One page of ``items`` and the ``pagination`` object (``{}`` on the last page)."""
    try:
        size = int(params.get("first", default_size))
    except ValueError as exc:
        raise BadPage("first must be a number") from exc
    if not 1 <= size <= max_size:
        raise BadPage(f"first must be between 1 and {max_size}")
    start = decode_cursor(params["after"]) if params.get("after") else 0
    chunk = list(items[start : start + size])
    more = start + size < len(items)
    return chunk, ({"cursor": encode_cursor(start + size)} if more else {})
