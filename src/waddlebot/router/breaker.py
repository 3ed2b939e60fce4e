"""A failing external module cannot hurt the bot: its own timeout, a cap on its calls in
flight and a circuit breaker around it, and its health for ``!module list`` and ``/metrics``.

:class:`ModuleHealth` (one per router process: each router has its own breakers and figures)
wraps a module's client with :meth:`ModuleHealth.guard`; the router calls the wrapper as any
other client. The breaker:

* **closed**: calls go through. ``failures_to_open`` failures in a row, or a failure rate of
  ``failure_rate`` or more over the last ``rate_window`` calls (once that many were made),
  open it. A failure is an error or a timeout; an answer the module gives (a usage line too) is
  a success.
* **open**: every call is refused at once (:class:`ModuleUnavailable`) for ``cool_down``
  seconds, rather than waiting for timeouts.
* **half-open**: after the cool-down one call goes through as a probe (the others are refused
  as while open). Its success closes the breaker, its failure opens it for another cool-down.

Beyond ``max_concurrent`` calls in flight a call waits up to ``wait_for_slot`` seconds for one
to end, then is refused (:class:`ModuleBusy`): nothing queues for ever behind a stuck module.

WaddleBot's own in-process modules are not guarded; their errors are counted all the same
(:meth:`ModuleHealth.failed`, called by the router for every module).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from waddlebot.core.contract import ModuleRequest, ModuleResponse
from waddlebot.core.settings import CoreSettings
from waddlebot.infra import metrics
from waddlebot.router.modules import ModuleClient, WrappedClient

DEFAULT_TIMEOUT = 5.0  # seconds, when neither the module's limits nor the defaults say
RECENT_ERRORS = 5  # per module, for !module list
LATENCY_WINDOW = 200  # calls the p50 and p99 are taken over
COMMUNITY_LABELS = 100  # per module and process; errors in more communities count as "other"


class BreakerState(StrEnum):
    CLOSED = "closed"
    HALF_OPEN = "half-open"
    OPEN = "open"


SEVERITY = {  # the breaker-state gauge's value; the worst state is the highest
    BreakerState.CLOSED: 0,
    BreakerState.HALF_OPEN: 1,
    BreakerState.OPEN: 2,
}


@dataclass(frozen=True, slots=True)
class ModuleLimits:
    """What one module runs under. ``timeout`` None: the router's
    ``WADDLEBOT_MODULE_TIMEOUT_SECONDS``."""

    timeout: float | None = None
    max_concurrent: int = 16
    wait_for_slot: float = 0.5
    failures_to_open: int = 5
    failure_rate: float = 0.5
    rate_window: int = 20
    cool_down: float = 30.0

    def __post_init__(self) -> None:
        if self.timeout is not None and self.timeout <= 0:
            raise ValueError("a module timeout must be positive")
        if self.max_concurrent < 1 or self.failures_to_open < 1 or self.rate_window < 1:
            raise ValueError("max_concurrent, failures_to_open and rate_window must be >= 1")
        if not 0 < self.failure_rate <= 1:
            raise ValueError("failure_rate must be in (0, 1]")
        if self.wait_for_slot < 0 or self.cool_down < 0:
            raise ValueError("wait_for_slot and cool_down must not be negative")


def module_limits(settings: CoreSettings) -> ModuleLimits:
    """The limits of an external module that has none of its own."""
    return ModuleLimits(
        timeout=settings.module_timeout_seconds,
        max_concurrent=settings.module_max_concurrent,
        failures_to_open=settings.module_breaker_failures,
        cool_down=settings.module_breaker_cooldown_seconds,
    )


# calls refused without reaching the module: counted apart from its errors ("budget": a
# community's daily serverless budget, serverless/accounting.py)
REFUSALS = frozenset({"busy", "unavailable", "budget"})


class ModuleRefused(Exception):
    """A call the guard refused without reaching the module; ``reason`` is its metrics label."""

    reason = "refused"
    said = "cannot answer right now"

    def __init__(self, module: str) -> None:
        super().__init__(f"module {module!r} {self.said}")
        self.module = module

    def reply(self, shown: str) -> str:
        """What the person who typed ``shown`` (``!x``) is told."""
        return f"{shown} {self.said}, try again later."


class ModuleUnavailable(ModuleRefused):
    """The module's breaker is open (or half-open with its probe out)."""

    reason = "unavailable"
    said = "is unavailable right now"


