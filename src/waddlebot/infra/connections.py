"""The live state of every collector's connections (Discord's gateway shards, Slack's Socket
Mode, Twitch's EventSub sessions), published into the cache every process shares, so any
portal process shows it.

Each collector keeps a :class:`Watch` per connection and says when one changes
(:class:`Changed`); the process's :class:`ConnectionReporter` publishes what they say every
``interval`` seconds and at once on a change, for ``ttl`` seconds. A process that dies stops
refreshing: its report expires, and the page says no collector is reporting rather than
showing it connected.

Where. A reporter publishes through a :class:`~waddlebot.infra.slot_reports.SlotReporter`
in the scope ``connections:<platform>`` (its slot lease and report beside it).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Literal, Protocol, runtime_checkable

import orjson

from waddlebot.infra import metrics
from waddlebot.infra.ports import Cache, Lease
from waddlebot.infra.slot_reports import SlotReporter, read_reports

State = Literal["connecting", "ready", "resuming", "disconnected", "webhook"]
STATES: tuple[State, ...] = ("connecting", "ready", "resuming", "disconnected", "webhook")
HEALTHY: frozenset[str] = frozenset({"ready", "webhook"})


def scope(platform: str) -> str:
    """Where the reports of ``platform``'s collectors are kept."""
    return f"connections:{platform}"


@dataclass(frozen=True, slots=True)
class Link:
    """One connection of a collector process, as it stood when published."""

    name: str  # "shard 0", "Socket Mode", "bot session", "conduit shard 2", "webhook"
    state: State
    since: float | None  # when it entered that state (seconds since the epoch)
    last_event: float | None = None  # the last event (or keepalive) it brought
    latency_ms: float | None = None
    session: str = ""  # the platform's session id, where it gives one
    platform_wide: bool = True  # False: it serves only ``covers`` (one broadcaster's session)
    covers: tuple[str, ...] = ()  # the places it carries: ``discord:<guild>``, ``twitch:<id>``

    def serves(self, places: Iterable[str]) -> bool:
        """Whether it carries one of ``places`` (entity ids such as ``discord:1:2``)."""
        return any(p == c or p.startswith(c + ":") for p in places for c in self.covers)


@dataclass(frozen=True, slots=True)
class Report:
    """What one process published of its connections to one platform."""

    platform: str
    process: str
    at: float  # when it was published
    links: tuple[Link, ...] = field(default_factory=tuple)

    def encode(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def decode(cls, data: bytes) -> Report:
        raw = orjson.loads(data)
        links = tuple(
            Link(**{**one, "covers": tuple(one.get("covers") or ())}) for one in raw["links"]
        )
        return cls(raw["platform"], raw["process"], float(raw["at"]), links)


class Changed:
    """Said by a collector when one of its connections changes, so its reporter publishes at
    once instead of at the next interval."""

    def __init__(self) -> None:
        self._event: asyncio.Event | None = None  # made in the loop that waits
        self._said = False

    def __call__(self) -> None:
        self._said = True
        if self._event is not None:
            self._event.set()

    async def wait(self, at_most: float) -> None:
        """Until a change is said (or was, since the last wait), or ``at_most`` seconds."""
        if self._event is None:
            self._event = asyncio.Event()
        if not self._said:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._event.wait(), at_most)
        self._said = False
        self._event.clear()


class Watch:
    """The state of one connection, kept by the code holding it."""

    def __init__(self, name: str, changed: Callable[[], None], state: State = "connecting"):
        self.name = name
        self._changed = changed
        self.state: State = state
        self.since = time.time()
        self.last_event: float | None = None
        self.session = ""

    def enter(self, state: State, session: str | None = None) -> None:
        """Now in ``state`` (a new ``session``: a new connection, even in the same state)."""
        fresh = session is not None and session != self.session
        if session is not None:
            self.session = session
        if state != self.state or fresh:
            self.state = state
            self.since = time.time()
            self._changed()

    def heard(self) -> None:
        """The connection brought something (an event, a keepalive)."""
        self.last_event = time.time()

    def link(
        self,
        *,
        latency_ms: float | None = None,
        covers: Iterable[str] = (),
        platform_wide: bool = True,
        name: str | None = None,
    ) -> Link:
        return Link(
            name or self.name,
            self.state,
            self.since,
            self.last_event,
            latency_ms,
            self.session,
            platform_wide,
            tuple(covers),
        )


@runtime_checkable
class Watched(Protocol):
    """A collector that reports its connections."""

    @property
    def changed(self) -> Changed: ...

    async def connections(self) -> Sequence[Link]: ...


class ConnectionReporter:
    """Publishes one process's connections to one platform until :meth:`stop`."""

    def __init__(
        self,
        cache: Cache,
        lease: Lease,
        platform: str,
        process: str,
        source: Watched,
        *,
        interval: float,
        ttl: float,
    ) -> None:
        self.platform = platform
        self.process = process
        self._source = source
        self.publisher = SlotReporter(
            cache,
            lease,
            scope(platform),
            process,
            self._report,
            interval=interval,
            ttl=ttl,
            wait=source.changed.wait,
        )

    async def start(self) -> None:
        await self.publisher.start()

    async def stop(self) -> None:
        """Stop publishing and withdraw the report: this process's connections are closed."""
        await self.publisher.stop()
        self._count(())

    async def publish(self) -> None:
        await self.publisher.publish()

    async def _report(self) -> bytes:
        links = tuple(await self._source.connections())
        self._count(links)
        return Report(self.platform, self.process, time.time(), links).encode()

    def _count(self, links: Iterable[Link]) -> None:
        counted = Counter(link.state for link in links)
        for state in STATES:
            metrics.CONNECTIONS.labels(self.platform, state).set(counted[state])


async def reports(cache: Cache, lease: Lease, platform: str) -> list[Report]:
    """Every live process's report of its connections to ``platform``, by process name."""
    found = await read_reports(cache, lease, scope(platform), Report.decode, _process)
    return sorted(found, key=_process)


def _process(report: Report) -> str:
    return report.process


async def reports_of(
    cache: Cache, lease: Lease, platforms: Iterable[str]
) -> dict[str, list[Report]]:
    names = list(platforms)
    found: Sequence[list[Report]] = await asyncio.gather(*(reports(cache, lease, p) for p in names))
    return dict(zip(names, found, strict=True))
