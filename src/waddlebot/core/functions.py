"""The serverless (``#``) module contract, the same on AWS Lambda, Apache OpenWhisk or any
signed HTTP function endpoint: the invocation payload is the
:class:`~waddlebot.core.contract.ModuleRequest` JSON (its ``event_id`` is the idempotency key),
the result is the :class:`~waddlebot.core.contract.ModuleResponse` JSON, and the payload
:data:`MANIFEST_REQUEST` asks a function for its manifest instead (what ``waddlebot module
register-function`` sends). Each call is reported to a :data:`Meter` for cost accounting.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

Engine = Literal["lambda", "openwhisk", "function"]
"""``function``: a signed HTTP function (:mod:`waddlebot.serverless.http_function`)."""

MANIFEST_REQUEST: dict[str, Any] = {"waddlebot": "manifest"}
"""The payload that asks a packaged function for its manifest (answered without running any
handler)."""

MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
"""Lambda's limit for a synchronous invocation's request and response; checked before sending."""


@dataclass(frozen=True, slots=True)
class Invocation:
    """One call of a serverless function, as cost accounting sees it."""

    module: str
    community_id: int
    engine: Engine
    # what the engine bills (Lambda's Billed Duration, OpenWhisk's duration; an HTTP
    # function's wall time)
    billed_ms: float
    ok: bool


Meter = Callable[[Invocation], None]
"""Told about every invocation (made or failed) after it returns; must not block."""