class ModuleBusy(ModuleRefused):
    """The module has as many calls in flight as it may, and none ended in time."""

    reason = "busy"
    said = "is busy right now"


class CircuitBreaker:
    """The breaker of one module: a state machine over the outcomes of its calls."""

    def __init__(self, limits: ModuleLimits, clock: Callable[[], float]) -> None:
        self._limits = limits
        self._clock = clock
        self._state = BreakerState.CLOSED
        self._consecutive = 0
        self._outcomes: deque[bool] = deque(maxlen=limits.rate_window)  # True: failed
        self._opened_at = 0.0
        self._probing = False

    @property
    def state(self) -> BreakerState:
        if self._state is BreakerState.OPEN and self._cooled_down():
            return BreakerState.HALF_OPEN
        return self._state

    def refuses_now(self) -> bool:
        """Whether a call would be refused, without letting a probe out."""
        state = self.state
        return state is BreakerState.OPEN or (state is BreakerState.HALF_OPEN and self._probing)

    def allow(self) -> bool:
        """Whether a call may go to the module now; in half-open, the first one is the probe
        (report its outcome with :meth:`succeeded`, :meth:`failed` or :meth:`abandoned`)."""
        if self.refuses_now():
            return False
        if self.state is BreakerState.HALF_OPEN:
            self._state, self._probing = BreakerState.HALF_OPEN, True
        return True

    # A call that was already out when the breaker opened may end while it is open: only the
    # probe's outcome moves an open breaker.

    def succeeded(self) -> None:
        if self._probing:
            self._state, self._probing = BreakerState.CLOSED, False
            self._consecutive = 0
            self._outcomes.clear()
        elif self._state is BreakerState.CLOSED:
            self._consecutive = 0
            self._outcomes.append(False)

    def failed(self) -> None:
        if self._probing:
            self._open()
            return
        if self._state is not BreakerState.CLOSED:
            return
        self._consecutive += 1
        self._outcomes.append(True)
        limits, outcomes = self._limits, self._outcomes
        if self._consecutive >= limits.failures_to_open or (
            len(outcomes) >= limits.rate_window
            and sum(outcomes) / len(outcomes) >= limits.failure_rate
        ):
            self._open()

    def abandoned(self) -> None:
        """The call was cancelled before it ended: a probe's turn goes to the next call."""
        self._probing = False

    def _open(self) -> None:
        self._state, self._opened_at, self._probing = BreakerState.OPEN, self._clock(), False
        self._consecutive = 0
        self._outcomes.clear()

    def _cooled_down(self) -> bool:
        return self._clock() - self._opened_at >= self._limits.cool_down


@dataclass(frozen=True, slots=True)
class ModuleError:
    at: float  # unix seconds
    reason: str  # timeout, error, busy, unavailable
    detail: str  # what went wrong, short (never a secret: the exception's message)


@dataclass(frozen=True, slots=True)
class HealthSnapshot:
    """One module's health in this router process, as ``!module list`` and the API show it."""

    module: str
    guarded: bool  # an external module: breaker, timeout and cap apply
    state: BreakerState
    calls: int  # calls that reached the module (guarded modules only)
    errors: int  # failed or timed out (every module)
    refused: int  # refused without reaching the module: busy or unavailable
    in_flight: int
    p50_ms: float | None  # over the last LATENCY_WINDOW calls; None before the first
    p99_ms: float | None
    recent_errors: tuple[ModuleError, ...]  # newest last
    timeout: float | None  # its own timeout; None: the router's
    routers: int = 1  # router processes these figures are from (router/shared_health.py)
    open_in: int = 0  # of them, those whose breaker of it is open

    @property
    def breaker(self) -> str:
        """Its breaker's state in words: ``closed``, ``open``, ``open in 1 of 2 routers``."""
        if 0 < self.open_in < self.routers:
            return f"open in {self.open_in} of {self.routers} routers"
        return self.state.value


