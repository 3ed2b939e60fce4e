"""What chat is told when Spotify cannot do something: one line each, for the streamer."""

from __future__ import annotations

import httpx2

from waddlebot.features.music.spotify.accounts import NotConnected
from waddlebot.features.music.spotify.client import SpotifyBusy, SpotifyError

PREMIUM = (
    "Spotify lets only Premium accounts be controlled: the streamer's Spotify needs Premium "
    "for song requests to play."
)
NO_DEVICE = (
    "Spotify has no active device: the streamer should start playing something in Spotify, "
    "then try again."
)
DOWN = "Spotify isn't answering right now; try again in a minute."
FAILURES = (SpotifyError, NotConnected, httpx2.HTTPError)


def line_of(failure: Exception) -> str:
    if isinstance(failure, NotConnected):
        return str(failure)
    if isinstance(failure, SpotifyBusy):
        return f"Spotify asks the bot to slow down; try again in {failure.retry_after}s."
    if isinstance(failure, SpotifyError) and failure.status == 403:
        return PREMIUM
    if isinstance(failure, SpotifyError) and failure.status == 404:
        return NO_DEVICE
    return DOWN
