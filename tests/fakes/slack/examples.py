"""The recorded Slack payloads in ``tests/fixtures/slack``: what the fake's answers and events
are built from, so code fills in only the fields that vary."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "slack"


@cache
def _load(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    loaded.pop("_note", None)
    return loaded


def example(name: str) -> dict[str, Any]:
    """A fresh copy of a recorded example (``event.message``, ``web.users.info`` ...), without
    its ``_note``."""
    return copy.deepcopy(_load(name))
