"""One module served alone over HTTP, its calls signed with a shared HMAC secret
(:mod:`waddlebot.infra.webhook_signing`: Standard Webhooks headers, the old ones accepted too).

``POST /v1/handle`` takes a signed :class:`~waddlebot.core.contract.ModuleRequest` and answers a
signed :class:`~waddlebot.core.contract.ModuleResponse`; ``GET /v1/manifest`` and ``GET /healthz``
are public. Every answer carries signature headers over its body, so the router can check that it
came from a holder of the secret; the answer to a call is signed with the call's
``webhook-id``, and a call seen before is refused (a replay).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.responses import Response
from pydantic import ValidationError

from waddlebot.core.contract import ModuleRequest
from waddlebot.infra.bodies import read_capped
from waddlebot.infra.signing import SignatureError
from waddlebot.infra.webhook_signing import ReplayGuard, sign_message, signing_key, verify_message
from waddlebot.sdk import Module

log = structlog.get_logger("waddlebot.module_server")

MAX_BODY_BYTES = 1_000_000


def create_module_app(module: Module, secret: bytes) -> FastAPI:
    """A FastAPI app serving ``module``; requests to ``/v1/handle`` must be signed with
    ``secret``, and every response is signed with it."""
    if not secret:
        raise ValueError("a module server needs a non-empty secret")
    signing_key(secret)  # a whsec_ secret that is no base64 is refused before serving

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await module.start()  # @module.on_start hooks
        try:
            yield
        finally:
            await module.stop()

    app = FastAPI(
        title=f"waddlebot module {module.name}",
        version=module.manifest.version,
        lifespan=lifespan,
    )
    replays = ReplayGuard()

    def signed(status: int, body: bytes, answering: str | None = None) -> Response:
        return Response(
            content=body,
            status_code=status,
            media_type="application/json",
            headers=sign_message(secret, body, message_id=answering),
        )

    def signed_json(status: int, payload: Any, answering: str | None = None) -> Response:
        return signed(status, orjson.dumps(payload), answering)

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
            answering = verify_message(secret, body, request.headers, replays=replays).message_id
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
            return signed_json(422, {"detail": errors}, answering)
        try:
            response = await module.handle(call)
        except Exception:
            log.exception(
                "module handler failed",
                module=module.name,
                command=call.command,
                kind=call.kind,
                request_id=call.request_id,
                session_id=call.session_id,
            )
            return signed_json(500, {"detail": "module error"}, answering)
        return signed(200, response.model_dump_json().encode(), answering)

    return app
