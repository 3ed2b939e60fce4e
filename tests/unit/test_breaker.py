"""The circuit breaker's states, and the health figures read by the marketplace."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from tests.support.clocks import Clock
from waddlebot.router.breaker import (
    COMMUNITY_LABELS,
    BreakerState,
    CircuitBreaker,
    HealthSnapshot,
    ModuleError,
    ModuleHealth,
    ModuleLimits,
    described,
)
from waddlebot.router.shared_health import merged


def breaker(**limits: float) -> tuple[CircuitBreaker, Clock]:
    clock = Clock()
    defaults: dict[str, float] = {"failures_to_open": 3, "cool_down": 30, "rate_window": 10}
    return CircuitBreaker(ModuleLimits(**{**defaults, **limits}), clock), clock  # type: ignore[arg-type]


def test_consecutive_failures_open_it_and_a_success_between_resets_the_count() -> None:
    b, _ = breaker()
    for _ in range(2):
        assert b.allow()
        b.failed()
    b.succeeded()
    for _ in range(2):
        b.failed()
    assert b.state is BreakerState.CLOSED
    b.failed()
    assert b.state is BreakerState.OPEN
    assert not b.allow()


def test_a_failure_rate_opens_it_without_failures_in_a_row() -> None:
    b, _ = breaker(failures_to_open=100, rate_window=10, failure_rate=0.5)
    for n in range(9):
        b.failed() if n % 2 else b.succeeded()
    assert b.state is BreakerState.CLOSED  # 4 of 9: the window is not full yet
    b.failed()
    assert b.state is BreakerState.OPEN  # 5 of 10


def test_after_the_cool_down_one_probe_goes_through_and_its_success_closes_it() -> None:
    b, clock = breaker()
    for _ in range(3):
        b.failed()
    clock.now += 29.9
    assert not b.allow()
    clock.now += 0.1
    assert b.state is BreakerState.HALF_OPEN
    assert b.allow()  # the probe
    assert not b.allow()  # the others wait for its outcome
    b.succeeded()
    assert b.state is BreakerState.CLOSED
    assert b.allow() and b.allow()


def test_a_failed_probe_opens_it_for_another_cool_down() -> None:
    b, clock = breaker()
    for _ in range(3):
        b.failed()
    clock.now += 30
    assert b.allow()
    b.failed()
    assert b.state is BreakerState.OPEN
    clock.now += 29
    assert not b.allow()
    clock.now += 1
    assert b.allow()


def test_a_cancelled_probe_lets_the_next_call_probe() -> None:
    b, clock = breaker()
    for _ in range(3):
        b.failed()
    clock.now += 30
    assert b.allow()
    b.abandoned()
    assert b.allow()


def test_calls_already_out_when_it_opened_do_not_move_it() -> None:
    b, clock = breaker()
    for _ in range(3):
        b.failed()
    b.succeeded()  # a slow call from before, answering late
    assert b.state is BreakerState.OPEN
    clock.now += 20
    b.failed()  # does not restart the cool-down either
    clock.now += 10
    assert b.state is BreakerState.HALF_OPEN


@pytest.mark.parametrize(
    "bad",
    [{"timeout": 0}, {"max_concurrent": 0}, {"failure_rate": 0}, {"failure_rate": 1.5}],
)
def test_limits_that_make_no_sense_are_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        ModuleLimits(**bad)  # type: ignore[arg-type]


def community_errors(module: str, community: int) -> float:
    sample = REGISTRY.get_sample_value(
        "waddlebot_module_community_errors_total", {"module": module, "community": str(community)}
    )
    return sample or 0.0


def test_errors_are_counted_per_community_for_built_in_modules_too() -> None:
    before = community_errors("core", 7), community_errors("core", 9)
    health = ModuleHealth(wall_clock=lambda: 1_700_000_000.0)
    health.failed("core", 7, "error", "RuntimeError: kaboom")
    health.failed("core", 7, "timeout", "did not answer in time")
    health.failed("core", 8, "error", "RuntimeError: kaboom")
    snapshot = health.snapshot("core")
    assert not snapshot.guarded
    assert snapshot.state is BreakerState.CLOSED  # no breaker: never opens
    assert snapshot.errors == 3
    assert [(e.reason, e.at) for e in snapshot.recent_errors][-1] == ("error", 1_700_000_000.0)
    assert (community_errors("core", 7), community_errors("core", 9)) == (
        before[0] + 2,
        before[1],
    )


def test_the_community_label_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[str, str]] = []

    class Counter:
        def labels(self, module: str, community: str) -> Counter:
            seen.append((module, community))
            return self

        def inc(self) -> None:
            return None

    monkeypatch.setattr("waddlebot.infra.metrics.MODULE_COMMUNITY_ERRORS", Counter())
    health = ModuleHealth()
    for community in range(COMMUNITY_LABELS + 5):
        health.failed("kudos", community, "error")
    health.failed("kudos", 3, "error")
    communities = {c for _, c in seen}
    assert len(communities) == COMMUNITY_LABELS + 1
    assert seen[-1] == ("kudos", "3")  # a community with a series keeps it
    assert seen[-2] == ("kudos", "other")


def _seen(state: BreakerState, errors: int, p99: float | None, *at: float) -> HealthSnapshot:
    recent = tuple(ModuleError(t, "error", f"at {t}") for t in at)
    return HealthSnapshot(
        "flaky", True, state, errors, errors, 0, 0, p99, p99, recent, None,
        open_in=int(state is BreakerState.OPEN),
    )  # fmt: skip


def test_routers_figures_merge_into_the_worst_state_the_sum_and_the_newest_errors() -> None:
    three = [
        _seen(BreakerState.CLOSED, 1, 40.0, 1.0),
        _seen(BreakerState.HALF_OPEN, 0, None),
        _seen(BreakerState.OPEN, 6, 90.0, *range(2, 8)),
    ]
    seen = merged(three)
    assert (seen.state, seen.errors, seen.p99_ms) == (BreakerState.OPEN, 7, 90.0)
    assert [e.at for e in seen.recent_errors] == [3, 4, 5, 6, 7]  # the newest five
    assert described(seen).startswith("breaker open in 1 of 3 routers, 7 errors, p99 90 ms")
    assert merged(three[:2]).breaker == "half-open"
    assert described(merged(three[:1])) == "ok, 1 error, p99 40 ms"
