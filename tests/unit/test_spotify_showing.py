"""Which of an album's covers the media page shows for a Spotify song, and its title there."""

from __future__ import annotations

from typing import Any

import pytest

from waddlebot.features.music.queue import Requester, Song
from waddlebot.features.music.spotify.showing import cover_of, title_of


def item(*images: dict[str, Any]) -> dict[str, Any]:
    return {"album": {"images": list(images)}}


def image(width: int | None, url: str = "") -> dict[str, Any]:
    return {"url": url or f"https://i.scdn.co/image/{width}", "width": width, "height": width}


@pytest.mark.parametrize(
    ("images", "shown"),
    [
        ((image(640), image(300), image(64)), "https://i.scdn.co/image/300"),
        ((image(64), image(640)), "https://i.scdn.co/image/640"),  # the smallest wide enough
        ((image(64), image(120)), "https://i.scdn.co/image/120"),  # else the largest
        ((image(None),), "https://i.scdn.co/image/None"),  # sizes unknown (local files)
        ((image(300, "http://i.scdn.co/plain"),), ""),  # never a plain-HTTP picture
        ((), ""),
    ],
)
def test_the_cover_is_the_smallest_at_least_300_wide(
    images: tuple[dict[str, Any], ...], shown: str
) -> None:
    assert cover_of(item(*images)) == shown


def test_a_track_without_an_album_has_no_cover() -> None:
    assert cover_of({}) == "" and cover_of({"album": None}) == ""


def song(title: str, channel: str) -> Song:
    return Song(
        id=1,
        source="spotify",
        track_id="1penguinPENGUINpenguin",
        title=title,
        channel=channel,
        duration=201,
        requester=Requester("console", "1", "alice"),
        playing=True,
    )


def test_the_title_is_shown_without_the_artists_it_leads_with() -> None:
    assert title_of(song("The Flippers - Penguin Parade", "The Flippers")) == "Penguin Parade"
    assert title_of(song("Penguin Parade", "The Flippers")) == "Penguin Parade"
    assert title_of(song("Solo - Live", "")) == "Solo - Live"
