"""A module run as a serverless function: the entry points AWS Lambda and Apache OpenWhisk call.

``waddlebot module package`` writes the few lines that use them (``handler =
lambda_handler(module)``; OpenWhisk's ``main``), so a module runs on either platform without
changing a line. The payload is a :class:`~waddlebot.core.contract.ModuleRequest` JSON object
and the result a :class:`~waddlebot.core.contract.ModuleResponse` one;
:data:`~waddlebot.serverless.MANIFEST_REQUEST` is answered with the module's manifest.

Kept light: a cold start imports this, the SDK and the module, no web framework or database.
"""

from __future__ import annotations

import asyncio
import os
import sys
import traceback
from collections.abc import Callable, Mapping
from typing import Any

import httpx2
from pydantic import ValidationError

from waddlebot.core.contract import ModuleRequest
from waddlebot.core.functions import MANIFEST_REQUEST
from waddlebot.sdk import Module
from waddlebot.sdk.store_http import HttpStore

STORE_URL_VARIABLE = "WADDLEBOT_MODULE_STORE_URL"
"""The bot's API as the function reaches it, when not at the address the grant names (as for
``waddlebot serve module:...``)."""

_OPENWHISK_KEYS = "__ow_"
_SHOWN_ERRORS = 5


class FunctionRuntime:
    """One module answering invocations in a process the platform keeps warm between them.

    The event loop and the HTTP client behind ``ctx.store`` live as long as the process: a
    pooled client belongs to the loop it was first used on, so a loop per call would break it.
    Invocations come one at a time (as Lambda and OpenWhisk make them).
    """

    def __init__(self, module: Module, *, platform: str, store_url: str | None = None) -> None:
        self.module = module
        self._platform = platform
        self._store_url = os.environ.get(STORE_URL_VARIABLE, "") if store_url is None else store_url
        self._loop: asyncio.AbstractEventLoop | None = None
        self._http: httpx2.AsyncClient | None = None

    def invoke(self, payload: Any) -> dict[str, Any]:
        """The answer to one invocation; a :class:`ValueError` saying what is wrong with a
        payload that is no ModuleRequest."""
        if (
            isinstance(payload, Mapping)
            and payload.get("waddlebot") == MANIFEST_REQUEST["waddlebot"]
        ):
            return self.module.manifest.model_dump(mode="json")
        request = parse_request(payload)
        try:
            return self._event_loop().run_until_complete(self._handle(request))
        except Exception:
            self._log_failure(request)
            raise

    async def _handle(self, request: ModuleRequest) -> dict[str, Any]:
        await self.module.start()  # the start hooks, on the first invocation of this process
        store = None
        if request.store is not None:
            store = HttpStore(self._client(), request.store, self._store_url)
        response = await self.module.handle(request, store=store)
        return response.model_dump(mode="json")

    def _event_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None or self._loop.is_closed():
            self._loop = asyncio.new_event_loop()
            self._http = None  # a client made on a loop that is gone cannot be used again
        return self._loop

    def _client(self) -> httpx2.AsyncClient:
        if self._http is None:
            self._http = httpx2.AsyncClient(
                timeout=httpx2.Timeout(10.0), headers={"user-agent": "waddlebot-function"}
            )
        return self._http

    def _log_failure(self, request: ModuleRequest) -> None:
        # the platform's log is stderr; the request's config and store grant are not written
        print(
            f"waddlebot {self._platform} function {self.module.name}: the {request.kind} "
            f"{request.command!r} failed (request_id={request.request_id}, "
            f"session_id={request.session_id}, event_id={request.event_id})",
            file=sys.stderr,
        )
        traceback.print_exc(file=sys.stderr)


def parse_request(payload: Any) -> ModuleRequest:
    """``payload`` as a ModuleRequest, or a :class:`ValueError` naming what is wrong (never
    the values themselves: a payload carries a store token)."""
    if not isinstance(payload, Mapping):
        raise ValueError(
            f"the invocation payload must be a JSON object (a ModuleRequest), "
            f"not {type(payload).__name__}"
        )
    try:
        return ModuleRequest.model_validate(payload)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(part) for part in error['loc']) or '(payload)'}: {error['msg']}"
            for error in exc.errors(include_url=False, include_context=False, include_input=False)
        ]
        more = len(problems) - _SHOWN_ERRORS
        shown = "; ".join(problems[:_SHOWN_ERRORS]) + (f"; and {more} more" if more > 0 else "")
        raise ValueError(f"the invocation payload is not a ModuleRequest: {shown}") from None


def lambda_handler(module: Module) -> Callable[[Any, Any], dict[str, Any]]:
    """AWS Lambda's ``handler(event, context)`` for ``module``: the event is the ModuleRequest
    (or the manifest request), the result the ModuleResponse. A bad event raises, which Lambda
    reports as a function error."""
    runtime = FunctionRuntime(module, platform="lambda")

    def handler(event: Any, context: Any) -> dict[str, Any]:
        return runtime.invoke(event)

    return handler


def openwhisk_main(module: Module) -> Callable[[Any], dict[str, Any]]:
    """Apache OpenWhisk's ``main(args)`` for ``module``. OpenWhisk adds ``__ow_*`` keys to a
    web action's arguments (its method, headers, path): they are left out before reading the
    ModuleRequest. A bad payload raises, which OpenWhisk reports as the activation's error."""
    runtime = FunctionRuntime(module, platform="openwhisk")

    def main(args: Any) -> dict[str, Any]:
        if isinstance(args, Mapping):
            args = {
                key: value for key, value in args.items() if not key.startswith(_OPENWHISK_KEYS)
            }
        return runtime.invoke(args)

    return main
