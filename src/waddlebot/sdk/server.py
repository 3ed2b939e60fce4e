"""One module served alone over HTTP, its calls signed with a shared HMAC secret.

``POST /v1/handle`` takes a signed :class:`~waddlebot.core.contract.ModuleRequest` and answers a
signed :class:`~waddlebot.core.contract.ModuleResponse`; ``GET /v1/manifest`` and ``GET /healthz``
are public. Every answer carries signature headers over its body, so the router can check that it
came from a holder of the secret. A handler's ``ctx.store`` goes to the bot's store endpoint with
the grant the call carries (``sdk/store_http.py``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.responses import Response
from pydantic import ValidationError

from waddlebot.core.contract import ModuleRequest
from waddlebot.infra.bodies import read_capped
from waddlebot.infra.signing import SignatureError, sign, verify
from waddlebot.sdk import Module
from waddlebot.sdk.store_http import HttpStore

log = structlog.get_logger("waddlebot.module_server")

MAX_BODY_BYTES = 1_000_000


class _StoreClient:
    """One pooled HTTP client for the store calls of every handler, made on first use."""

    def __init__(self) -> None:
        self._http: httpx2.AsyncClient | None = None

    def get(self) -> httpx2.AsyncClient:
        if self._http is None:
            self._http = httpx2.AsyncClient(
                timeout=httpx2.Timeout(10.0), headers={"user-agent": "waddlebot-module"}
            )
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None


def create_module_app(module: Module, secret: bytes, *, store_url: str = "") -> FastAPI:
    """A FastAPI app serving ``module``; requests to ``/v1/handle`` must be signed with
    ``secret``, and every response is signed with it. ``store_url``: the bot's API as this
    module reaches it (``WADDLEBOT_MODULE_STORE_URL``), when not at the address the bot gives."""
    if not secret:
        raise ValueError("a module server needs a non-empty secret")
    store_client = _StoreClient()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await module.start()  # @module.on_start hooks
        try:
            yield
        finally:
            await module.stop()
            await store_client.close()

    app = FastAPI(
        title=f"waddlebot module {module.name}",
        version=module.manifest.version,
        lifespan=lifespan,
    )

    def signed(status: int, body: bytes) -> Response:
        return Response(
            content=body,
            status_code=status,
            media_type="application/json",
            headers=sign(secret, body),
        )

    def signed_json(status: int, payload: Any) -> Response:
        return signed(status, orjson.dumps(payload))

    @app.get("/v1/manifest")
    async def manifest() -> Response:
        return signed(200, module.manifest.model_dump_json().encode())

    @app.get("/healthz")
    async def healthz() -> Response:
        return signed_json(
            200, {"status": "ok", "module": module.name, "version": module.manifest.version}
        )

    @app.post("/v1/handle")
    async def handle(request: Request) -> Response:
        body = await read_capped(request, MAX_BODY_BYTES)
        if body is None:
            return signed_json(413, {"detail": "request body too large"})
        try:
            verify(secret, body, request.headers)
        except SignatureError as exc:
            log.warning(
                "module call refused",
                module=module.name,
                reason=exc.reason,
                client=request.client.host if request.client else None,
            )
            return signed_json(401, {"detail": f"invalid signature: {exc.reason}"})
        try:
            call = ModuleRequest.model_validate_json(body)
        except ValidationError as exc:
            errors = exc.errors(include_url=False, include_context=False, include_input=False)
            return signed_json(422, {"detail": errors})
        try:
            store = None
            if call.store is not None:
                store = HttpStore(store_client.get(), call.store, store_url)
            response = await module.handle(call, store=store)
        except Exception:
            log.exception(
                "module handler failed",
                module=module.name,
                command=call.command,
                kind=call.kind,
                request_id=call.request_id,
                session_id=call.session_id,
            )
            return signed_json(500, {"detail": "module error"})
        return signed(200, response.model_dump_json().encode())

    return app
