"""Request dependencies: the process's runtime and API-key authentication."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from datetime import UTC, datetime

from fastapi import Depends, HTTPException, Request, WebSocket, status

from waddlebot.runtime import Runtime
from waddlebot.services.apikeys import ApiKeyInfo

# the key given in WADDLEBOT_API_KEY (for deployments that inject one secret everywhere)
ENV_KEY = ApiKeyInfo(
    id=0,
    key_id="env",
    name="WADDLEBOT_API_KEY",
    scopes=("*",),
    community_id=None,
    created_at=datetime(1970, 1, 1, tzinfo=UTC),
)


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def presented_key(headers: Mapping[str, str]) -> str:
    """The key from ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``."""
    auth = headers.get("authorization") or ""
    scheme, _, token = auth.partition(" ")
    if scheme.lower() == "bearer" and token:
        return token.strip()
    return (headers.get("x-api-key") or "").strip()


async def authenticate(runtime: Runtime, key: str) -> ApiKeyInfo | None:
    if not key:
        return None
    static = runtime.settings.api_key.get_secret_value()
    if static and hmac.compare_digest(static.encode(), key.encode()):
        return ENV_KEY
    return await runtime.keys.verify(key)


async def require_api_key(request: Request, runtime: Runtime = Depends(get_runtime)) -> ApiKeyInfo:
    info = await authenticate(runtime, presented_key(request.headers))
    if info is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "a valid API key is required (Authorization: Bearer <key> or X-API-Key)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return info


async def websocket_api_key(websocket: WebSocket) -> ApiKeyInfo | None:
    runtime: Runtime = websocket.app.state.runtime
    return await authenticate(runtime, presented_key(websocket.headers))
