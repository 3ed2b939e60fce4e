"""Spotify songs on the media overlay page. They play on the streamer's own Spotify, so the
page only shows them (title, artists, the album's cover, who asked, how far it is) and never
plays them. The follower hands over what ``currently-playing`` says of the song on each tick:
where it is is kept as the progress ``!song`` reads, and the page is told again only when it
would show something else than its own clock does (first shown, paused or playing again, or
further off than ``DRIFT_SECONDS``): between updates it moves its progress bar itself."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from waddlebot.features.music.media_page import MediaPage
from waddlebot.features.music.player import CLEAR, now_playing
from waddlebot.features.music.progress import Progress
from waddlebot.features.music.queue import Song

COVER_WIDTH = 300  # Spotify lists 640, 300 and 64 pixel covers: the page shows a small one
DRIFT_SECONDS = 2.0  # a seek, or Spotify's clock against ours


def cover_of(item: Mapping[str, Any]) -> str:
    """The smallest of the album's images at least ``COVER_WIDTH`` wide (else the largest)."""
    images = [
        image
        for image in (item.get("album") or {}).get("images") or []
        if isinstance(image, dict) and str(image.get("url", "")).startswith("https://")
    ]
    if not images:
        return ""
    by_width = sorted(images, key=lambda image: int(image.get("width") or 0))
    wide = [image for image in by_width if int(image.get("width") or 0) >= COVER_WIDTH]
    return str((wide[0] if wide else by_width[-1])["url"])


def title_of(song: Song) -> str:
    """The track's own name: a Spotify song's title leads with its artists, shown apart."""
    if song.channel and song.title.startswith(f"{song.channel} - "):
        return song.title[len(song.channel) + 3 :]
    return song.title


class SpotifyShow:
    def __init__(self, progress: Progress, page: MediaPage) -> None:
        self._progress = progress
        self._page = page

    async def show(self, community_id: int, song: Song, now: Mapping[str, Any] | None) -> None:
        """``song`` plays in the queue; ``now`` is Spotify's ``currently-playing`` (None, or
        another track: Spotify has not caught up yet, shown from the start without a cover)."""
        item = (now or {}).get("item") or {}
        if now is None or item.get("id") != song.track_id:
            await self._page.show(community_id, self._update(song, 0.0, paused=False))
            return
        position = max(0, int(now.get("progress_ms") or 0)) / 1000
        paused = not now.get("is_playing")
        duration = int(item.get("duration_ms") or 0) / 1000 or float(song.duration or 0)
        before = await self._progress.of(community_id, song.id)
        kept = await self._progress.keep(community_id, song.id, position, duration, paused=paused)
        if (
            before is not None
            and before.paused == paused
            and abs(before.now(kept.at) - position) <= DRIFT_SECONDS
        ):
            return  # the page shows this already
        await self._page.show(
            community_id, self._update(song, position, paused=paused, cover=cover_of(item))
        )

    async def clear(self, community_id: int) -> None:
        await self._page.show(community_id, CLEAR)

    @staticmethod
    def _update(song: Song, position: float, *, paused: bool, cover: str = "") -> dict[str, Any]:
        return {
            **now_playing(song, position=position, paused=paused, cover=cover),
            "title": title_of(song),
        }
