"""Public endpoints: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, get_args

import structlog
from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from waddlebot import __version__
from waddlebot.core.events import Platform
from waddlebot.infra import keys
from waddlebot.infra import metrics as metric
from waddlebot.infra.outages import describe, unavailable
from waddlebot.web.host import ApiHost, Running
from waddlebot.web.problems import problem_response

router = APIRouter(tags=["health"])
log = structlog.get_logger("waddlebot.web")

CHECK_SECONDS = 5.0  # a check that hangs (a database behind a dropped route) counts as failed


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok", "version": __version__}


@router.get("/readyz")
async def readyz(request: Request, runtime: Running) -> Any:
    """The process can reach its database and cache; 503 otherwise, a problem saying which
    check failed (``checks``) and why (``failures``: the error's class and message, never a
    password)."""
    errors = {
        "database": await _failure(runtime.db.check),
        "cache": await _failure(runtime.ports.cache.ping),
    }
    checks = {name: error is None for name, error in errors.items()}
    failures = {name: error for name, error in errors.items() if error is not None}
    if not failures:
        return {"status": "ready", "checks": checks}
    return problem_response(
        503,
        "not ready: " + "; ".join(f"{name}: {error}" for name, error in failures.items()),
        scope=request.scope,
        checks=checks,
        failures=failures,
    )


# the streams whose backlog is reported: what the routers have to answer, and what each
# platform's collector has to send
BACKLOG_STREAMS = (keys.EVENTS_STREAM, *(keys.replies_stream(p) for p in get_args(Platform)))


@router.get("/metrics", include_in_schema=False)
async def metrics(runtime: Running) -> Response:
    await _measure_bus(runtime)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


async def _measure_bus(runtime: ApiHost) -> None:
    """The dead letters waiting and the streams' backlogs, read at scrape time (they live on
    the bus, shared by every process of a deployment); unknown (NaN) while the bus cannot be
    reached."""
    bus = runtime.ports.bus
    gauges = [(metric.DEAD_LETTERS_WAITING, bus.length(keys.DEAD_LETTER_STREAM))] + [
        (metric.BUS_BACKLOG.labels(stream), bus.backlog(stream)) for stream in BACKLOG_STREAMS
    ]
    figures: list[float]
    try:
        async with asyncio.timeout(CHECK_SECONDS):
            figures = list(await asyncio.gather(*(reading for _, reading in gauges)))
    except Exception as exc:
        if unavailable(exc) is None:
            raise
        figures = [float("nan")] * len(gauges)
    for (gauge, _), figure in zip(gauges, figures, strict=True):
        gauge.set(figure)


async def _failure(check: Callable[[], Awaitable[object]]) -> str | None:
    """None when the check passes; else what went wrong."""
    try:
        async with asyncio.timeout(CHECK_SECONDS):
            answer = await check()
    except TimeoutError:
        return f"no answer within {CHECK_SECONDS:g} s"
    except Exception as exc:  # readiness reports any failure; it never raises one
        log.debug("readiness check failed", error=describe(exc))
        return describe(exc)
    return None if answer is not False else "no answer"
