"""What the serverless invokers share around one call: the request payload (with its store
grant, size checked), the answer read as a ModuleResponse or Manifest, the pauses between
retries of a throttled call, and the meter told once per call."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from typing import Any, ClassVar, Self, TypeVar

import orjson
from pydantic import ValidationError

from waddlebot.core.contract import ModuleRequest, ModuleResponse
from waddlebot.core.manifest import Manifest
from waddlebot.router.remote import ModuleCallError, ModuleSetupError, StoreGrantFor
from waddlebot.serverless import MANIFEST_REQUEST, MAX_PAYLOAD_BYTES, Engine, Invocation, Meter

DETAIL_LIMIT = 200
_Read = TypeVar("_Read", ModuleResponse, Manifest)


def short(text: str, limit: int = DETAIL_LIMIT) -> str:
    """An engine's error text cut to one short line (no stack traces in chat or logs)."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def request_payload(
    label: str, request: ModuleRequest, store_grants: StoreGrantFor | None
) -> bytes:
    """The invocation payload; :class:`ModuleCallError` (nothing sent) past the size limit."""
    if store_grants is not None:  # the way to its ctx.store, for this call only
        request = request.model_copy(update={"store": store_grants(label, request)})
    payload = request.model_dump_json().encode()
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ModuleCallError(
            label,
            f"request payload is {len(payload)} bytes, over the {MAX_PAYLOAD_BYTES}-byte "
            "limit for a serverless invocation; not sent",
        )
    return payload


def _read(label: str, result: bytes, model: type[_Read], what: str) -> _Read:
    try:
        return model.model_validate_json(result)
    except ValidationError as exc:
        raise ModuleCallError(
            label, f"invalid {what}: {exc.error_count()} error(s): {short(str(exc), 120)}"
        ) from exc


def module_response(label: str, result: bytes) -> ModuleResponse:
    return _read(label, result, ModuleResponse, "response")


def manifest(label: str, result: bytes) -> Manifest:
    return _read(label, result, Manifest, "manifest")


@dataclass
class Backoff:
    """Growing pauses with jitter between retries of a throttled (or not yet finished) call,
    never sleeping past the call's deadline."""

    base: float = 0.05
    cap: float = 2.0

    def pause(self, attempt: int) -> float:
        ceiling = min(self.cap, self.base * 2**attempt)
        return ceiling * random.uniform(0.5, 1.0)

    async def wait(self, attempt: int, deadline: float | None) -> bool:
        """Sleep before retry ``attempt`` (0 for the first); False (no sleep) when the pause
        would end past ``deadline`` (a loop time), so the caller gives up now."""
        pause = self.pause(attempt)
        if deadline is not None and asyncio.get_running_loop().time() + pause >= deadline:
            return False
        await asyncio.sleep(pause)
        return True


@dataclass
class Metering:
    """One call's report to the meter: the engine's billed time of the last attempt made."""

    meter: Meter | None
    module: str
    community_id: int
    engine: Engine
    billed_ms: float = 0.0
    ok: bool = False

    def report(self) -> None:
        if self.meter is not None:
            self.meter(
                Invocation(self.module, self.community_id, self.engine, self.billed_ms, self.ok)
            )


class FunctionModuleClient:
    """A :class:`~waddlebot.router.modules.ModuleClient` for a module deployed as a function:
    what every engine does alike (the manifest asked of the function, a call metered and read
    as a ModuleResponse). A subclass says which engine, where (``_where``) and how one
    payload is invoked (``_invoke``)."""

    engine: ClassVar[Engine]

    def __init__(
        self,
        manifest: Manifest | None,
        meter: Meter | None,
        store_grants: StoreGrantFor | None,
    ) -> None:
        self._manifest = manifest
        self._meter = meter
        self._store_grants = store_grants

    @classmethod
    async def connect(cls, *args: Any, expected_name: str | None = None, **options: Any) -> Self:
        """A client whose manifest was fetched from the function; :class:`ModuleCallError`
        (closed again) when it cannot be, :class:`ModuleSetupError` when the function serves
        another module than ``expected_name``."""
        client = cls(*args, **options)
        try:
            await client.fetch_manifest()
            if expected_name is not None and client.name != expected_name:
                raise ModuleSetupError(
                    expected_name,
                    f"{client._where} serves module {client.name!r}, not {expected_name!r}",
                )
        except BaseException:
            await client.close()
            raise
        return client

    @property
    def _where(self) -> str:
        """The function as the operator named it (``Lambda function eightball``)."""
        raise NotImplementedError

    async def _invoke(self, payload: bytes, metering: Metering) -> bytes:
        """The function's result for ``payload``; the engine's billed time into ``metering``."""
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    @property
    def manifest(self) -> Manifest:
        if self._manifest is None:
            raise RuntimeError(f"manifest of {self._where} not fetched yet; use connect()")
        return self._manifest

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def _label(self) -> str:
        return self._manifest.name if self._manifest is not None else self._where

    async def fetch_manifest(self) -> Manifest:
        """Invoke the function with :data:`MANIFEST_REQUEST` and keep what it answers."""
        unmetered = Metering(None, self._label, 0, self.engine)
        result = await self._invoke(orjson.dumps(MANIFEST_REQUEST), unmetered)
        self._manifest = manifest(self._label, result)
        return self._manifest

    async def call(self, request: ModuleRequest) -> ModuleResponse:
        metering = Metering(self._meter, self._label, request.community_id, self.engine)
        try:
            payload = request_payload(self._label, request, self._store_grants)
            response = module_response(self._label, await self._invoke(payload, metering))
            metering.ok = True
            return response
        finally:
            metering.report()
