"""What plays: the media overlay's ``now_playing`` for a song, and the hand-over from one
song to the next, each through its source's :class:`~.playback.Playback` (so a queue mixing
sources stops one player and starts the other). Songs end from chat (``!skip``) or from the
player itself: the media page's reports of progress, end and errors come here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog

from waddlebot.core.overlay import PlayerReport
from waddlebot.features.music.playback import Playback, PlaybackError
from waddlebot.features.music.progress import Progress
from waddlebot.features.music.queue import Song, SongQueue
from waddlebot.infra.audit import AuditLog

log = structlog.get_logger("waddlebot.features.music")

# the IFrame player's error codes (onError): what to tell the moderators
PLAYER_ERRORS = {
    2: "the video id was refused",
    5: "the browser cannot play it",
    100: "the video is gone or private",
    101: "its owner does not allow it to be embedded",
    150: "its owner does not allow it to be embedded",
}
PLAYER_ACTOR = "overlay:player"


def now_playing(
    song: Song,
    *,
    position: float = 0,
    paused: bool = False,
    volume: int | None = None,
    cover: str = "",
) -> dict[str, Any]:
    """The media page's update for ``song``: what to play (``source``, ``media_id``, and
    ``song``, the id its player reports with), what to show, and how (where, paused, how
    loud)."""
    update: dict[str, Any] = {
        "type": "now_playing",
        "title": song.title,
        "requested_by": song.requester.name[:64],
        "source": song.source,
        "media_id": song.track_id,
        "song": song.id,
    }
    if song.channel:
        update["artist"] = song.channel
    if cover:
        update["cover"] = cover
    if song.duration:
        update["duration"] = song.duration
    if position:
        update["position"] = round(position, 1)
    if paused:
        update["paused"] = True
    if volume is not None:
        update["volume"] = volume
    return update


CLEAR: dict[str, Any] = {"clear": True}


class Player:
    def __init__(
        self,
        queue: SongQueue,
        playbacks: Mapping[str, Playback],
        progress: Progress,
        audit: AuditLog | None = None,
    ) -> None:
        self._queue = queue
        self.playbacks = playbacks
        self.progress = progress
        self._audit = audit

    def playback(self, song: Song) -> Playback:
        found = self.playbacks.get(song.source)
        if found is None:
            raise PlaybackError(f"This bot has no player for {song.source} songs.")
        return found

    async def start(self, community_id: int, song: Song) -> None:
        """``song`` now plays (it was first in an empty queue)."""
        await self.progress.forget(community_id)
        await self.playback(song).start(community_id, song)

    async def switch(self, community_id: int, before: Song | None, after: Song | None) -> None:
        """``before`` stopped playing (skipped, ended, cleared) and ``after`` plays now."""
        await self.progress.forget(community_id)
        if before is not None and (after is None or after.source != before.source):
            await self.playback(before).stop(community_id)
        if after is not None:
            await self.playback(after).start(community_id, after)

    async def ended(self, community_id: int, song_id: int) -> Song | None:
        """Song ``song_id`` finished: the next one starts. A report for a song no longer
        playing (told twice, or skipped meanwhile) changes nothing. The song playing
        afterwards."""
        playing = await self._queue.playing(community_id)
        if playing is None or playing.id != song_id:
            return playing
        following = await self._queue.advance(community_id, ended=song_id)
        try:
            await self.switch(community_id, playing, following)
        except PlaybackError as refused:
            log.warning("next song not started", community_id=community_id, reason=str(refused))
        return following

    async def report(self, community_id: int, report: PlayerReport) -> None:
        """The media page's player on the song it plays; about any other song it is not
        listened to (a page behind, or one left open from before)."""
        playing = await self._queue.playing(community_id)
        if playing is None or playing.id != report.song:
            return
        if report.state == "progress":
            await self.progress.keep(
                community_id,
                playing.id,
                report.position,
                report.duration or float(playing.duration or 0),
                paused=report.paused,
            )
            return
        if report.state == "error":
            reason = PLAYER_ERRORS.get(report.error, f"the player failed (error {report.error})")
            log.info("song unplayable, skipped", community_id=community_id, reason=reason)
            if self._audit is not None:
                self._audit.change(
                    "music.skip",
                    PLAYER_ACTOR,
                    f"song:{playing.id}",
                    community_id,
                    {"title": playing.title, "reason": reason},
                )
        await self.ended(community_id, playing.id)
