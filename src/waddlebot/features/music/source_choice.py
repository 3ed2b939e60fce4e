"""Which source a request goes to: the one whose link it is (a YouTube or a Spotify link),
else, for search words, the one the community's ``search_source`` names. Sources bound to a
community (Spotify: each streamer's own app and account) are built per request."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from waddlebot.features.music.sources import Source

YOUTUBE = "youtube"


class CommunitySource(Protocol):
    name: str
    label: str  # how chat names it: "Spotify"
    missing: str  # the line for a link to nothing: "That Spotify track doesn't exist."

    def link_id(self, text: str) -> str | None: ...

    def link(self, track_id: str) -> str: ...

    def for_community(self, community_id: int, config: Mapping[str, Any]) -> Source: ...


@dataclass(frozen=True, slots=True)
class Picked:
    source: Source
    linked: str | None  # the item a link named; None for search words
    label: str
    missing: str

    def nothing_for(self, words: str) -> str:
        return f'I found nothing on {self.label} for "{words}".'


class SourceChoice:
    def __init__(self, youtube: Source, others: Sequence[CommunitySource] = ()) -> None:
        self._youtube = youtube
        self._others = {other.name: other for other in others}

    @property
    def names(self) -> list[str]:
        return [YOUTUBE, *self._others]

    def pick(self, community_id: int, text: str, config: Mapping[str, Any]) -> Picked:
        linked = self._youtube.link_id(text)
        if linked is not None:
            return self._youtube_picked(linked)
        for other in self._others.values():
            if (linked := other.link_id(text)) is not None:
                return Picked(
                    other.for_community(community_id, config), linked, other.label, other.missing
                )
        chosen = self._others.get(str(config.get("search_source", YOUTUBE)))
        if chosen is None:
            return self._youtube_picked(None)
        source = chosen.for_community(community_id, config)
        return Picked(source, None, chosen.label, chosen.missing)

    def link(self, source: str, track_id: str) -> str:
        other = self._others.get(source)
        return other.link(track_id) if other is not None else self._youtube.link(track_id)

    def _youtube_picked(self, linked: str | None) -> Picked:
        return Picked(
            self._youtube, linked, "YouTube", "That YouTube video doesn't exist or is private."
        )
