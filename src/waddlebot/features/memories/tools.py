"""The memories feature's tools (core/tools.py): find, pick and add quotes, by the rules of
``!quote`` (adding needs a VIP and up, as in chat)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from waddlebot.core.tools import Caller, Tool
from waddlebot.features.feature import Provider
from waddlebot.features.memories.common import ADD_LEVEL
from waddlebot.features.memories.quotes import MAX_NAME, MAX_TEXT
from waddlebot.features.memories.service import Author, QuoteInfo, Speaker
from waddlebot.features.shared import MEMORIES

MAX_FOUND = 10  # quotes one search returns at most


def quote_json(quote: QuoteInfo) -> dict[str, Any]:
    return {
        "number": quote.number,
        "text": quote.text,
        "said_by": quote.said_by,
        "game": quote.game,
        "added_at": quote.created_at.isoformat(),
    }


async def _search(host: Provider, caller: Caller, arguments: Mapping[str, Any]) -> Any:
    limit = int(arguments.get("limit", 5))
    found, total = await host.need(MEMORIES).quotes.search(
        caller.community_id, str(arguments["text"]), limit=limit
    )
    return {"total": total, "quotes": [quote_json(quote) for quote in found]}


async def _random(host: Provider, caller: Caller, arguments: Mapping[str, Any]) -> Any:
    found, count = await host.need(MEMORIES).quotes.random(caller.community_id)
    return {"count": count, "quote": None if found is None else quote_json(found)}


async def _latest(host: Provider, caller: Caller, arguments: Mapping[str, Any]) -> Any:
    limit = int(arguments.get("limit", 5))
    found = await host.need(MEMORIES).quotes.latest(caller.community_id, limit=limit)
    return {"quotes": [quote_json(quote) for quote in found]}


async def _add(host: Provider, caller: Caller, arguments: Mapping[str, Any]) -> Any:
    memories = host.need(MEMORIES)
    name = ""
    if caller.user_id is not None:
        name = await memories.user_name(caller.user_id)
    author = Author(
        name=name or caller.actor, user_id=caller.user_id, level=caller.level, actor=caller.actor
    )
    said_by = str(arguments.get("said_by", "")).strip()
    added = await memories.quotes.add(
        caller.community_id,
        str(arguments["text"]),
        author=author,
        said_by=Speaker(said_by) if said_by else None,
    )
    return quote_json(added)


TOOLS = (
    Tool(
        "quote_search",
        "Find the community's quotes containing some words (newest numbers last).",
        {
            "type": "object",
            "properties": {
                "text": {"type": "string", "minLength": 1, "maxLength": 200},
                "limit": {"type": "integer", "minimum": 1, "maximum": MAX_FOUND, "default": 5},
            },
            "required": ["text"],
            "additionalProperties": False,
        },
        _search,
    ),
    Tool(
        "quote_random",
        "A random quote of the community, and how many quotes it has.",
        {"type": "object", "properties": {}, "additionalProperties": False},
        _random,
    ),
    Tool(
        "quote_latest",
        "The community's newest quotes, newest first.",
        {
            "type": "object",
            "properties": {
                "limit": {"type": "integer", "minimum": 1, "maximum": MAX_FOUND, "default": 5},
            },
            "additionalProperties": False,
        },
        _latest,
    ),
    Tool(
        "quote_add",
        "Add a quote: what was said and, optionally, who said it. Needs a VIP and up.",
        {
            "type": "object",
            "properties": {
                "text": {"type": "string", "minLength": 1, "maxLength": MAX_TEXT},
                "said_by": {"type": "string", "maxLength": MAX_NAME},
            },
            "required": ["text"],
            "additionalProperties": False,
        },
        _add,
        writes=True,
        level=ADD_LEVEL,
    ),
)
