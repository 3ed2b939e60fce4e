"""Where songs come from: a :class:`Source` turns what a viewer typed (a link, or search
words) into :class:`Track` candidates, best first. The queue and its limits know only
tracks, so another source (Spotify) is one more implementation of the protocol."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from waddlebot.core.errors import WaddleError


@dataclass(frozen=True, slots=True)
class Track:
    """One playable item as its source describes it. ``duration`` is in seconds (None for a
    live stream); ``allowed_regions`` None means everywhere but ``blocked_regions``."""

    source: str
    id: str
    title: str
    channel: str = ""
    duration: int | None = None
    live: bool = False
    age_restricted: bool = False
    embeddable: bool = True
    allowed_regions: frozenset[str] | None = None
    blocked_regions: frozenset[str] = frozenset()

    def plays_in(self, region: str) -> bool:
        region = region.upper()
        if region in self.blocked_regions:
            return False
        return self.allowed_regions is None or region in self.allowed_regions


class SourceError(WaddleError):
    """The source cannot answer now; the message says why, in one line for chat."""


class QuotaSpent(SourceError):
    """The source's allowance for the day is used up."""


class Source(Protocol):
    name: str

    def link_id(self, text: str) -> str | None:
        """The item a link of this source names, None when ``text`` is no such link."""

    def link(self, track_id: str) -> str:
        """Where a person opens the item."""

    async def tracks(self, ids: Sequence[str]) -> list[Track]:
        """The items with these ids that exist, in the order asked."""

    async def search(self, words: str) -> list[str]:
        """Ids of the items best matching ``words``, best first."""
