"""YouTube songs play in the community's media overlay page, in YouTube's IFrame player:
playing, pausing, resuming and the volume are ``now_playing`` updates of that page (the kept
state, so a page opened later plays the same song at the same place, paused or not, as
loud), and stopping clears it. The page reports back what it plays (player.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from waddlebot.features.music.media_page import MediaPage
from waddlebot.features.music.playback import DEFAULT_VOLUME
from waddlebot.features.music.player import CLEAR, now_playing
from waddlebot.features.music.progress import Progress
from waddlebot.features.music.queue import Song, SongQueue
from waddlebot.router.overlays import OverlayPublisher


def thumbnail(video_id: str) -> str:
    """The video's 320x180 picture, at the address YouTube serves every video's."""
    return f"https://i.ytimg.com/vi/{video_id}/mqdefault.jpg"


class YouTubePlayback:
    """The :class:`~waddlebot.features.music.playback.Playback` of YouTube songs."""

    source = "youtube"

    def __init__(
        self,
        queue: SongQueue,
        progress: Progress,
        overlays: OverlayPublisher | None,
        volume: Callable[[int], Awaitable[int | None]] | None = None,
    ) -> None:
        self._queue = queue
        self._progress = progress
        self._page = MediaPage(overlays)
        self._volume = volume or queue.volume

    async def start(self, community_id: int, song: Song) -> None:
        await self._show(community_id, song, position=0, paused=False)

    async def pause(self, community_id: int) -> None:
        await self._steer(community_id, paused=True)

    async def resume(self, community_id: int) -> None:
        await self._steer(community_id, paused=False)

    async def set_volume(self, community_id: int, percent: int) -> None:
        await self._steer(community_id, paused=None)

    async def stop(self, community_id: int) -> None:
        await self._page.show(community_id, CLEAR)

    async def _steer(self, community_id: int, *, paused: bool | None) -> None:
        """Show the song playing again where it is now: ``paused`` (None: as it was)."""
        song = await self._queue.playing(community_id)
        if song is None or song.source != self.source:
            return
        kept = await self._progress.of(community_id, song.id)
        clock = self._progress.clock()
        position = kept.now(clock) if kept is not None else 0.0
        was_paused = kept.paused if kept is not None else False
        now_paused = was_paused if paused is None else paused
        if kept is not None or paused is not None:
            await self._progress.keep(
                community_id,
                song.id,
                position,
                kept.duration if kept is not None else float(song.duration or 0),
                paused=now_paused,
            )
        await self._show(community_id, song, position=position, paused=now_paused)

    async def _show(self, community_id: int, song: Song, *, position: float, paused: bool) -> None:
        volume = await self._volume(community_id)
        await self._page.show(
            community_id,
            now_playing(
                song,
                position=position,
                paused=paused,
                volume=DEFAULT_VOLUME if volume is None else volume,
                cover=thumbnail(song.track_id),
            ),
        )