class _Stats:
    def __init__(self, limits: ModuleLimits | None, clock: Callable[[], float]) -> None:
        self.limits = limits
        self.breaker = CircuitBreaker(limits, clock) if limits is not None else None
        self.slots = asyncio.Semaphore(limits.max_concurrent) if limits is not None else None
        self.calls = self.errors = self.refused = self.in_flight = 0
        self.latencies: deque[float] = deque(maxlen=LATENCY_WINDOW)
        self.recent: deque[ModuleError] = deque(maxlen=RECENT_ERRORS)
        self.labelled: set[int] = set()  # communities with a metrics series of their own


class ModuleHealth:
    """Breakers and health of every module, for this router process.

    Read by the marketplace: :meth:`state`, :meth:`snapshot` and :meth:`snapshots` (a
    module's errors per community are counted in the metrics: :meth:`failed`). ``defaults``
    are the limits of a module guarded without its own (their timeout: the router's).
    ``clock`` (monotonic seconds, for the cool-down) and ``wall_clock`` (unix seconds, for
    the error times) are for tests.
    """

    def __init__(
        self,
        defaults: ModuleLimits | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._defaults = defaults or ModuleLimits(timeout=DEFAULT_TIMEOUT)
        self.clock = clock  # read on every use: a test may swap it for one it moves
        self._wall_clock = wall_clock
        self._stats: dict[str, _Stats] = {}

    @property
    def defaults(self) -> ModuleLimits:
        return self._defaults

    def guard(
        self, client: ModuleClient, limits: ModuleLimits | None = None
    ) -> GuardedModuleClient:
        """``client`` behind a timeout, a concurrency cap and a breaker (``limits``, else the
        defaults). A module guarded again (reinstalled, upgraded) starts afresh."""
        stats = _Stats(limits or self._defaults, lambda: self.clock())
        self._stats[client.name] = stats
        metrics.MODULE_BREAKER_STATE.labels(client.name).set_function(
            lambda: SEVERITY[self.state(client.name)]
        )
        return GuardedModuleClient(client, self, stats)

    def forget(self, name: str) -> None:
        """Drop a module's figures (it was removed from this router)."""
        self._stats.pop(name, None)
        with contextlib.suppress(KeyError):
            metrics.MODULE_BREAKER_STATE.remove(name)

    def state(self, name: str) -> BreakerState:
        """The module's breaker state; an unguarded (built-in) or unknown module is closed."""
        stats = self._stats.get(name)
        if stats is None or stats.breaker is None:
            return BreakerState.CLOSED
        return stats.breaker.state

    def snapshot(self, name: str) -> HealthSnapshot:
        stats = self._stats.get(name) or _Stats(None, self.clock)
        latencies = sorted(stats.latencies)
        return HealthSnapshot(
            module=name,
            guarded=stats.breaker is not None,
            state=self.state(name),
            calls=stats.calls,
            errors=stats.errors,
            refused=stats.refused,
            in_flight=stats.in_flight,
            p50_ms=_percentile(latencies, 0.50),
            p99_ms=_percentile(latencies, 0.99),
            recent_errors=tuple(stats.recent),
            timeout=stats.limits.timeout if stats.limits is not None else None,
            open_in=int(self.state(name) is BreakerState.OPEN),
        )

    def snapshots(self) -> dict[str, HealthSnapshot]:
        """Every module that was guarded or has failed, by name."""
        return {name: self.snapshot(name) for name in sorted(self._stats)}

    def describe(self, name: str) -> str:
        """The module's health in a few words, for ``!module list`` (``ok, p99 120 ms``,
        ``breaker open, 7 errors``); '' when this process knows nothing of it."""
        if name not in self._stats:
            return ""
        return described(self.snapshot(name))

    def failed(self, name: str, community_id: int, reason: str, detail: str = "") -> None:
        """Count a failed call (or a refused one) of any module, for one community: the
        router's single place for module errors in metrics and health."""
        stats = self._stats.get(name)
        if stats is None:
            stats = self._stats[name] = _Stats(None, self.clock)
        if reason in REFUSALS:
            stats.refused += 1
        else:
            stats.errors += 1
        stats.recent.append(ModuleError(self._wall_clock(), reason, detail[:200]))
        metrics.MODULE_ERRORS.labels(name, reason).inc()
        community = community_label(stats.labelled, community_id)
        metrics.MODULE_COMMUNITY_ERRORS.labels(name, community).inc()


def described(snapshot: HealthSnapshot) -> str:
    """A module's health in a few words: ``ok, p99 120 ms``, ``breaker open, 7 errors``,
    ``breaker open in 1 of 2 routers, 4 errors``."""
    state = snapshot.state
    parts = ["ok" if state is BreakerState.CLOSED else f"breaker {snapshot.breaker}"]
    if snapshot.errors:
        parts.append(f"{snapshot.errors} error{'s' if snapshot.errors != 1 else ''}")
    if snapshot.p99_ms is not None:
        parts.append(f"p99 {snapshot.p99_ms:.0f} ms")
    return ", ".join(parts)


def community_label(labelled: set[int], community_id: int) -> str:
    """A community's metrics label: the first COMMUNITY_LABELS communities seen get a series
    each, the later ones share "other", a bounded number of series whatever the bot's size."""
    if community_id not in labelled and len(labelled) < COMMUNITY_LABELS:
        labelled.add(community_id)
    return str(community_id) if community_id in labelled else "other"


class GuardedModuleClient(WrappedClient):
    """A :class:`~waddlebot.router.modules.ModuleClient` behind its module's limits."""

    def __init__(self, client: ModuleClient, health: ModuleHealth, stats: _Stats) -> None:
        assert stats.limits is not None and stats.breaker is not None
        assert stats.slots is not None
        super().__init__(client)
        self._stats = stats
        self._limits = stats.limits
        self._breaker = stats.breaker
        self._slots = stats.slots
        self.timeout = stats.limits.timeout or health.defaults.timeout or DEFAULT_TIMEOUT

    async def call(self, request: ModuleRequest) -> ModuleResponse:
        """Raises :class:`ModuleRefused` without calling the module when its breaker is open
        or it is busy; TimeoutError after its timeout; whatever the module's client raises."""
        breaker = self._breaker
        if breaker.refuses_now():
            raise ModuleUnavailable(self.name)
        if self._slots.locked():
            try:  # a cancelled acquire() gives a slot it was woken for to the next waiter
                async with asyncio.timeout(self._limits.wait_for_slot):
                    await self._slots.acquire()
            except TimeoutError:
                raise ModuleBusy(self.name) from None
        else:
            await self._slots.acquire()  # free: taken without a task or a pause
        try:
            if not breaker.allow():  # the probe went out while this call waited for a slot
                raise ModuleUnavailable(self.name)
            return await self._measured(request)
        finally:
            self._slots.release()

    async def _measured(self, request: ModuleRequest) -> ModuleResponse:
        stats, breaker = self._stats, self._breaker
        stats.calls += 1
        stats.in_flight += 1
        started = time.perf_counter()
        ended: bool | None = None  # True: answered, False: failed, None: cancelled
        try:
            async with asyncio.timeout(self.timeout):
                response = await self._client.call(request)
            ended = True
            return response
        except Exception:
            ended = False
            raise
        finally:
            stats.in_flight -= 1
            took = time.perf_counter() - started
            stats.latencies.append(took)
            metrics.MODULE_CALL_SECONDS.labels(self.name).observe(took)
            if ended is True:
                breaker.succeeded()
            elif ended is False:
                breaker.failed()
            else:  # neither a success nor the module's fault
                breaker.abandoned()


def router_timeout(client: ModuleClient, default: float) -> float | None:
    """The timeout the router puts around a call: none for a guarded module (also one
    wrapped again, by a community's grants), which keeps its own (a shorter outer one would
    cut it, uncounted by its breaker)."""
    while isinstance(client, WrappedClient):
        if isinstance(client, GuardedModuleClient):
            return None
        client = client.inner
    return default


def _percentile(ordered: list[float], q: float) -> float | None:
    if not ordered:
        return None
    index = min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))
    return round(ordered[index] * 1000, 3)
