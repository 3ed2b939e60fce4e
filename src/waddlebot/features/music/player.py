"""What plays: the media overlay's ``now_playing`` for a song, and the way a song ends from
outside chat (the overlay page's player, when it reports the end of a video)."""

from __future__ import annotations

from typing import Any

from waddlebot.core.events import new_id
from waddlebot.features.music.queue import Song, SongQueue
from waddlebot.router.overlays import OverlayPublisher


def now_playing(song: Song) -> dict[str, Any]:
    """The media page's update for ``song``: what to play (``source``, ``media_id``), its
    title and who asked."""
    update: dict[str, Any] = {
        "type": "now_playing",
        "title": song.title,
        "requested_by": song.requester.name[:64],
        "source": song.source,
        "media_id": song.track_id,
    }
    if song.duration:
        update["duration"] = song.duration
    return update


CLEAR: dict[str, Any] = {"clear": True}


class Player:
    def __init__(self, queue: SongQueue, overlays: OverlayPublisher | None) -> None:
        self._queue = queue
        self._overlays = overlays

    async def ended(self, community_id: int, song_id: int) -> Song | None:
        """Song ``song_id`` finished: the next one starts and the media page is told. A
        report for a song no longer playing (told twice, or skipped meanwhile) changes
        nothing. The song playing afterwards."""
        playing = await self._queue.playing(community_id)
        if playing is None or playing.id != song_id:
            return playing
        following = await self._queue.advance(community_id, ended=song_id)
        if self._overlays is not None:
            payload = now_playing(following) if following is not None else CLEAR
            update = self._overlays.prepare(new_id(), "media", payload)
            await self._overlays.publish(community_id, [update])
        return following
