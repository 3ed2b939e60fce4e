"""``FakeOpenWhisk``: Apache OpenWhisk's action invocation and activation REST API on a
loopback port, running real action zips (``__main__.py`` with ``main(args)``) in warm worker
processes (:mod:`tests.fakes.function_runner`).

async with FakeOpenWhisk() as whisk:
    whisk.add_action("waddle/echo", zip_path)          # package waddle, action echo
    client = OpenWhiskModuleClient(whisk.url, "waddle/echo", whisk.api_key)
    whisk.blocking_wait = 0.1                            # a slow action answers 202

Routes: ``POST /api/v1/namespaces/{ns}/actions/[{pkg}/]{action}?blocking=&result=&timeout=``
and ``GET /api/v1/namespaces/{ns}/activations/{id}``, behind basic auth with the ``uuid:key``
API key; ``_`` is the key's own namespace. Results and errors are shaped as OpenWhisk's: a
failed blocking activation answers 502 with its record, ``{"error", "code"}`` bodies otherwise.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import secrets
import time
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

BLOCKING_LIMIT = 60.0  # OpenWhisk's longest blocking wait; then 202 with the activation id
_STATUS = {
    0: "success",
    1: "application error",
    2: "action developer error",
    3: "whisk internal error",
}


@dataclass
class Action:
    namespace: str
    name: str  # "pkg/action" or "action"
    runner: FunctionRunner
    timeout: float

    @property
    def path(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass
class Invoked:
    """One request that reached the invoke route, whatever was answered."""

    action: str  # as addressed: "ns/pkg/action"
    args: Any
    headers: dict[str, str]
    query: dict[str, str]
    status: int = 0
    activation_id: str = ""


@dataclass
class _Failure:
    error: str
    times: int


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message, "code": uuid.uuid4().hex}, status_code=status)


class FakeOpenWhisk:
    def __init__(self, *, namespace: str = "guest", layer_paths: list[str] | None = None) -> None:
        self.namespace = namespace
        self.api_key = f"{uuid.uuid4()}:{secrets.token_hex(32)}"
        self.layer_paths = layer_paths
        self.blocking_wait = BLOCKING_LIMIT
        """How long a blocking invoke waits for its activation before answering 202."""
        self.actions: dict[str, Action] = {}
        self.invocations: list[Invoked] = []
        self.activations: dict[str, dict[str, Any]] = {}
        self.background = BackgroundTasks("fake OpenWhisk")
        self.url = ""
        self._throttled: Counter[str] = Counter()
        self._failures: dict[str, _Failure] = {}
        self._delays: dict[str, float] = {}
        self._stack = contextlib.AsyncExitStack()

    # --- set up by tests -----------------------------------------------------------------------

    def add_action(
        self,
        name: str,
        zip_path: str | Path,
        *,
        main: str = "main",
        timeout: float = 60.0,
        env: dict[str, str] | None = None,
    ) -> Action:
        """Deploy a zip as ``name`` (``action`` or ``pkg/action``) in the key's namespace;
        ``main`` is the function of ``__main__.py`` to run, ``timeout`` the action's limit."""
        runner = FunctionRunner(
            zip_path,
            f"__main__.{main}",
            style="openwhisk",
            function_name=f"/{self.namespace}/{name}",
            namespace=self.namespace,
            layer_paths=self.layer_paths,
            env=env,
        )
        action = Action(self.namespace, name, runner, timeout)
        self.actions[action.path] = action
        return action

    def throttle(self, name: str, times: int = 1) -> None:
        """The next ``times`` invocations of ``name`` answer 429."""
        self._throttled[name] += times

    def fail(self, name: str, error: str = "the action failed", times: int = 1) -> None:
        """The next ``times`` activations of ``name`` end as an application error with
        ``{"error": error}`` without running."""
        self._failures[name] = _Failure(error, times)

    def delay(self, name: str, seconds: float) -> None:
        """Every activation of ``name`` takes ``seconds`` longer (0 to stop)."""
        self._delays[name] = seconds

    def calls(self, name: str) -> list[Invoked]:
        path = f"{self.namespace}/{name}"
        return [invoked for invoked in self.invocations if invoked.action == path]

    # --- lifecycle -----------------------------------------------------------------------------

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route(
                    "/api/v1/namespaces/{namespace}/actions/{name:path}",
                    self._invoke,
                    methods=["POST"],
                ),
                Route(
                    "/api/v1/namespaces/{namespace}/activations/{activation_id}",
                    self._activation,
                    methods=["GET"],
                ),
            ]
        )

    async def __aenter__(self) -> FakeOpenWhisk:
        self.url = await self._stack.enter_async_context(serving_app(self.app()))
        return self

    async def __aexit__(self, *exc: object) -> None:
        # workers first: a request still waiting on one then ends, and the server can stop
        await asyncio.gather(*(action.runner.close() for action in self.actions.values()))
        await self.background.cancel()
        await self._stack.aclose()

    async def settle(self) -> None:
        """Wait for every activation still running (a non-blocking or timed-out blocking one)."""
        await self.background.settle()

    # --- the API -------------------------------------------------------------------------------

    def _namespace(self, request: Request) -> tuple[str | None, Response | None]:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        try:
            given = base64.b64decode(token, validate=True).decode() if token else ""
        except ValueError:
            given = ""
        if scheme.lower() != "basic" or not secrets.compare_digest(given, self.api_key):
            return None, _error(401, "The supplied authentication is invalid.")
        namespace = request.path_params["namespace"]
        namespace = self.namespace if namespace == "_" else namespace
        if namespace != self.namespace:
            return None, _error(
                403, f"The supplied authentication is not authorized to access '{namespace}'."
            )
        return namespace, None

    async def _invoke(self, request: Request) -> Response:
        namespace = request.path_params["namespace"]
        namespace = self.namespace if namespace == "_" else namespace
        invoked = Invoked(
            f"{namespace}/{request.path_params['name']}",
            None,
            dict(request.headers),
            dict(request.query_params),
        )
        self.invocations.append(invoked)
        response = await self._answer(request, invoked)
        invoked.status = response.status_code
        return response

    async def _answer(self, request: Request, invoked: Invoked) -> Response:
        namespace, refused = self._namespace(request)
        if refused is not None:
            return refused
        action = self.actions.get(f"{namespace}/{request.path_params['name']}")
        if action is None:
            return _error(404, "The requested resource does not exist.")
        body = await request.body()
        try:
            args = json.loads(body) if body else {}
        except ValueError:
            return _error(400, "The request content was malformed.")
        if not isinstance(args, dict):
            return _error(400, "The request content was malformed: expected an object.")
        invoked.args = args
        if self._throttled[action.name] > 0:
            self._throttled[action.name] -= 1
            return _error(429, "Too many requests in the last minute (count: 61, allowed: 60).")
        activation_id = invoked.activation_id = uuid.uuid4().hex
        task = asyncio.create_task(self._activate(action, args, activation_id))
        self.background.spawn(_waited(task))
        if request.query_params.get("blocking") != "true":
            return JSONResponse({"activationId": activation_id}, status_code=202)
        wait = self.blocking_wait
        if "timeout" in request.query_params:
            wait = min(wait, int(request.query_params["timeout"]) / 1000)
        try:
            record = await asyncio.wait_for(asyncio.shield(task), wait)
        except TimeoutError:
            return JSONResponse({"activationId": activation_id}, status_code=202)
        status = 200 if record["response"]["success"] else 502
        if request.query_params.get("result") == "true":
            return JSONResponse(record["response"]["result"], status_code=status)
        return JSONResponse(record, status_code=status)

    async def _activation(self, request: Request) -> Response:
        _, refused = self._namespace(request)
        if refused is not None:
            return refused
        record = self.activations.get(request.path_params["activation_id"])
        if record is None:
            return _error(404, "The requested resource does not exist.")
        return JSONResponse(record)

    async def _activate(
        self, action: Action, args: dict[str, Any], activation_id: str
    ) -> dict[str, Any]:
        start = time.time()
        delay = self._delays.get(action.name, 0.0)
        if delay:
            await asyncio.sleep(delay)
        failure = self._failures.get(action.name)
        if failure is not None and failure.times > 0:
            failure.times -= 1
            code, result, logs = 1, {"error": failure.error}, ""
        else:
            outcome = await action.runner.invoke(
                args,
                request_id=activation_id,
                timeout=action.timeout,
                activation={"function_name": f"/{action.path}"},
            )
            code, result = _response(outcome, action.timeout)
            logs = outcome.logs
        end = time.time()
        record = _record(action, activation_id, start, end, code, result)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(start))
        record["logs"] = [f"{stamp}.000000000Z stdout: {line}" for line in logs.splitlines()]
        self.activations[activation_id] = record
        return record


