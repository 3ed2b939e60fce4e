"""Reading what a viewer gives ``!sr``: YouTube links of every shape to their video id (and
anything else to None, so it is searched for), and YouTube's ISO 8601 durations."""

from __future__ import annotations

import pytest

from waddlebot.features.music.youtube import seconds_of, video_id

ID = "dQw4w9WgXcQ"


@pytest.mark.parametrize(
    "link",
    [
        f"https://youtu.be/{ID}",
        f"youtu.be/{ID}?si=abc",
        f"https://www.youtube.com/watch?v={ID}",
        f"https://www.youtube.com/watch?list=PL1&v={ID}&t=42s",
        f"http://m.youtube.com/watch?v={ID}",
        f"https://music.youtube.com/watch?v={ID}&feature=share",
        f"https://youtube.com/shorts/{ID}",
        f"https://www.youtube.com/embed/{ID}",
        f"https://www.youtube.com/live/{ID}?feature=share",
    ],
)
def test_links_name_their_video(link: str) -> None:
    assert video_id(link) == ID


@pytest.mark.parametrize(
    "text",
    [
        "never gonna give you up",
        ID,  # a bare id is searched for, like any word
        f"https://vimeo.com/{ID}",
        "https://www.youtube.com/watch?v=short",
        "https://www.youtube.com/channel/UCxyz",
        f"https://notyoutube.com/watch?v={ID}",
        "https://[broken",
    ],
)
def test_anything_else_is_no_link(text: str) -> None:
    assert video_id(text) is None


@pytest.mark.parametrize(
    ("duration", "seconds"),
    [("PT4M13S", 253), ("PT45S", 45), ("PT1H2M3S", 3723), ("PT2H", 7200), ("P1DT1S", 86401)],
)
def test_durations(duration: str, seconds: int) -> None:
    assert seconds_of(duration) == seconds


@pytest.mark.parametrize("duration", ["P0D", "", "4:13", "PT"])
def test_no_duration_is_none(duration: str) -> None:
    assert seconds_of(duration) is None
