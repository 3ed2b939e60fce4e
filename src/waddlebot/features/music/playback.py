"""How moderators steer what plays, whatever the source: each source has a
:class:`Playback` (YouTube: the media overlay's player; Spotify: the streamer's own Spotify
player). The chat commands (``!pause``, ``!play``, ``!volume``, ``!skip``) reach the playback of
the song playing, so a queue mixing sources is steered the same way. The feature hands the
player one playback per source name (``{"youtube": YouTubePlayback(...)}``); a song is played
by the one its ``source`` names."""

from __future__ import annotations

from typing import Protocol

from waddlebot.core.errors import Conflict
from waddlebot.features.music.queue import Song

DEFAULT_VOLUME = 100  # what a player plays at until a moderator sets a volume


class PlaybackError(Conflict):
    """The player cannot do it now; the message says why in one line for chat (no device
    playing, an account without Premium, the player not connected). Over HTTP a 409."""


class Playback(Protocol):
    source: str  # the Source's name whose songs this plays

    async def start(self, community_id: int, song: Song) -> None:
        """``song`` (of this source) is now the one playing in the queue: play it."""

    async def pause(self, community_id: int) -> None: ...

    async def resume(self, community_id: int) -> None: ...

    async def set_volume(self, community_id: int, percent: int) -> None:
        """0 to 100."""

    async def stop(self, community_id: int) -> None:
        """Nothing of this source plays any more (skipped, the queue cleared)."""
