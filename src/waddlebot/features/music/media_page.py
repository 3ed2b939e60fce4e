"""The community's media overlay page as the music feature tells it what to show: a song's
``now_playing`` (:func:`~waddlebot.features.music.player.now_playing`), or nothing. Without
the overlay feature there is no page and nothing is told."""

from __future__ import annotations

from typing import Any

from waddlebot.core.events import new_id
from waddlebot.router.overlays import OverlayPublisher

KIND = "media"


class MediaPage:
    def __init__(self, overlays: OverlayPublisher | None) -> None:
        self._overlays = overlays

    async def show(self, community_id: int, payload: dict[str, Any]) -> None:
        if self._overlays is not None:
            update = self._overlays.prepare(new_id(), KIND, payload)
            await self._overlays.publish(community_id, [update])
