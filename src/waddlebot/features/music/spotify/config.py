"""The ``music`` module's settings about Spotify (``!module config music KEY VALUE``), part
of its CONFIG_SCHEMA."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

SPOTIFY_PROPERTIES: dict[str, Any] = {
    "search_source": {
        "type": "string",
        "enum": ["youtube", "spotify"],
        "default": "youtube",
        "description": "where !sr search words look: youtube, or spotify (the streamer's "
        "connected Spotify); links go to their own source either way",
    },
    "spotify_explicit": {
        "type": "boolean",
        "default": True,
        "description": "whether Spotify songs marked explicit may be requested",
    },
}


def refuses_explicit(config: Mapping[str, Any]) -> bool:
    return not bool(config.get("spotify_explicit", True))
