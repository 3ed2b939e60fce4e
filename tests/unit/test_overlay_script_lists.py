"""The overlay page's script knows the same alert kinds and platforms as the server, so a
``types=`` or ``platforms=`` word the server can send is never thrown away as unknown."""

from __future__ import annotations

import json
import re
import typing
from pathlib import Path

from waddlebot.core.events import Platform
from waddlebot.core.overlay import ALERT_KINDS

SCRIPT = Path(__file__).resolve().parents[2] / "src/waddlebot/features/overlay/static/overlay.js"


def _js_list(name: str) -> list[str]:
    match = re.search(rf"const {name} = (\[[^\]]*\]);", SCRIPT.read_text())
    assert match is not None, f"{name} is gone from overlay.js"
    return list(json.loads(match.group(1)))


def test_alert_kinds_match_the_server() -> None:
    assert _js_list("ALERT_KINDS") == list(ALERT_KINDS)


def test_platforms_match_the_server() -> None:
    assert sorted(_js_list("PLATFORMS")) == sorted(typing.get_args(Platform))
