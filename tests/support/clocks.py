"""A monotonic clock a test moves by hand (``clock.now += 30``), for what takes a
``Callable[[], float]`` clock (breakers, hubs)."""

from __future__ import annotations


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