async def _waited(task: asyncio.Task[dict[str, Any]]) -> None:
    await task


def _response(outcome: Outcome, timeout: float) -> tuple[int, dict[str, Any]]:
    """The status code and result OpenWhisk's Python runtime makes of an outcome: an exception
    is an application error ``{"error": str(exc)}``; a timeout, an import failure or a result
    that is no dict is the developer's error."""
    if outcome.timed_out:
        return 2, {
            "error": f"The action exceeded its time limits of {int(timeout * 1000)} milliseconds."
        }
    if outcome.init_error and outcome.error is not None:
        return 2, {"error": f"Initialization has failed due to: {outcome.error['errorMessage']}"}
    if outcome.error is not None:
        return 1, {"error": outcome.error["errorMessage"]}
    if not isinstance(outcome.result, dict):
        return 2, {"error": "The action did not return a dictionary."}
    if "error" in outcome.result:
        return 1, outcome.result
    return 0, outcome.result


def _record(
    action: Action, activation_id: str, start: float, end: float, code: int, result: Any
) -> dict[str, Any]:
    namespace, _, rest = action.path.partition("/")
    package, _, name = rest.rpartition("/")
    duration = max(1, round((end - start) * 1000))
    return {
        "activationId": activation_id,
        "namespace": namespace,
        "name": name,
        "version": "0.0.1",
        "subject": namespace,
        "publish": False,
        "start": int(start * 1000),
        "end": int(end * 1000),
        "duration": duration,
        "logs": [],
        "annotations": [
            {"key": "path", "value": action.path},
            {"key": "kind", "value": "python:3.11"},
            {"key": "limits", "value": {"timeout": int(action.timeout * 1000), "memory": 256}},
            {"key": "waitTime", "value": 3},
            *([{"key": "binding", "value": f"{namespace}/{package}"}] if package else []),
        ],
        "response": {
            "status": _STATUS[code],
            "statusCode": code,
            "success": code == 0,
            "result": result,
            "size": len(json.dumps(result)),
        },
    }
