"""Spotify songs play on the streamer's own Spotify (whatever device it plays on), steered
through the Web API's player endpoints. Spotify allows that only for Premium accounts (403)
with a device playing (404): both become a :class:`PlaybackError` saying so."""

from __future__ import annotations

from typing import Any

from waddlebot.features.music.playback import PlaybackError
from waddlebot.features.music.queue import Song
from waddlebot.features.music.spotify.client import SpotifyApi
from waddlebot.features.music.spotify.errors import FAILURES, line_of
from waddlebot.features.music.spotify.source import NAME


def uri_of(track_id: str) -> str:
    return f"spotify:track:{track_id}"


class SpotifyPlayback:
    """The :class:`~waddlebot.features.music.playback.Playback` of Spotify songs."""

    source = NAME

    def __init__(self, api: SpotifyApi) -> None:
        self._api = api

    async def playing_now(self, community_id: int) -> dict[str, Any] | None:
        """Spotify's ``currently-playing`` (None when nothing is)."""
        body = await self._call(community_id, "GET", "me/player/currently-playing")
        return body if isinstance(body, dict) else None

    async def start(self, community_id: int, song: Song) -> None:
        """Play ``song`` now, unless Spotify plays it already (it moved on to it from its
        queue, or was told before)."""
        current = await self.playing_now(community_id)
        item = (current or {}).get("item") or {}
        if item.get("id") == song.track_id and (current or {}).get("is_playing"):
            return
        await self._call(
            community_id, "PUT", "me/player/play", json={"uris": [uri_of(song.track_id)]}
        )

    async def enqueue(self, community_id: int, track_id: str) -> None:
        """Put a track on Spotify's own queue, to follow what plays without a gap."""
        await self._call(community_id, "POST", "me/player/queue", uri=uri_of(track_id))

    async def skip(self, community_id: int) -> None:
        await self._call(community_id, "POST", "me/player/next")

    async def pause(self, community_id: int) -> None:
        await self._call(community_id, "PUT", "me/player/pause")

    async def resume(self, community_id: int) -> None:
        await self._call(community_id, "PUT", "me/player/play")

    async def set_volume(self, community_id: int, percent: int) -> None:
        percent = max(0, min(100, percent))
        await self._call(community_id, "PUT", "me/player/volume", volume_percent=str(percent))

    async def stop(self, community_id: int) -> None:
        """No Spotify song plays in the queue any more: Spotify pauses (its own music
        would otherwise carry on under the next YouTube song)."""
        await self.pause(community_id)

    async def _call(
        self, community_id: int, method: str, path: str, *, json: Any = None, **params: str
    ) -> Any:
        try:
            return await self._api.call(community_id, method, path, params=params, json=json)
        except FAILURES as exc:
            raise PlaybackError(line_of(exc)) from exc
