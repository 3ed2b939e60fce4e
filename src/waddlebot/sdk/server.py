"""One module served alone over HTTP, its calls signed with a shared HMAC secret
(:mod:`waddlebot.infra.webhook_signing`: Standard Webhooks headers, the old ones accepted too).

``POST /v1/handle`` takes a signed :class:`~waddlebot.core.contract.ModuleRequest` and answers a
signed :class:`~waddlebot.core.contract.ModuleResponse`; ``GET /v1/manifest`` and ``GET /healthz``
are public. Every answer carries signature headers over its body, so the router can check that it
came from a holder of the secret; the answer to a call is signed with the call's
``webhook-id``, and a call seen before is refused (a replay). A handler's ``ctx.store``
goes to the bot's store endpoint with the grant the call carries (``sdk/store_http.py``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx2
import structlog
from fastapi import FastAPI, Request
from fastapi.responses import Response

from waddlebot.infra.bodies import read_capped
from waddlebot.sdk import Module
from waddlebot.sdk.signed_calls import MAX_BODY_BYTES, SignedAnswer, SignedCalls
from waddlebot.sdk.store_http import HttpStore

log = structlog.get_logger("waddlebot.module_server")


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
    app, calls, handle = _signed_app(module, secret, store_url, answers_manifest=False)

    @app.get("/v1/manifest")
    async def manifest() -> Response:
        return _response(calls.manifest())

    app.post("/v1/handle")(handle)
    return app


def create_function_app(module: Module, secret: bytes, *, store_url: str = "") -> FastAPI:
    """``module`` as a signed HTTP function: a signed POST to any path (a platform mounts a
    function under its own) is a call, or, with ``{"waddlebot": "manifest"}``, asks for the
    manifest; ``GET /healthz`` answers as the module server's; any other method is a 405."""
    app, _, handle = _signed_app(module, secret, store_url, answers_manifest=True)
    app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])(handle)
    return app


def _response(answer: SignedAnswer) -> Response:
    return Response(content=answer.body, status_code=answer.status, headers=answer.headers)


def _signed_app(
    module: Module, secret: bytes, store_url: str, *, answers_manifest: bool
) -> tuple[FastAPI, SignedCalls, Callable[[Request], Awaitable[Response]]]:
    """The app with its lifespan and ``GET /healthz``, its signed calls, and the endpoint that
    answers a signed call (for the caller to route)."""
    if not secret:
        raise ValueError("a module server needs a non-empty secret")
    calls = SignedCalls(module, secret, answers_manifest=answers_manifest)
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

    @app.get("/healthz")
    async def healthz() -> Response:
        return _response(
            calls.answer_json(
                200, {"status": "ok", "module": module.name, "version": module.manifest.version}
            )
        )

    async def handle(request: Request) -> Response:
        body = await read_capped(request, MAX_BODY_BYTES)
        client = request.client.host if request.client else None

        def refused(reason: str) -> None:
            log.warning("module call refused", module=module.name, reason=reason, client=client)

        opened = calls.open(request.method, body, request.headers, refused=refused)
        if isinstance(opened, SignedAnswer):
            return _response(opened)
        call = opened.request
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
            return _response(calls.failed(opened))
        return _response(calls.answered(opened, response.model_dump_json().encode()))

    return app, calls, handle
