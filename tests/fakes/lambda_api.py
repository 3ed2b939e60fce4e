"""``FakeLambda``: AWS Lambda's Invoke API (``POST /2015-03-31/functions/{name}/invocations``)
on a loopback port, running real function zips in warm worker processes
(:mod:`tests.fakes.function_runner`).

async with FakeLambda(region="eu-west-1") as aws:
    aws.add_function("echo", zip_path)
    client = LambdaModuleClient("echo", region="eu-west-1", endpoint_url=aws.url, ...)
    aws.throttle("echo", times=2)

Requests must carry a SigV4 ``Authorization`` header of the right shape, scoped to the fake's
region and to ``lambda`` (the signature itself is not recomputed), and ``X-Amz-Date``; errors
are answered as Lambda answers them: the ``x-amzn-ErrorType`` header and a JSON body.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import math
import re
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.harness import serving_app

from .background import BackgroundTasks
from .function_runner import FunctionRunner, Outcome

MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
_LOG_TAIL_BYTES = 4096  # Lambda returns the last 4 KB of the invocation's log
_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[A-Z0-9]{16,128})/(?P<date>\d{8})/(?P<region>[^/]+)"
    r"/(?P<service>[^/]+)/aws4_request, ?SignedHeaders=(?P<signed>[a-z0-9;-]+), "
    r"?Signature=(?P<signature>[0-9a-f]{64})"
)
_AMZ_DATE = re.compile(r"\d{8}T\d{6}Z")


@dataclass
class LambdaFunction:
    name: str
    runner: FunctionRunner
    timeout: float


@dataclass
class Invoked:
    """One request that reached the Invoke route, whatever was answered."""

    function: str
    payload: bytes
    headers: dict[str, str]
    status: int = 0
    request_id: str = ""
    log_tail: str = ""  # the X-Amz-Log-Result answered, decoded

    @property
    def event(self) -> Any:
        return json.loads(self.payload)


def _error(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    kind = "Service" if status >= 500 else "User"
    return JSONResponse(
        {"Type": kind, "message": message, **extra},
        status_code=status,
        headers={"x-amzn-ErrorType": code, "x-amzn-RequestId": str(uuid.uuid4())},
    )


class FakeLambda:
    def __init__(
        self,
        *,
        region: str = "us-east-1",
        account_id: str = "123456789012",
        layer_paths: list[str] | None = None,
    ) -> None:
        """``layer_paths``: what every function finds beside its zip (default: the test
        venv's site-packages)."""
        self.region = region
        self.account_id = account_id
        self.layer_paths = layer_paths
        self.functions: dict[str, LambdaFunction] = {}
        self.invocations: list[Invoked] = []
        self.background = BackgroundTasks("fake Lambda")
        self.url = ""
        self._throttled: Counter[str] = Counter()
        self._failing: Counter[str] = Counter()
        self._delays: dict[str, float] = {}
        self._stack = contextlib.AsyncExitStack()

    # --- set up by tests -----------------------------------------------------------------------

    def add_function(
        self,
        name: str,
        zip_path: str | Path,
        handler: str = "waddlebot_handler.handler",
        *,
        timeout: float = 30.0,
        layer_paths: list[str] | None = None,
        env: dict[str, str] | None = None,
    ) -> LambdaFunction:
        """Deploy a zip; ``timeout`` is the function's configured limit in seconds."""
        runner = FunctionRunner(
            zip_path,
            handler,
            style="lambda",
            function_name=name,
            layer_paths=self.layer_paths if layer_paths is None else layer_paths,
            env={"AWS_REGION": self.region, "AWS_LAMBDA_FUNCTION_NAME": name, **(env or {})},
        )
        self.functions[name] = function = LambdaFunction(name, runner, timeout)
        return function

    def arn(self, name: str) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account_id}:function:{name}"

    def throttle(self, name: str, times: int = 1) -> None:
        """The next ``times`` invocations of ``name`` answer 429 TooManyRequestsException."""
        self._throttled[name] += times

    def fail(self, name: str, times: int = 1) -> None:
        """The next ``times`` invocations of ``name`` answer 500 ServiceException."""
        self._failing[name] += times

    def delay(self, name: str, seconds: float) -> None:
        """Every invocation of ``name`` waits ``seconds`` before the function runs (a slow
        cold start); 0 to stop."""
        self._delays[name] = seconds

    def calls(self, name: str) -> list[Invoked]:
        return [invoked for invoked in self.invocations if invoked.function == name]

    # --- lifecycle -----------------------------------------------------------------------------

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/2015-03-31/functions/{name}/invocations", self._invoke, methods=["POST"])
            ]
        )

    async def __aenter__(self) -> FakeLambda:
        self.url = await self._stack.enter_async_context(serving_app(self.app()))
        return self

    async def __aexit__(self, *exc: object) -> None:
        # workers first: a request still waiting on one then ends, and the server can stop
        await asyncio.gather(*(f.runner.close() for f in self.functions.values()))
        await self.background.cancel()
        await self._stack.aclose()

    # --- the API -------------------------------------------------------------------------------

    def _refused_signature(self, request: Request) -> JSONResponse | None:
        header = request.headers.get("authorization")
        if not header:
            return _error(
                403, "MissingAuthenticationTokenException", "Missing Authentication Token"
            )
        found = _AUTHORIZATION.fullmatch(header)
        if found is None:
            return _error(
                403,
                "IncompleteSignatureException",
                "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' "
                "parameters.",
            )
        amz_date = request.headers.get("x-amz-date", "")
        if not _AMZ_DATE.fullmatch(amz_date):
            return _error(
                403,
                "IncompleteSignatureException",
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' "
                "header.",
            )
        if found["region"] != self.region:
            return _error(
                403,
                "InvalidSignatureException",
                f"Credential should be scoped to a valid region, not '{found['region']}'. ",
            )
        if found["service"] != "lambda":
            return _error(
                403,
                "InvalidSignatureException",
                "Credential should be scoped to correct service: 'lambda'. ",
            )
        if found["date"] != amz_date[:8]:
            return _error(
                403,
                "InvalidSignatureException",
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of "
                "date from HTTP",
            )
        signed = found["signed"].split(";")
        if "host" not in signed or "x-amz-date" not in signed:
            return _error(
                403,
                "InvalidSignatureException",
                "The request signature we calculated does not match the signature you provided.",
            )
        return None

    def _function(self, reference: str) -> LambdaFunction | None:
        """By name, partial ARN (``account:function:name``) or full ARN, an optional
        ``:$LATEST`` qualifier after it."""
        parts = reference.split(":")
        if reference.startswith("arn:"):
            if len(parts) < 7 or parts[3] != self.region or parts[4] != self.account_id:
                return None
            parts = parts[6:]
        elif len(parts) >= 3 and parts[1] == "function":
            if parts[0] != self.account_id:
                return None
            parts = parts[2:]
        if len(parts) > 2 or (len(parts) == 2 and parts[1] != "$LATEST"):
            return None
        return self.functions.get(parts[0])

    async def _invoke(self, request: Request) -> Response:
        reference = request.path_params["name"]
        payload = await request.body()
        invoked = Invoked(reference, payload, dict(request.headers))
        self.invocations.append(invoked)
        response = await self._answer(request, reference, payload, invoked)
        invoked.status = response.status_code
        if "x-amz-log-result" in response.headers:
            invoked.log_tail = base64.b64decode(response.headers["x-amz-log-result"]).decode()
        return response

    async def _answer(
        self, request: Request, reference: str, payload: bytes, invoked: Invoked
    ) -> Response:
        refused = self._refused_signature(request)
        if refused is not None:
            return refused
        function = self._function(reference)
        if function is None:
            return _error(
                404,
                "ResourceNotFoundException",
                f"Function not found: {self.arn(reference.rsplit(':', 1)[-1])}",
            )
        invoked.function = function.name
        if len(payload) > MAX_PAYLOAD_BYTES:
            return _error(
                413,
                "RequestEntityTooLargeException",
                f"Request must be smaller than {MAX_PAYLOAD_BYTES} bytes for the InvokeFunction "
                "operation",
            )
        try:
            event = json.loads(payload) if payload else {}
        except ValueError:
            return _error(
                400, "InvalidRequestContentException", "Could not parse request body into json"
            )
        if self._throttled[function.name] > 0:
            self._throttled[function.name] -= 1
            return JSONResponse(
                {
                    "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded",
                    "Type": "User",
                    "message": "Rate Exceeded.",
                },
                status_code=429,
                headers={"x-amzn-ErrorType": "TooManyRequestsException", "Retry-After": "1"},
            )
        if self._failing[function.name] > 0:
            self._failing[function.name] -= 1
            return _error(500, "ServiceException", "An internal error occurred.")
        kind = request.headers.get("x-amz-invocation-type", "RequestResponse")
        request_id = invoked.request_id = str(uuid.uuid4())
        if kind == "DryRun":
            return Response(status_code=204, headers={"x-amzn-RequestId": request_id})
        if kind == "Event":
            self.background.spawn(self._run(function, event, request_id))
            return Response(status_code=202, headers={"x-amzn-RequestId": request_id})
        if kind != "RequestResponse":
            return _error(
                400, "InvalidParameterValueException", f"Unsupported invocation type {kind}"
            )
        outcome, duration_ms = await self._run(function, event, request_id)
        return self._result(function, outcome, duration_ms, request_id, request)

    async def _run(
        self, function: LambdaFunction, event: Any, request_id: str
    ) -> tuple[Outcome, float]:
        delay = self._delays.get(function.name, 0.0)
        if delay:
            await asyncio.sleep(delay)
        outcome = await function.runner.invoke(
            event, request_id=request_id, timeout=function.timeout
        )
        return outcome, delay * 1000 + outcome.duration_ms

    def _result(
        self,
        function: LambdaFunction,
        outcome: Outcome,
        duration_ms: float,
        request_id: str,
        request: Request,
    ) -> Response:
        headers = {"x-amzn-RequestId": request_id, "X-Amz-Executed-Version": "$LATEST"}
        if request.headers.get("x-amz-log-type") == "Tail":
            headers["X-Amz-Log-Result"] = _log_tail(request_id, outcome.logs, duration_ms)
        error = outcome.error
        if outcome.timed_out:
            error = {
                "errorType": "Sandbox.Timedout",
                "errorMessage": f"RequestId: {request_id} Error: Task timed out after "
                f"{function.timeout:.2f} seconds",
            }
        body = b""
        if error is None:
            try:
                body = json.dumps(outcome.result).encode()
            except (TypeError, ValueError) as exc:
                error = {"errorType": "Runtime.MarshalError", "errorMessage": str(exc)}
        if error is None and len(body) > MAX_PAYLOAD_BYTES:
            error = {
                "errorType": "Function.ResponseSizeTooLarge",
                "errorMessage": "Response payload size exceeded maximum allowed payload size "
                f"({MAX_PAYLOAD_BYTES} bytes).",
            }
        if error is not None:
            headers["X-Amz-Function-Error"] = "Unhandled"
            body = json.dumps({**error, "requestId": request_id}).encode()
        return Response(body, status_code=200, headers=headers, media_type="application/json")


def _log_tail(request_id: str, logs: str, duration_ms: float) -> str:
    text = (
        f"START RequestId: {request_id} Version: $LATEST\n{logs}END RequestId: {request_id}\n"
        f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
        f"Billed Duration: {billed_ms(duration_ms)} ms\tMemory Size: 128 MB\t"
        "Max Memory Used: 48 MB\t\n"
    ).encode()
    return base64.b64encode(text[-_LOG_TAIL_BYTES:]).decode()


def billed_ms(duration_ms: float) -> int:
    """Lambda bills each invocation by the millisecond, rounded up."""
    return max(1, math.ceil(duration_ms))
