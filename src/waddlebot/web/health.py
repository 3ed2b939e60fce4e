"""Public endpoints: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from waddlebot import __version__
from waddlebot.infra import metrics as metric
from waddlebot.infra.outages import describe, unavailable
from waddlebot.runtime import Runtime
from waddlebot.services.router import keys
from waddlebot.web.deps import get_runtime

router = APIRouter(tags=["health"])
log = structlog.get_logger("waddlebot.web")

CHECK_SECONDS = 5.0  # a check that hangs (a database behind a dropped route) counts as failed


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok", "version": __version__}


@router.get("/readyz")
async def readyz(runtime: Runtime = Depends(get_runtime)) -> Any:
    """The process can reach its database and cache; 503 otherwise, saying which check
    failed and why (the error's class and message, never a password)."""
    errors = {
        "database": await _failure(runtime.db.check),
        "cache": await _failure(runtime.ports.cache.ping),
    }
    checks = {name: error is None for name, error in errors.items()}
    ready = all(checks.values())
    body: dict[str, Any] = {"status": "ready" if ready else "unavailable", "checks": checks}
    if not ready:
        body["errors"] = {name: error for name, error in errors.items() if error is not None}
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/metrics", include_in_schema=False)
async def metrics(runtime: Runtime = Depends(get_runtime)) -> Response:
    await _count_dead_letters(runtime)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


async def _count_dead_letters(runtime: Runtime) -> None:
    """The dead letters waiting, read at scrape time (they live on the bus, shared by every
    process of a deployment); unknown (NaN) while the bus cannot be reached."""
    try:
        async with asyncio.timeout(CHECK_SECONDS):
            waiting = await runtime.ports.bus.length(keys.DEAD_LETTER_STREAM)
    except Exception as exc:
        if unavailable(exc) is None:
            raise
        metric.DEAD_LETTERS_WAITING.set(float("nan"))
    else:
        metric.DEAD_LETTERS_WAITING.set(waiting)


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
