"""What a test shows on each kind of overlay page (``!overlay test``, the portal's test
buttons): made-up content, so one can set the scene up in OBS."""

from __future__ import annotations

from typing import Any

from waddlebot.core.variables import truncate

MAX_NAME = 64
# the alerts the portal's buttons send: what each says beside the name
TEST_ALERTS: dict[str, dict[str, Any]] = {
    "follow": {},
    "subscribe": {"months": 3, "tier": "1000", "message": "Test sub: waddle waddle!"},
    "raid": {"viewers": 42},
}


def sample_alert(kind: str, name: str) -> dict[str, Any]:
    """A test alert of ``kind`` (one of :data:`TEST_ALERTS`) from ``name``."""
    return {"kind": kind, "name": truncate(name, MAX_NAME), **TEST_ALERTS[kind]}


def sample(kind: str, name: str) -> dict[str, Any]:
    """What ``!overlay test`` shows on each kind of page."""
    samples: dict[str, dict[str, Any]] = {
        "ticker": {"text": "This is how the bot's replies look on the ticker.", "author": "test"},
        "media": {
            "type": "now_playing",
            "title": "Waddle All Night",
            "artist": "The Rockhoppers",
            "album": "Test Pressing",
            "duration": 200,
            "position": 42,
            "requested_by": truncate(name, MAX_NAME),
        },
        "alerts": sample_alert("follow", name),
        "general": {
            "template": "card",
            "title": "Overlay test",
            "body": "Cards that modules send appear here.",
            "duration": 15,
        },
    }
    return samples[kind]
