"""The community feature's tool (core/tools.py): what the community is called, where it
chats, and which of its streams are live."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from waddlebot.core.tools import Caller, Tool
from waddlebot.features.feature import Provider
from waddlebot.features.shared import COMMUNITY, STREAMS

MAX_PLACES = 20  # places one answer lists at most


async def community_info(host: Provider, caller: Caller, arguments: Mapping[str, Any]) -> Any:
    community = host.need(COMMUNITY)
    info = await community.info(caller.community_id)
    zone = await community.timezone(caller.community_id)
    places = []
    for entity_id in info.entities[:MAX_PLACES]:
        live = await host.need(STREAMS).of(entity_id)
        place: dict[str, Any] = {
            "id": entity_id,
            "platform": entity_id.partition(":")[0],
            "live": live.since is not None,
        }
        if live.since is not None:
            place["live_since"] = live.since.isoformat()
        if live.game:
            place["game"] = live.game
        places.append(place)
    return {
        "name": info.name,
        "command_prefix": info.prefix,
        "timezone": zone.key,
        "owners": info.owners[:MAX_PLACES],
        "places": places,
    }


TOOLS = (
    Tool(
        "community_info",
        "The community: its name, command prefix, time zone, owners, and its places on each "
        "platform with whether each is live now (and the game, when the platform says).",
        {"type": "object", "properties": {}, "additionalProperties": False},
        community_info,
    ),
)
