"""What a community allows in its queue (the ``music`` module's settings) and the one line
that says why a track is refused."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from waddlebot.core.permissions import Level
from waddlebot.features.music.queue import LISTED
from waddlebot.features.music.sources import Track

LEVELS = ("everyone", "follower", "subscriber", "vip", "moderator")


@dataclass(frozen=True, slots=True)
class Rules:
    max_seconds: int
    per_person: int
    max_queue: int
    min_level: int
    cooldown_seconds: int
    region: str
    skip_votes: int
    banned_words: re.Pattern[str] | None = None  # any of them, as a whole word, any case

    @classmethod
    def of(cls, config: Mapping[str, Any]) -> Rules:
        return cls(
            max_seconds=int(config["max_seconds"]),
            per_person=int(config["per_person"]),
            max_queue=int(config["max_queue"]) or LISTED,
            min_level=int(Level.parse(str(config["min_level"]))),
            cooldown_seconds=int(config["cooldown_seconds"]),
            region=str(config["region"]).upper(),
            skip_votes=int(config["skip_votes"]),
            banned_words=_any_word(config.get("banned_words") or ()),
        )


def _any_word(words: Sequence[str]) -> re.Pattern[str] | None:
    kept = [re.escape(word.strip()) for word in words if word.strip()]
    if not kept:
        return None
    return re.compile(rf"(?<!\w)(?:{'|'.join(kept)})(?!\w)", re.IGNORECASE)


def clock_time(seconds: int) -> str:
    """``4:13``, ``1:02:03``."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes}:{secs:02}"


def refusal(track: Track, rules: Rules) -> str | None:
    """Why ``track`` may not be queued here, or None when it may."""
    name = f'"{track.title}"'
    if track.live or track.duration is None:
        return f"{name} is a live stream; only videos can be requested."
    if track.age_restricted and track.source == "spotify":
        return f"{name} is marked explicit on Spotify, and explicit songs are off here."
    if track.age_restricted:
        return f"{name} is age-restricted on YouTube, so it can't play here."
    if not track.embeddable:
        return f"{name} can't be played outside YouTube: its owner turned embedding off."
    if rules.banned_words is not None and rules.banned_words.search(track.title):
        return f"{name} has a word in its title that is not allowed in song requests here."
    if rules.region and not track.plays_in(rules.region):
        return f"{name} isn't available in {rules.region}."
    if rules.max_seconds and track.duration > rules.max_seconds:
        return (
            f"{name} is {clock_time(track.duration)} long; songs here may be up to "
            f"{clock_time(rules.max_seconds)}."
        )
    return None


def first_allowed(
    tracks: Sequence[Track],
    rules: Rules,
    banned: Callable[[Track], str | None] = lambda track: None,
) -> tuple[Track | None, str | None]:
    """The first track allowed (and not ``banned``), else the first's refusal."""
    first: str | None = None
    for track in tracks:
        why = banned(track) or refusal(track, rules)
        if why is None:
            return track, None
        first = first or why
    return None, first
