"""The inventory feature's tools (core/tools.py): what the community lends out, what is
available, and who has what (as ``!inventory`` lists them)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from waddlebot.core.tools import Caller, Tool
from waddlebot.features.feature import Provider
from waddlebot.features.inventory.service import ItemInfo
from waddlebot.features.shared import INVENTORY

MAX_SHOWN = 25  # items one answer lists at most


def item_json(item: ItemInfo) -> dict[str, Any]:
    shown: dict[str, Any] = {"name": item.name, "available": not item.out}
    if item.description:
        shown["description"] = item.description
    if item.labels:
        shown["labels"] = list(item.labels)
    if item.checked_out_at is not None:
        shown["holder"] = item.holder_name
        shown["out_since"] = item.checked_out_at.isoformat()
    return shown


def _listed(items: list[ItemInfo], limit: int) -> dict[str, Any]:
    return {"total": len(items), "items": [item_json(item) for item in items[:limit]]}


async def _search(host: Provider, caller: Caller, arguments: Mapping[str, Any]) -> Any:
    words = str(arguments["text"]).split()
    found = await host.need(INVENTORY).search(caller.community_id, words)
    return _listed(found, int(arguments.get("limit", 10)))


async def _list(host: Provider, caller: Caller, arguments: Mapping[str, Any]) -> Any:
    state = arguments.get("state", "all")
    found = await host.need(INVENTORY).list(caller.community_id, state)
    return _listed(found, int(arguments.get("limit", 10)))


LIMIT = {"type": "integer", "minimum": 1, "maximum": MAX_SHOWN, "default": 10}

TOOLS = (
    Tool(
        "inventory_search",
        "Find the community's items by words in their name, description or labels (#label: "
        "labels only); each says whether it is available or who has it.",
        {
            "type": "object",
            "properties": {
                "text": {"type": "string", "minLength": 1, "maxLength": 200},
                "limit": LIMIT,
            },
            "required": ["text"],
            "additionalProperties": False,
        },
        _search,
    ),
    Tool(
        "inventory_list",
        "The community's items by name: all, the available ones, or the ones out.",
        {
            "type": "object",
            "properties": {
                "state": {"enum": ["all", "available", "out"], "default": "all"},
                "limit": LIMIT,
            },
            "additionalProperties": False,
        },
        _list,
    ),
)
