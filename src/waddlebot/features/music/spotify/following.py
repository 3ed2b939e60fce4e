"""Now playing on Spotify, followed, and the queue's Playback of Spotify songs. A job reads
each connected community's ``currently-playing`` while a Spotify song plays in its queue,
starts that song on Spotify when nobody has yet, puts a Spotify song coming next on Spotify's
own queue (so it follows without a gap), and moves the queue on once Spotify plays something
else, so ``!song`` and the overlay are right: the media page shows the song playing
(:mod:`.showing`) and ``!song`` says how far it is. Once the queue has moved on to a YouTube
song or ended (played out, skipped, cleared), the streamer's Spotify is paused and the page
cleared."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog

from waddlebot.features.music.playback import PlaybackError
from waddlebot.features.music.player import Player
from waddlebot.features.music.queue import Song, SongQueue
from waddlebot.features.music.spotify.accounts import SpotifyStore
from waddlebot.features.music.spotify.playback import SpotifyPlayback
from waddlebot.features.music.spotify.showing import SpotifyShow
from waddlebot.features.music.spotify.source import NAME
from waddlebot.infra.ports import Cache

log = structlog.get_logger("waddlebot.music.spotify")

MARK_SECONDS = 86_400.0  # far longer than a song; only to be collected


def track_on(now: Mapping[str, Any] | None) -> str:
    """The track ``currently-playing`` names ("" when none)."""
    return str(((now or {}).get("item") or {}).get("id") or "")


class SpotifyFollower:
    def __init__(
        self,
        queue: SongQueue,
        player: Player,
        playback: SpotifyPlayback,
        store: SpotifyStore,
        cache: Cache,
        show: SpotifyShow,
    ) -> None:
        self._queue = queue
        self._player = player
        self._playback = playback
        self._store = store
        self._cache = cache
        self._show = show

    # as the queue's Playback of Spotify songs (the Player hands songs over through it)
    source = NAME

    async def start(self, community_id: int, song: Song) -> None:
        """The queue moved on to ``song``: started on Spotify now rather than at the next tick
        (a :class:`PlaybackError` says why Spotify refused; the next tick tries again)."""
        if await self._mark("started", community_id, song):
            await self._unmarked_if_failed("started", community_id, song)

    async def stop(self, community_id: int) -> None:
        await self._let_go(community_id)
        await self._show.clear(community_id)

    async def pause(self, community_id: int) -> None:
        await self._playback.pause(community_id)
        await self._shown_again(community_id)

    async def resume(self, community_id: int) -> None:
        await self._playback.resume(community_id)
        await self._shown_again(community_id)

    async def set_volume(self, community_id: int, percent: int) -> None:
        await self._playback.set_volume(community_id, percent)

    async def tick(self) -> None:
        """Follow every community with a connected Spotify (each streamer's own app: few)."""
        for community_id in sorted(await self._store.connected()):
            try:
                await self.follow(community_id)
            except PlaybackError as exc:  # said to chat when a command meets it
                log.info("spotify not followed", community_id=community_id, reason=str(exc))

    async def follow(self, community_id: int) -> Song | None:
        """One look at Spotify for the community; the song playing in the queue after it."""
        playing = await self._queue.playing(community_id)
        if playing is None or playing.source != NAME:
            await self._let_go(community_id)
            return playing
        if await self._mark("started", community_id, playing):
            await self._unmarked_if_failed("started", community_id, playing)
            return playing
        now = await self._playback.playing_now(community_id)
        on = track_on(now)
        if not on:
            return playing  # Spotify stopped or closed: the song may still come back
        if on == playing.track_id:
            await self._show.show(community_id, playing, now)
            await self._queue_following(community_id, playing)
            return playing
        following = await self._player.ended(community_id, playing.id)
        if following is None or following.source != NAME:
            await self._let_go(community_id)
            return following
        if await self._mark("started", community_id, following):
            if on == following.track_id:  # it came from Spotify's queue
                await self._cache.set(self._ours(community_id), b"1", MARK_SECONDS)
            else:
                await self._unmarked_if_failed("started", community_id, following)
        return following

    async def _let_go(self, community_id: int) -> None:
        """No Spotify song plays in the queue: if one of ours was playing on Spotify, pause
        it (Spotify would play on, over the YouTube song or after the queue ended)."""
        ours = self._ours(community_id)
        if await self._cache.get(ours) is None:
            return
        await self._cache.delete(ours)
        await self._playback.stop(community_id)

    @staticmethod
    def _ours(community_id: int) -> str:
        return f"music:spotify:ours:{community_id}"

    async def _queue_following(self, community_id: int, playing: Song) -> None:
        waiting = [song for song in await self._queue.songs(community_id) if not song.playing]
        following = waiting[0] if waiting else None
        if following is None or following.source != NAME:
            return
        if await self._mark("queued", community_id, following):
            await self._unmarked_if_failed("queued", community_id, following)

    async def _unmarked_if_failed(self, what: str, community_id: int, song: Song) -> None:
        """Start or queue ``song`` on Spotify; when Spotify refused, the next tick tries again."""
        try:
            if what == "started":
                await self._playback.start(community_id, song)
                await self._cache.set(self._ours(community_id), b"1", MARK_SECONDS)
                await self._shown(community_id, song)
            else:
                await self._playback.enqueue(community_id, song.track_id)
        except PlaybackError:
            await self._cache.delete(self._key(what, community_id, song))
            raise

    async def _shown(self, community_id: int, song: Song) -> None:
        """The media page told of ``song`` just started, as far as Spotify says it is."""
        try:
            now = await self._playback.playing_now(community_id)
        except PlaybackError:  # it plays: shown from the start, the next tick says more
            now = None
        await self._show.show(community_id, song, now)

    async def _shown_again(self, community_id: int) -> None:
        """After a moderator paused or resumed: the page says so now rather than at the next
        tick (when Spotify says so already)."""
        playing = await self._queue.playing(community_id)
        if playing is None or playing.source != NAME:
            return
        try:
            now = await self._playback.playing_now(community_id)
        except PlaybackError:
            return  # the next tick says it
        if track_on(now) == playing.track_id:
            await self._show.show(community_id, playing, now)

    def _key(self, what: str, community_id: int, song: Song) -> str:
        return f"music:spotify:{what}:{community_id}:{song.id}"

    async def _mark(self, what: str, community_id: int, song: Song) -> bool:
        """True the first time ``what`` is done for ``song``."""
        return await self._cache.add(self._key(what, community_id, song), b"1", MARK_SECONDS)
