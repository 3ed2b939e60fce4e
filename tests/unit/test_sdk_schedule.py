"""Scheduled handlers and hooks as a module declares them, and when each runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from waddlebot.core.contract import ModuleRequest
from waddlebot.core.manifest import Manifest
from waddlebot.core.schedule import ScheduleSpec
from waddlebot.router.modules import LocalModuleClient, ModuleRegistry
from waddlebot.sdk import Context, Module


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_every_takes_seconds_a_timedelta_or_a_duration() -> None:
    module = Module("m")

    @module.every(seconds=30)
    async def a(ctx: Context) -> None: ...

    @module.every(timedelta(hours=1), name="hourly")
    async def b(ctx: Context) -> None: ...

    @module.every("1h30m")
    async def c(ctx: Context) -> None: ...

    assert [(s.name, s.every) for s in module.manifest.schedules] == [
        ("a", 30),
        ("hourly", 3600),
        ("c", 5400),
    ]


@pytest.mark.parametrize(
    ("declare", "problem"),
    [
        (lambda m: m.every("soon"), "not a duration"),
        (lambda m: m.every(seconds=0), "greater than or equal to 1"),
        (lambda m: m.every(), "a period"),
        (lambda m: m.at("25:00"), "not a time of day"),
        (lambda m: m.at("18:00", tz="Mars/Olympus"), "not a time zone"),
        (lambda m: m.at("18:00", days=("someday",)), "not a weekday"),
    ],
)
def test_a_schedule_that_cannot_run_is_refused_where_it_is_declared(
    declare: object, problem: str
) -> None:
    module = Module("m")

    async def job(ctx: Context) -> None: ...

    with pytest.raises((ValueError, TypeError), match=problem):
        declare(module)(job)  # type: ignore[operator]


def test_names_are_unique_and_handlers_async() -> None:
    module = Module("m")

    @module.every("5m")
    async def job(ctx: Context) -> None: ...

    with pytest.raises(ValueError, match="twice"):
        module.every("10m", name="job")(job)
    with pytest.raises(TypeError, match="async"):
        module.at("18:00")(lambda ctx: None)
    with pytest.raises(TypeError, match="async"):
        module.on_start(lambda: None)  # type: ignore[arg-type]


def test_at_runs_at_the_next_time_of_day_in_its_zone_on_its_days() -> None:
    spec = ScheduleSpec(name="s", at="18:00", tz="Europe/Berlin", days=("fri", "Monday"))
    assert spec.days == ("monday", "friday")
    # Monday 2026-03-02, 16:59 UTC = 17:59 in Berlin
    assert spec.next_run(at("2026-03-02 16:59")) == at("2026-03-02 17:00")
    assert spec.next_run(at("2026-03-02 17:00")) == at("2026-03-06 17:00")  # then Friday
    # summer time: 18:00 in Berlin is 16:00 UTC
    assert spec.next_run(at("2026-04-01 00:00")) == at("2026-04-03 16:00")
    daily = ScheduleSpec(name="d", at="6pm")
    assert daily.at == "18:00"
    assert daily.next_run(at("2026-03-02 19:00")) == at("2026-03-03 18:00")


def test_missed_runs_are_not_made_up_one_by_one() -> None:
    spec = ScheduleSpec(name="s", every=600)
    assert spec.next_run(at("2026-03-02 12:00")) == at("2026-03-02 12:10")


def test_the_manifest_carries_schedules_and_stays_readable_without_them() -> None:
    module = Module("m")

    @module.at("08:00", tz="Europe/Berlin", days=("sat", "sun"))
    async def weekend(ctx: Context) -> None: ...

    manifest = Manifest.model_validate_json(module.manifest.model_dump_json())
    assert manifest.schedules == (
        ScheduleSpec(name="weekend", at="08:00", tz="Europe/Berlin", days=("saturday", "sunday")),
    )
    assert Manifest.model_validate({"name": "old"}).schedules == ()
    with pytest.raises(ValidationError, match="either 'every' or 'at'"):
        Manifest.model_validate({"name": "bad", "schedules": [{"name": "x"}]})


async def test_a_schedule_request_runs_its_handler() -> None:
    module = Module("m")

    @module.every("5m")
    async def remind(ctx: Context) -> str:
        return f"{ctx.request.kind} {ctx.request.command} in {ctx.request.community_id}"

    request = ModuleRequest(
        session_id="s",
        kind="schedule",
        command="remind",
        community_id=4,
        entity_id="console:local",
        platform="console",
    )
    response = await module.handle(request)
    assert [r.text for r in response.replies] == ["schedule remind in 4"]
    assert ModuleRequest.model_validate_json(request.model_dump_json()).kind == "schedule"


async def test_hooks_run_once_when_loaded_and_closed_in_process() -> None:
    module = Module("m")
    seen: list[str] = []

    @module.on_start
    async def first() -> None:
        seen.append("start 1")

    @module.on_start
    async def second(which: Module) -> None:
        seen.append(f"start 2 {which.name}")

    @module.on_stop
    async def broken() -> None:
        seen.append("stop broken")
        raise RuntimeError("boom")

    @module.on_stop
    async def fine() -> None:
        seen.append("stop fine")

    registry = ModuleRegistry([LocalModuleClient(module)])
    await registry.start()
    await registry.start()
    assert seen == ["start 1", "start 2 m"]
    await registry.close()  # a stop hook failing is logged; the others still run
    assert seen == ["start 1", "start 2 m", "stop fine", "stop broken"]
    await registry.close()
    assert len(seen) == 4
