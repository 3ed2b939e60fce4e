"""Module health as every router process sees it, for any process to show (``!module list``,
the portal's Modules and Serverless pages).

Each router process keeps its own :class:`~waddlebot.router.breaker.ModuleHealth`, and
publishes its snapshots through a :class:`~waddlebot.infra.slot_reports.SlotReporter` in the
scope :data:`SCOPE` (:func:`health_reporter`). :class:`SharedHealth` reads the reports of the
live routers and this process's own figures, and merges them per module (:func:`merged`).
A router that stops withdraws its report; one that dies is forgotten once its TTL runs out.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import orjson
import structlog

from waddlebot.infra.ports import Cache, Lease
from waddlebot.infra.slot_reports import SlotReporter, read_reports
from waddlebot.router.breaker import (
    RECENT_ERRORS,
    SEVERITY,
    BreakerState,
    HealthSnapshot,
    ModuleError,
    ModuleHealth,
    described,
)

log = structlog.get_logger("waddlebot.router.health")

SCOPE = "module-health"


@dataclass(frozen=True, slots=True)
class HealthReport:
    """What one router process published of its modules' health."""

    process: str
    at: float
    modules: tuple[HealthSnapshot, ...]

    def encode(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def decode(cls, data: bytes) -> HealthReport:
        raw = orjson.loads(data)
        return cls(raw["process"], float(raw["at"]), tuple(map(_snapshot, raw["modules"])))


def _snapshot(raw: dict[str, Any]) -> HealthSnapshot:
    errors = tuple(ModuleError(**one) for one in raw["recent_errors"])
    return HealthSnapshot(**{**raw, "state": BreakerState(raw["state"]), "recent_errors": errors})


def _process(report: HealthReport) -> str:
    return report.process


def merged(parts: Sequence[HealthSnapshot]) -> HealthSnapshot:
    """One module's health over the routers in ``parts``: counts summed, the worst breaker
    state, the slowest p50 and p99, the newest errors."""
    first = parts[0]
    if len(parts) == 1:
        return first
    recent = sorted((e for p in parts for e in p.recent_errors), key=lambda e: e.at)
    return replace(
        first,
        guarded=any(p.guarded for p in parts),
        state=max((p.state for p in parts), key=SEVERITY.__getitem__),
        calls=sum(p.calls for p in parts),
        errors=sum(p.errors for p in parts),
        refused=sum(p.refused for p in parts),
        in_flight=sum(p.in_flight for p in parts),
        p50_ms=_slowest(p.p50_ms for p in parts),
        p99_ms=_slowest(p.p99_ms for p in parts),
        recent_errors=tuple(recent[-RECENT_ERRORS:]),
        timeout=next((p.timeout for p in parts if p.timeout is not None), None),
        routers=sum(p.routers for p in parts),
        open_in=sum(p.open_in for p in parts),
    )


def _slowest(values: Any) -> float | None:
    known = [v for v in values if v is not None]
    return max(known) if known else None


def health_reporter(
    cache: Cache, lease: Lease, process: str, health: ModuleHealth, *, interval: float, ttl: float
) -> SlotReporter:
    """Publishes ``health`` as router ``process``'s report (start and stop it)."""

    async def report() -> bytes:
        return HealthReport(process, time.time(), tuple(health.snapshots().values())).encode()

    return SlotReporter(cache, lease, SCOPE, process, report, interval=interval, ttl=ttl)


class SharedHealth:
    """Module health over every live router: ``own`` (this process's, when it runs the
    router; its own report is skipped) and the reports of the others."""

    def __init__(self, cache: Cache, lease: Lease, process: str, own: ModuleHealth | None):
        self._cache = cache
        self._lease = lease
        self.process = process
        self.own = own

    async def snapshots(self) -> dict[str, HealthSnapshot]:
        """Every module some router guarded or saw fail, merged, by name."""
        parts: dict[str, list[HealthSnapshot]] = defaultdict(list)
        if self.own is not None:
            for name, snapshot in self.own.snapshots().items():
                parts[name].append(snapshot)
        for report in await self._others():
            for snapshot in report.modules:
                parts[snapshot.module].append(snapshot)
        return {name: merged(found) for name, found in sorted(parts.items())}

    async def described(self) -> dict[str, str]:
        """Each module's health in a few words (``breaker open in 1 of 2 routers, 7 errors``)."""
        return {name: described(s) for name, s in (await self.snapshots()).items()}

    async def _others(self) -> list[HealthReport]:
        try:
            found = await read_reports(
                self._cache, self._lease, SCOPE, HealthReport.decode, _process
            )
        except Exception as exc:  # the page still shows this process's own figures
            log.warning("other routers' module health not read", reason=str(exc))
            return []
        return [report for report in found if report.process != self.process]
