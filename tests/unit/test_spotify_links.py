"""Which texts are Spotify track links, and what a Web API track object becomes."""

from __future__ import annotations

import orjson
import pytest

from tests.fakes.spotify import SpotifyTrack
from waddlebot.features.music.spotify.source import track_id, track_of

ID = "4cOdK2wGLETKBW3PvgPWqT"


@pytest.mark.parametrize(
    "text",
    [
        f"https://open.spotify.com/track/{ID}",
        f"https://open.spotify.com/track/{ID}?si=abc123",
        f"open.spotify.com/intl-de/track/{ID}",
        f"spotify:track:{ID}",
        f"  https://open.spotify.com/track/{ID}/  ",
    ],
)
def test_track_links_are_read(text: str) -> None:
    assert track_id(text) == ID


@pytest.mark.parametrize(
    "text",
    [
        f"https://open.spotify.com/album/{ID}",
        f"https://open.spotify.com/track/{ID}x",
        f"https://evil.example/track/{ID}",
        f"spotify:album:{ID}",
        "never gonna give you up",
        "https://[broken",
    ],
)
def test_anything_else_is_not_a_track(text: str) -> None:
    assert track_id(text) is None


def test_a_track_object_becomes_a_track() -> None:
    item = SpotifyTrack(ID, "Penguin Parade", ["A", "B"], 201_400, explicit=True).resource()
    item = orjson.loads(orjson.dumps(item))  # as it comes over the wire
    track = track_of(item, refuse_explicit=False)
    assert (track.title, track.channel, track.duration) == ("A, B - Penguin Parade", "A, B", 201)
    assert not track.age_restricted and track.plays_in("US") and not track.plays_in("JP")
    assert track_of(item, refuse_explicit=True).age_restricted
    assert not track_of({**item, "is_playable": False}, refuse_explicit=False).plays_in("US")
