"""Public endpoints: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from waddlebot import __version__
from waddlebot.runtime import Runtime
from waddlebot.web.deps import get_runtime

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok", "version": __version__}


@router.get("/readyz")
async def readyz(runtime: Runtime = Depends(get_runtime)) -> Any:
    """The process can reach its database and cache; 503 otherwise."""
    checks = {
        "database": await _safe(runtime.db.ping()),
        "cache": await _safe(runtime.ports.cache.ping()),
    }
    ready = all(checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "unavailable", "checks": checks},
        status_code=200 if ready else 503,
    )


@router.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


async def _safe(check: Any) -> bool:
    try:
        return bool(await check)
    except Exception:
        return False
