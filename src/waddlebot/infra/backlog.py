"""What both bus adapters share about keeping streams bounded without losing anything: the
gate that refuses new entries while the readers are too far behind, and the schedule that
trims a stream now and then, never on every acknowledgement."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import structlog

from waddlebot.infra.ports import Backlogged
from waddlebot.infra.single_flight import SingleFlight

BACKLOG_TTL_SECONDS = 0.25  # how long a process trusts the backlog it last read
TRIM_EVERY_SECONDS = 2.0  # how often a process trims one stream, at most
REFUSING_LOG_SECONDS = 10.0

_log = structlog.get_logger("waddlebot.bus")


class BacklogGate:
    """Refuses entries on a stream whose backlog is above ``limit``.

    The backlog is read with ``read`` at most every ``ttl`` seconds per stream; callers
    arriving while a read is under way wait for that one instead of starting their own, so a
    burst of requests costs one read.
    """

    def __init__(
        self,
        read: Callable[[str], Awaitable[int]],
        limit: int,
        *,
        ttl: float = BACKLOG_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if limit < 1:
            raise ValueError("the backlog limit must be at least 1")
        self._read = read
        self.limit = limit
        self._ttl = ttl
        self._clock = clock
        self._known: dict[str, tuple[int, float]] = {}  # stream -> backlog, read at
        self._reading: SingleFlight[str, int] = SingleFlight()
        self._quiet_until: dict[str, float] = {}

    async def admit(self, stream: str) -> None:
        waiting = await self._backlog(stream)
        if waiting > self.limit:
            self._say_refusing(stream, waiting)
            raise Backlogged(stream, waiting, self.limit)

    def _say_refusing(self, stream: str, waiting: int) -> None:
        """Logged once every :data:`REFUSING_LOG_SECONDS` per stream, not per refusal: a
        backlog refuses thousands a second (the metric counts them)."""
        now = self._clock()
        if now < self._quiet_until.get(stream, 0.0):
            return
        self._quiet_until[stream] = now + REFUSING_LOG_SECONDS
        _log.warning(
            "refusing new entries: the readers are too far behind",
            stream=stream,
            waiting=waiting,
            limit=self.limit,
        )

    async def _backlog(self, stream: str) -> int:
        known = self._known.get(stream)
        if known is not None and self._clock() - known[1] < self._ttl:
            return known[0]
        return await self._reading.run(stream, lambda: self._refresh(stream))

    async def _refresh(self, stream: str) -> int:
        waiting = await self._read(stream)
        self._known[stream] = (waiting, self._clock())
        return waiting


class TrimSchedule:
    """Whether a stream is due for trimming: at most once every ``every`` seconds each."""

    def __init__(
        self, every: float = TRIM_EVERY_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._every = every
        self._clock = clock
        self._next: dict[str, float] = {}

    def due(self, stream: str) -> bool:
        now = self._clock()
        if now < self._next.get(stream, 0.0):
            return False
        self._next[stream] = now + self._every
        return True
