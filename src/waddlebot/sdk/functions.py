"""A module run as a serverless function: the entry points AWS Lambda and Apache OpenWhisk call.

``waddlebot module package`` writes the few lines that use them (``handler =
lambda_handler(module)``; OpenWhisk's ``main``), so a module runs on either platform without
changing a line. The payload is a :class:`~waddlebot.core.contract.ModuleRequest` JSON object
and the result a :class:`~waddlebot.core.contract.ModuleResponse` one;
:data:`~waddlebot.core.functions.MANIFEST_REQUEST` is answered with the module's manifest.

As a signed HTTP function (Lambda function URLs, OpenWhisk raw web actions, or an ASGI app for
Knative, OpenFaaS, Cloud Run or any container) the same module answers signed POSTs, as the
module server does (:mod:`waddlebot.sdk.signed_calls`); the secret is the function's
``WADDLEBOT_MODULE_SECRET``, read when a call comes.

Kept light: a cold start imports this, the SDK and the module, no web framework or database.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import os
import sys
import traceback
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import httpx2
import orjson
from pydantic import ValidationError

from waddlebot.core.contract import ModuleRequest, ModuleResponse
from waddlebot.core.functions import MANIFEST_REQUEST
from waddlebot.sdk import Module
from waddlebot.sdk.signed_calls import JSON, SignedAnswer, SignedCalls
from waddlebot.sdk.store_http import HttpStore

if TYPE_CHECKING:
    from fastapi import FastAPI

SECRET_VARIABLE = "WADDLEBOT_MODULE_SECRET"  # noqa: S105 - the variable's name, no secret
"""Where a signed HTTP function finds its secret: its environment (or, on OpenWhisk, a
parameter bound to the action)."""

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
        return self.run(request).model_dump(mode="json")

    def run(self, request: ModuleRequest) -> ModuleResponse:
        """The module's answer to ``request``; a failure is logged and raised."""
        try:
            return self._event_loop().run_until_complete(self._handle(request))
        except Exception:
            self._log_failure(request)
            raise

    async def _handle(self, request: ModuleRequest) -> ModuleResponse:
        await self.module.start()  # the start hooks, on the first invocation of this process
        store = None
        if request.store is not None:
            store = HttpStore(self._client(), request.store, self._store_url)
        return await self.module.handle(request, store=store)

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


class SignedFunction:
    """A module answering signed HTTP calls that a platform hands over as an event (a Lambda
    function URL, an OpenWhisk web action), one at a time, in a warm process: a call seen
    before by this process is refused as a replay."""

    def __init__(self, module: Module, secret: bytes | str | None, *, platform: str) -> None:
        """``secret``: None to read :data:`SECRET_VARIABLE` when a call comes."""
        self._runtime = FunctionRuntime(module, platform=platform)
        self._platform = platform
        self._fixed = bool(secret)
        self._secret = b""
        self._calls: SignedCalls | None = None
        if secret:  # a bad secret is refused at once
            self._secret = _as_bytes(secret)
            self._calls = SignedCalls(module, self._secret, answers_manifest=True)

    @property
    def module(self) -> Module:
        return self._runtime.module

    def answer(
        self,
        method: str,
        body: bytes | None,
        headers: Mapping[str, str],
        *,
        bound_secret: str | None = None,
    ) -> SignedAnswer:
        """The answer to one HTTP request. ``bound_secret``: the secret the platform passed
        along (OpenWhisk's bound parameter), when none was given at construction."""
        calls = self._signed_calls(bound_secret)
        if isinstance(calls, str):  # nothing to sign with: the operator has a setting to fix
            return _unsigned(500, calls)
        opened = calls.open(method, body, headers, refused=self._refused)
        if isinstance(opened, SignedAnswer):
            return opened
        try:
            response = self._runtime.run(opened.request)  # a failure is logged there
        except Exception:
            return calls.failed(opened)
        return calls.answered(opened, response.model_dump_json().encode())

    def refuse(self, status: int, detail: str, *, bound_secret: str | None = None) -> SignedAnswer:
        """A request the platform's event cannot make a call of (signed when it can be)."""
        calls = self._signed_calls(bound_secret)
        if isinstance(calls, str):
            return _unsigned(status, detail)
        return calls.answer_json(status, {"detail": detail})

    def _signed_calls(self, bound: str | None) -> SignedCalls | str:
        """What signs this call, or why nothing can."""
        if self._fixed and self._calls is not None:
            return self._calls
        secret = (bound or os.environ.get(SECRET_VARIABLE, "")).encode()
        if not secret:
            return f"{SECRET_VARIABLE} is not set in the function's environment"
        if self._calls is None or secret != self._secret:
            try:
                self._calls = SignedCalls(self.module, secret, answers_manifest=True)
            except ValueError as exc:
                return f"{SECRET_VARIABLE} is not a usable secret: {exc}"
            self._secret = secret
        return self._calls

    def _refused(self, reason: str) -> None:
        print(
            f"waddlebot {self._platform} function {self.module.name}: a call was refused: {reason}",
            file=sys.stderr,
        )


def _unsigned(status: int, detail: str) -> SignedAnswer:
    return SignedAnswer(status, orjson.dumps({"detail": detail}), {"content-type": JSON})


