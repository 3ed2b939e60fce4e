"""Spotify as a song source for one community (each community searches with its own
streamer's app and account): links are read here, search words cost a ``/v1/search``, and
candidates are looked up by ``/v1/tracks`` for their length and where they play."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from waddlebot.features.music.sources import SourceError, Track
from waddlebot.features.music.spotify.client import SpotifyApi
from waddlebot.features.music.spotify.errors import FAILURES, line_of

NAME = "spotify"
SEARCH_RESULTS = 5
_TRACK_ID = re.compile(r"[A-Za-z0-9]{22}")
_URI = re.compile(r"spotify:track:([A-Za-z0-9]{22})")


def track_id(text: str) -> str | None:
    """The track a Spotify link names (``open.spotify.com/track/ID``, with a locale
    segment such as ``/intl-de/`` or a ``?si=`` share id; ``spotify:track:ID``)."""
    text = text.strip()
    if (uri := _URI.fullmatch(text)) is not None:
        return uri.group(1)
    if "://" not in text:
        text = f"https://{text}"
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    if (parts.hostname or "").lower() != "open.spotify.com":
        return None
    segments = [s for s in parts.path.split("/") if s]
    if segments and segments[0].startswith("intl-"):
        segments = segments[1:]
    if len(segments) == 2 and segments[0] == "track" and _TRACK_ID.fullmatch(segments[1]):
        return segments[1]
    return None


def track_link(track: str) -> str:
    return f"https://open.spotify.com/track/{track}"


def track_of(item: Mapping[str, Any], *, refuse_explicit: bool) -> Track:
    """A Web API track object as a track. Spotify answers ``is_playable`` when asked for a
    market and lists ``available_markets`` otherwise: either becomes the regions it plays in."""
    artists = ", ".join(str(a.get("name", "")) for a in item.get("artists", []) if a)
    name = str(item.get("name", "")) or str(item["id"])
    markets = item.get("available_markets")
    allowed = frozenset(str(m) for m in markets) if isinstance(markets, list) else None
    if item.get("is_playable") is False:
        allowed = frozenset()
    duration = item.get("duration_ms")
    return Track(
        source=NAME,
        id=str(item["id"]),
        title=(f"{artists} - {name}" if artists else name)[:200],
        channel=artists[:64],
        duration=round(duration / 1000) if isinstance(duration, int) else None,
        age_restricted=refuse_explicit and bool(item.get("explicit")),
        allowed_regions=allowed,
    )


class SpotifySource:
    """The :class:`~waddlebot.features.music.sources.Source` of one community."""

    name = NAME

    def __init__(self, api: SpotifyApi, community_id: int, *, refuse_explicit: bool) -> None:
        self._api = api
        self._community = community_id
        self._refuse_explicit = refuse_explicit

    def link_id(self, text: str) -> str | None:
        return track_id(text)

    def link(self, track: str) -> str:
        return track_link(track)

    async def search(self, words: str) -> list[str]:
        body = await self._get("search", q=words, type="track", limit=str(SEARCH_RESULTS))
        items = (body.get("tracks") or {}).get("items") or []
        return [str(item["id"]) for item in items if isinstance(item, dict) and item.get("id")]

    async def tracks(self, ids: Sequence[str]) -> list[Track]:
        if not ids:
            return []
        body = await self._get("tracks", ids=",".join(ids))
        found = {
            str(item["id"]): track_of(item, refuse_explicit=self._refuse_explicit)
            for item in body.get("tracks") or []
            if isinstance(item, dict) and item.get("id")
        }
        return [found[wanted] for wanted in ids if wanted in found]

    async def _get(self, path: str, **params: str) -> dict[str, Any]:
        try:
            body = await self._api.get(self._community, path, **params)
        except FAILURES as exc:
            if getattr(exc, "status", 0) in (400, 404):  # a malformed or unknown id
                return {}
            raise SourceError(line_of(exc)) from exc
        return body if isinstance(body, dict) else {}
