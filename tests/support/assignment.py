"""Replicas under test record which of them serves each item: an item taken by a second
replica while the first still serves it fails the test at once."""

from __future__ import annotations

from typing import Protocol

from waddlebot.infra.assignment import ItemStep


class Records(Protocol):
    serving: dict[str, str]  # item -> the replica serving it


def serving_hooks(records: Records, name: str) -> tuple[ItemStep, ItemStep]:
    """``on_take`` and ``on_drop`` for replica ``name``, writing to ``records.serving``."""

    async def take(item: str) -> None:
        serving = records.serving
        assert item not in serving, f"{item} served by {serving[item]} and {name}"
        serving[item] = name

    async def drop(item: str) -> None:
        assert records.serving.pop(item) == name

    return take, drop
