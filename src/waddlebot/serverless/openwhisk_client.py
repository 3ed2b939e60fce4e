"""A ``#`` module on Apache OpenWhisk: each call is a blocking action invocation over the REST
API (``POST /api/v1/namespaces/{ns}/actions/[{pkg}/]{action}?blocking=true``), answered with
the activation record (its ``duration`` goes to the meter, its ``response`` is the result).

When OpenWhisk's blocking wait runs out first it answers 202 with the activation id; the
activation is then polled (404 while it runs) with growing pauses until the call's deadline.
A throttled call (429) is retried likewise. Everything runs under one ``asyncio.timeout``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx2
import orjson

from waddlebot.core.errors import ConfigurationError
from waddlebot.core.manifest import Manifest
from waddlebot.router.remote import (
    ModuleCallError,
    ModuleUnreachable,
    StoreGrantFor,
    checked_url,
)
from waddlebot.serverless import Meter
from waddlebot.serverless.calls import (
    Backoff,
    FunctionModuleClient,
    Metering,
    short,
)

BLOCKING_WAIT_MS = 60_000  # the longest blocking wait OpenWhisk grants
_POLL = Backoff(base=0.05, cap=1.0)


def action_path(action: str, namespace: str = "_") -> tuple[str, str]:
    """``(namespace, "pkg/action" or "action")`` of an action name: ``/ns/[pkg/]action`` is
    fully qualified, as is ``ns/pkg/action``; ``pkg/action`` and ``action`` are in
    ``namespace`` (``_``: the API key's own). ConfigurationError for anything else."""
    text = action.strip()
    parts = text.strip("/").split("/")
    if not all(part.strip() for part in parts) or not namespace.strip():
        raise ConfigurationError(f"OpenWhisk action {action!r} is not [/namespace/][pkg/]action")
    if text.startswith("/") and len(parts) in (2, 3):
        return parts[0], "/".join(parts[1:])
    if not text.startswith("/") and len(parts) == 3:
        return parts[0], "/".join(parts[1:])
    if not text.startswith("/") and len(parts) in (1, 2):
        return namespace.strip(), "/".join(parts)
    raise ConfigurationError(f"OpenWhisk action {action!r} is not [/namespace/][pkg/]action")


def _error_text(response: httpx2.Response) -> str:
    try:
        payload = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return short(response.text)
    if isinstance(payload, dict) and "error" in payload:
        return short(str(payload["error"]))
    return short(response.text)


@dataclass
class _Progress:
    activation_id: str = ""


class OpenWhiskModuleClient(FunctionModuleClient):
    """A :class:`~waddlebot.router.modules.ModuleClient` for a module deployed as an OpenWhisk
    action (``waddlebot module package NAME --target openwhisk``)."""

    engine = "openwhisk"

    def __init__(
        self,
        api_host: str,
        namespace: str,
        action: str,
        api_key: str,
        *,
        timeout: float = 10.0,
        insecure: bool = False,
        manifest: Manifest | None = None,
        meter: Meter | None = None,
        store_grants: StoreGrantFor | None = None,
        backoff: Backoff | None = None,
        transport: httpx2.AsyncBaseTransport | None = None,
    ) -> None:
        """``api_host``: ``https://host[:port]`` (a bare host means https). ``namespace``: the
        action's (``_``: the API key's own); ``action``: ``[pkg/]action`` in it, or a fully
        qualified ``/ns/[pkg/]action`` (see :func:`action_path`). ``api_key``: the
        ``uuid:key`` pair. ``insecure``: skip TLS verification (a self-signed local
        deployment), never the default. ``timeout``: each call's whole deadline."""
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        user, sep, key = api_key.partition(":")
        if not (user and sep and key):
            raise ConfigurationError("the OpenWhisk API key must be 'uuid:key'")
        host = api_host.strip()
        try:
            self._api_host = checked_url(host if "://" in host else f"https://{host}")
        except ValueError as exc:
            raise ConfigurationError(f"OpenWhisk API host {api_host!r} {exc}") from exc
        self._namespace, self._action = action_path(action, namespace)
        self._path = f"/api/v1/namespaces/{quote(self._namespace, safe='')}/actions/" + "/".join(
            quote(part, safe="") for part in self._action.split("/")
        )
        self._timeout = timeout
        super().__init__(manifest, meter, store_grants)
        self._backoff = backoff or Backoff()
        self._http = httpx2.AsyncClient(
            base_url=self._api_host,
            auth=(user, key),
            verify=not insecure,
            timeout=httpx2.Timeout(timeout + 1),  # the call's deadline fires first
            transport=transport,
            headers={"user-agent": "waddlebot-router"},
        )

    @property
    def action(self) -> str:
        """The fully qualified action name, ``/ns/[pkg/]action``."""
        return f"/{self._namespace}/{self._action}"

    @property
    def _where(self) -> str:
        return f"OpenWhisk action {self.action}"

    async def _invoke(self, payload: bytes, metering: Metering) -> bytes:
        """The activation's result (JSON); this module's error types for everything else."""
        progress = _Progress()
        try:
            async with asyncio.timeout(self._timeout) as deadline:
                record = await self._activation(payload, deadline, progress)
        except (TimeoutError, httpx2.TimeoutException) as exc:
            running = f" (activation {progress.activation_id} still running)"
            raise TimeoutError(
                f"module {self._label!r}: OpenWhisk action {self.action} did not answer within "
                f"{self._timeout}s" + (running if progress.activation_id else "")
            ) from exc
        except httpx2.HTTPError as exc:
            raise ModuleUnreachable(
                self._label, f"cannot reach OpenWhisk: {type(exc).__name__}: {short(str(exc))}"
            ) from exc
        duration = record.get("duration")
        metering.billed_ms = float(duration) if isinstance(duration, int | float) else 0.0
        outcome = record.get("response")
        if not isinstance(outcome, dict):
            raise ModuleCallError(self._label, "OpenWhisk answered an activation without response")
        result = outcome.get("result")
        if not outcome.get("success"):
            error = result.get("error", result) if isinstance(result, dict) else result
            text = error if isinstance(error, str) else orjson.dumps(error).decode()
            raise ModuleCallError(
                self._label,
                f"activation {record.get('activationId', '?')} "
                f"{outcome.get('status', 'failed')}: {short(text)}",
            )
        return orjson.dumps(result)

    async def _activation(
        self, payload: bytes, deadline: asyncio.Timeout, progress: _Progress
    ) -> dict[str, Any]:
        """The finished activation's record: invoked blocking, throttled tries retried, polled
        when the blocking wait ran out."""
        loop = asyncio.get_running_loop()
        attempt = 0
        while True:
            when = deadline.when()
            left_ms = BLOCKING_WAIT_MS if when is None else int((when - loop.time()) * 1000)
            response = await self._http.post(
                self._path,
                params={"blocking": "true", "timeout": str(max(1, min(BLOCKING_WAIT_MS, left_ms)))},
                content=payload,
                headers={"content-type": "application/json"},
            )
            if response.status_code == 429:
                if not await self._backoff.wait(attempt, deadline.when()):
                    raise ModuleCallError(
                        self._label,
                        f"OpenWhisk throttled the call {attempt + 1} time(s) (HTTP 429: "
                        f"{_error_text(response)}); gave up within the {self._timeout}s deadline",
                    )
                attempt += 1
                continue
            if response.status_code == 202:
                progress.activation_id = self._activation_id(response)
                return await self._poll(progress.activation_id, deadline)
            return self._record(response)

    def _activation_id(self, response: httpx2.Response) -> str:
        try:
            payload = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            payload = None
        if not isinstance(payload, dict) or not isinstance(payload.get("activationId"), str):
            raise ModuleCallError(self._label, "OpenWhisk answered 202 without an activation id")
        activation_id: str = payload["activationId"]
        return activation_id

    async def _poll(self, activation_id: str, deadline: asyncio.Timeout) -> dict[str, Any]:
        path = f"/api/v1/namespaces/{quote(self._namespace, safe='')}/activations/{activation_id}"
        attempt = 0
        while True:
            if not await _POLL.wait(attempt, deadline.when()):
                raise TimeoutError  # the next look would come after the deadline
            attempt += 1
            response = await self._http.get(path)
            if response.status_code in (404, 429):  # not finished yet; or looking too often
                continue
            return self._record(response)

    def _record(self, response: httpx2.Response) -> dict[str, Any]:
        """An activation record (200, or 502 for a failed activation); errors say what."""
        status = response.status_code
        if status in (200, 502):
            try:
                record = orjson.loads(response.content)
            except orjson.JSONDecodeError:
                record = None
            if isinstance(record, dict) and "response" in record:
                return record
            if status == 200:
                raise ModuleCallError(self._label, "OpenWhisk answered no activation record")
        detail = _error_text(response)
        if status == 401:
            reason = f"OpenWhisk refused the API key (HTTP 401: {detail}); check the key"
        elif status == 403:
            reason = f"the API key may not use namespace {self._namespace!r} (HTTP 403: {detail})"
        elif status == 404:
            reason = f"no such OpenWhisk action {self.action} (HTTP 404: {detail})"
        else:
            reason = f"OpenWhisk answered HTTP {status}: {detail}"
        if status >= 500:
            raise ModuleUnreachable(self._label, reason)
        raise ModuleCallError(self._label, reason)

    async def close(self) -> None:
        await self._http.aclose()
