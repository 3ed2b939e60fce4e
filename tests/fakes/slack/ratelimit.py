"""Web API rate limits: 429s a test forces on a method, and the realistic limit of
chat.postMessage (about one message per second per channel, short bursts allowed)."""

from __future__ import annotations

import math
from collections import defaultdict, deque
from collections.abc import Callable, Hashable


class ForcedLimits:
    def __init__(self) -> None:
        self._pending: defaultdict[str, deque[int]] = defaultdict(deque)

    def force(self, method: str, times: int, retry_after: int) -> None:
        self._pending[method].extend([retry_after] * times)

    def take(self, method: str) -> int | None:
        """The ``Retry-After`` of the next forced 429 on ``method``, if one is pending."""
        pending = self._pending.get(method)
        return pending.popleft() if pending else None


class PerKeyBucket:
    """A token bucket per key: ``burst`` requests at once, refilling at ``rate`` per second."""

    def __init__(self, clock: Callable[[], float], rate: float = 1.0, burst: int = 3) -> None:
        self.clock = clock
        self.rate = rate
        self.burst = burst
        self._buckets: dict[Hashable, tuple[float, float]] = {}  # key -> (tokens, updated)

    def take(self, key: Hashable) -> int | None:
        """None if allowed (a token is spent), else the whole seconds until one is back."""
        now = self.clock()
        tokens, updated = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - updated) * self.rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            return None
        self._buckets[key] = (tokens, now)
        return max(1, math.ceil((1.0 - tokens) / self.rate))
