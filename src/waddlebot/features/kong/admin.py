"""Kong's Admin API, as the broker uses it: the whole declarative configuration replaced with
``POST /config?check_hash=1`` (a DB-less Kong takes no entity one by one). The configuration
goes as a string (``{"config": "..."}``): Kong hashes that string and answers 304 when it is
the one loaded already, so an unchanged configuration costs Kong nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx2
import orjson

TOKEN_HEADER = "Kong-Admin-Token"  # noqa: S105 - the name of a header
BUSY_ATTEMPTS = 3  # a node still loading the previous configuration is asked this often
MAX_RETRY_AFTER = 10.0  # seconds: a longer Retry-After is cut to this


@dataclass(frozen=True, slots=True)
class NodeResult:
    """What one node did with the configuration. ``outcome``: loaded (201), unchanged (304),
    rejected (400: a configuration Kong refuses, a bug of ours), busy (429 every time),
    unreachable, or failed (any other answer)."""

    node: str
    outcome: str
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome in ("loaded", "unchanged")


class KongAdmin:
    def __init__(
        self,
        http: httpx2.AsyncClient,
        token: str = "",
        *,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self._http = http
        self._headers = {TOKEN_HEADER: token} if token else {}
        self._sleep = sleep

    async def push(self, node: str, config: Mapping[str, Any]) -> NodeResult:
        body = {"config": orjson.dumps(config).decode()}
        for attempt in range(1, BUSY_ATTEMPTS + 1):
            try:
                response = await self._http.post(
                    f"{node}/config", params={"check_hash": "1"}, json=body, headers=self._headers
                )
            except httpx2.HTTPError as exc:
                return NodeResult(node, "unreachable", f"{type(exc).__name__}: {exc}")
            if response.status_code == 201:
                return NodeResult(node, "loaded")
            if response.status_code == 304:
                return NodeResult(node, "unchanged")
            if response.status_code == 429 and attempt < BUSY_ATTEMPTS:
                await self._sleep(_retry_after(response))
                continue
            outcome = {400: "rejected", 429: "busy"}.get(response.status_code, "failed")
            message = _without_keys(_message(response), config)
            return NodeResult(node, outcome, f"{response.status_code} {message}")
        raise AssertionError("unreachable: the last attempt returns")


def _retry_after(response: httpx2.Response) -> float:
    try:
        seconds = float(response.headers.get("Retry-After", "1"))
    except ValueError:
        seconds = 1.0
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def _message(response: httpx2.Response) -> str:
    """Kong's own words: its ``message`` (a 400's names the fields it refuses)."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:500]
    message = body.get("message") if isinstance(body, dict) else None
    return str(message or body)[:1000]


def _without_keys(message: str, config: Mapping[str, Any]) -> str:
    """``message`` with every API key of ``config`` masked: Kong may quote an entity it
    refuses, and what it says is logged."""
    for credential in config.get("keyauth_credentials", ()):
        message = message.replace(str(credential.get("key", "")) or "\0", "<key>")
    return message