def _as_bytes(secret: bytes | str) -> bytes:
    return secret if isinstance(secret, bytes) else secret.encode()


def _lambda_url_body(event: Mapping[str, Any]) -> bytes:
    body = event.get("body") or ""
    if not isinstance(body, str):
        raise ValueError("the event's body is not a string")
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=True)
        except binascii.Error as exc:
            raise ValueError("the event's body is not base64") from exc
    return body.encode()


def lambda_url_handler(
    module: Module, secret: bytes | str | None = None
) -> Callable[[Any, Any], dict[str, Any]]:
    """AWS Lambda's ``handler(event, context)`` for ``module`` behind a **Lambda function
    URL** (the payload format 2.0 event): a signed POST is a call, or asks for the manifest;
    the answer is the HTTP response, signed. 401 for a bad signature or a replay, 405 for
    another method, 400 for an event that is no function URL request. ``secret``: None to
    read ``WADDLEBOT_MODULE_SECRET`` from the function's environment."""
    function = SignedFunction(module, secret, platform="lambda")

    def handler(event: Any, context: Any) -> dict[str, Any]:
        http = event.get("requestContext", {}).get("http") if isinstance(event, Mapping) else None
        if not isinstance(http, Mapping) or not isinstance(http.get("method"), str):
            answer = function.refuse(
                400, "not a Lambda function URL request (payload format 2.0): call the URL"
            )
        else:
            try:
                body = _lambda_url_body(event)
            except ValueError as exc:
                answer = function.refuse(400, str(exc))
            else:
                answer = function.answer(http["method"], body, event.get("headers") or {})
        return {
            "statusCode": answer.status,
            "headers": answer.headers,
            "body": answer.body.decode(),
            "isBase64Encoded": False,
        }

    return handler


def _openwhisk_body(args: Mapping[str, Any], headers: Mapping[str, str]) -> bytes:
    """A raw web action's body: base64 unless its content type is text (JSON counts as
    binary to OpenWhisk)."""
    body = args.get("__ow_body", "")
    if not isinstance(body, str):
        raise ValueError("__ow_body is not a string")
    if str(headers.get("content-type", "")).lower().startswith("text/"):
        return body.encode()
    try:
        return base64.b64decode(body, validate=True)
    except binascii.Error as exc:
        raise ValueError("__ow_body is not base64") from exc


def openwhisk_web_main(
    module: Module, secret: bytes | str | None = None
) -> Callable[[Any], dict[str, Any]]:
    """Apache OpenWhisk's ``main(args)`` for ``module`` as a **raw web action** (``wsk action
    create ... --web raw``): the HTTP request arrives as ``__ow_method``, ``__ow_headers`` and
    ``__ow_body``, and the answer is ``{"statusCode", "headers", "body"}``, signed (its body
    base64, as OpenWhisk wants a JSON body). ``secret``: None to read
    ``WADDLEBOT_MODULE_SECRET`` from a parameter bound to the action, else the environment.
    A web action that is not raw (its body parsed into the arguments) is answered 400."""
    function = SignedFunction(module, secret, platform="openwhisk")

    def main(args: Any) -> dict[str, Any]:
        bound = args.get(SECRET_VARIABLE) if isinstance(args, Mapping) else None
        answer = _web_answer(function, args, bound if isinstance(bound, str) else None)
        return {
            "statusCode": answer.status,
            "headers": answer.headers,
            "body": base64.b64encode(answer.body).decode("ascii"),
        }

    return main


def _web_answer(function: SignedFunction, args: Any, secret: str | None) -> SignedAnswer:
    if not isinstance(args, Mapping) or not isinstance(args.get("__ow_method"), str):
        return function.refuse(
            400, "not a web action request: call the action's web URL", bound_secret=secret
        )
    headers = args.get("__ow_headers") or {}
    method = args["__ow_method"].upper()
    if method == "POST" and "__ow_body" not in args:
        return function.refuse(
            400,
            "the action must be a raw web action (--web raw): its body was parsed",
            bound_secret=secret,
        )
    try:
        body = _openwhisk_body(args, headers) if method == "POST" else b""
    except ValueError as exc:
        return function.refuse(400, str(exc), bound_secret=secret)
    return function.answer(method, body, headers, bound_secret=secret)


def http_function_app(
    module: Module, secret: bytes | str | None = None, *, store_url: str | None = None
) -> FastAPI:
    """``module`` as a signed HTTP function in a container (Knative, OpenFaaS, Cloud Run, ...):
    an ASGI app answering a signed POST at any path (platforms mount a function under their
    own), ``GET /healthz`` for probes. ``secret``: None for ``WADDLEBOT_MODULE_SECRET``;
    ``store_url``: None for ``WADDLEBOT_MODULE_STORE_URL``. Serve it with uvicorn."""
    from waddlebot.sdk.server import create_function_app  # the web framework, only here

    key = _as_bytes(secret) if secret else os.environ.get(SECRET_VARIABLE, "").encode()
    if not key:
        raise ValueError(f"{SECRET_VARIABLE} is not set: a signed HTTP function needs it")
    store = os.environ.get(STORE_URL_VARIABLE, "") if store_url is None else store_url
    return create_function_app(module, key, store_url=store)
