"""A module's scheduled handlers and its start and stop hooks::

    @module.every("10m")
    async def remind(ctx: Context) -> None:
        ctx.say("Drink some water!")

    @module.at("18:00", tz="Europe/Berlin", days=("fri",))
    async def weekend(ctx: Context) -> None:
        ctx.say("Have a good weekend!")

The router runs each scheduled handler once per community the module serves, in one router
process whatever their number, and posts what it says in that community's places. The
handler's ``ctx.request`` has ``kind == "schedule"``, ``command`` the schedule's name and
no caller. Hooks run when the module is loaded and closed (in-process, or by the module's own
HTTP server)."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable
from datetime import timedelta
from typing import Any, TypeVar

from waddlebot.core.language.durations import duration_word
from waddlebot.core.language.errors import WhenError
from waddlebot.core.schedule import ScheduleSpec

H = TypeVar("H", bound=Callable[..., Awaitable[Any]])
Hook = Callable[..., Awaitable[object]]
Period = float | timedelta | str


def period_seconds(period: Period) -> float:
    """``10``, ``timedelta(minutes=10)`` or ``"10m"`` as seconds; ValueError otherwise."""
    if isinstance(period, timedelta):
        return period.total_seconds()
    if isinstance(period, str):
        try:
            found = duration_word(period.strip())
        except WhenError as exc:
            raise ValueError(str(exc)) from exc
        if found is None:
            raise ValueError(f"{period!r} is not a duration; write it like 30m, 2h or 1d")
        return found.total_seconds()
    return float(period)


def _async(handler: Callable[..., Any], what: str) -> None:
    if not inspect.iscoroutinefunction(handler):
        raise TypeError(f"{what} must be an async function")


class Scheduling:
    """What :class:`~waddlebot.sdk.Module` has for schedules and hooks."""

    def _init_scheduling(self) -> None:
        self._schedules: dict[str, tuple[ScheduleSpec, Callable[..., Awaitable[Any]]]] = {}
        self._start_hooks: list[Hook] = []
        self._stop_hooks: list[Hook] = []
        self._started = False

    @property
    def schedules(self) -> tuple[ScheduleSpec, ...]:
        return tuple(spec for spec, _ in self._schedules.values())

    def scheduled_handler(self, name: str) -> Callable[..., Awaitable[Any]]:
        entry = self._schedules.get(name)
        if entry is None:
            raise LookupError(f"module has no scheduled handler {name!r}")
        return entry[1]

    def every(
        self, period: Period | None = None, *, seconds: float | None = None, name: str = ""
    ) -> Callable[[H], H]:
        """Run the handler every ``period`` (``"10m"``, a ``timedelta``, or ``seconds=``),
        the first time one period after the router first sees it."""
        if (period is None) == (seconds is None):
            raise TypeError("give every() a period (like '10m') or seconds=, not both")
        length = period_seconds(period if period is not None else float(seconds or 0))
        return self._schedule(lambda found: ScheduleSpec(name=found, every=length), name)

    def at(
        self, clock: str, *, tz: str = "UTC", days: Iterable[str] = (), name: str = ""
    ) -> Callable[[H], H]:
        """Run the handler at ``clock`` (``"18:00"``) in ``tz``, every day or on ``days``
        (``("mon", "fri")``). A run missed while no router ran is made up once."""
        weekdays = (days,) if isinstance(days, str) else tuple(days)
        return self._schedule(
            lambda found: ScheduleSpec(name=found, at=clock, tz=tz, days=weekdays), name
        )

    def _schedule(self, spec_of: Callable[[str], ScheduleSpec], name: str) -> Callable[[H], H]:
        def register(handler: H) -> H:
            _async(handler, "a scheduled handler")
            spec = spec_of((name or handler.__name__).lower())
            if spec.name in self._schedules:
                raise ValueError(f"a scheduled handler named {spec.name!r} is registered twice")
            self._schedules[spec.name] = (spec, handler)
            return handler

        return register

    def on_start(self, hook: Hook) -> Hook:
        """Run ``hook()`` (or ``hook(module)``) when the module is loaded."""
        _async(hook, "a start hook")
        self._start_hooks.append(hook)
        return hook

    def on_stop(self, hook: Hook) -> Hook:
        """Run ``hook()`` (or ``hook(module)``) when the module is closed, in reverse order."""
        _async(hook, "a stop hook")
        self._stop_hooks.append(hook)
        return hook

    async def start(self) -> None:
        """Run the start hooks (once, however often it is called)."""
        if self._started:
            return
        self._started = True
        for hook in self._start_hooks:
            await self._call(hook)

    async def stop(self) -> None:
        """Run the stop hooks, if the module was started; each runs even when one fails,
        and the first failure is raised after them."""
        if not self._started:
            return
        self._started = False
        failure: BaseException | None = None
        for hook in reversed(self._stop_hooks):
            try:
                await self._call(hook)
            except Exception as exc:
                failure = failure or exc
        if failure is not None:
            raise failure

    async def _call(self, hook: Hook) -> None:
        if inspect.signature(hook).parameters:
            await hook(self)
        else:
            await hook()
