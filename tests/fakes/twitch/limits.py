"""The two kinds of limit Twitch applies: a refilling point bucket (Helix) and a count of events
in a sliding window (chat, whispers, shoutouts)."""

from __future__ import annotations

import math
from collections import defaultdict, deque
from collections.abc import Callable, Hashable


class TokenBucket:
    """``capacity`` points that refill continuously over ``period`` seconds."""

    def __init__(self, capacity: int, period: float, clock: Callable[[], float]) -> None:
        self.capacity = capacity
        self._rate = capacity / period
        self._clock = clock
        self._points = float(capacity)
        self._updated = clock()

    def _refill(self) -> float:
        now = self._clock()
        self._points = min(self.capacity, self._points + (now - self._updated) * self._rate)
        self._updated = now
        return now

    def take(self, points: int = 1) -> bool:
        self._refill()
        if self._points < points:
            return False
        self._points -= points
        return True

    @property
    def remaining(self) -> int:
        self._refill()
        return int(self._points)

    @property
    def reset_at(self) -> int:
        """Unix seconds (in the clock's terms) at which the bucket is full again."""
        now = self._refill()
        return math.ceil(now + (self.capacity - self._points) / self._rate)

    def headers(self) -> dict[str, str]:
        return {
            "Ratelimit-Limit": str(self.capacity),
            "Ratelimit-Remaining": str(self.remaining),
            "Ratelimit-Reset": str(self.reset_at),
        }


class SlidingWindow:
    """At most ``limit`` events per key in any ``window`` seconds."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._events: defaultdict[Hashable, deque[float]] = defaultdict(deque)

    def _recent(self, key: Hashable, now: float) -> deque[float]:
        events = self._events[key]
        while events and events[0] <= now - self.window:
            events.popleft()
        return events

    def allows(self, key: Hashable, now: float, limit: int | None = None) -> bool:
        return len(self._recent(key, now)) < (self.limit if limit is None else limit)

    def record(self, key: Hashable, now: float) -> None:
        self._recent(key, now).append(now)

    def last(self, key: Hashable) -> float | None:
        events = self._events.get(key)
        return events[-1] if events else None


def most_in_any_window(times: list[float], window: float) -> int:
    """The largest number of ``times`` that fall within any ``window`` seconds (half-open)."""
    ordered = sorted(times)
    best = start = 0
    for end, moment in enumerate(ordered):
        while ordered[start] <= moment - window:
            start += 1
        best = max(best, end - start + 1)
    return best
