"""``FakeFunctionUrl``: a Lambda function URL on a loopback port. Each HTTP request (any method,
any path) becomes the payload format 2.0 event, runs a real function zip in a warm worker
(:mod:`tests.fakes.function_runner`), and the handler's result becomes the HTTP response, as
AWS does: ``{"statusCode", "headers", "body", "isBase64Encoded"}`` taken apart, a result
without ``statusCode`` sent as a JSON 200, a function error a 502.

async with FakeFunctionUrl(zip_path, env={"WADDLEBOT_MODULE_SECRET": secret}) as url:
    client = HttpFunctionClient(url.url + "/", secret.encode())
    url.throttle(2)
"""

from __future__ import annotations

import base64
import contextlib
import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.harness import serving_app

from .function_runner import FunctionRunner

MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript")


@dataclass
class Requested:
    """One request that reached the URL, and the event the function got (None: not invoked)."""

    method: str
    path: str
    event: dict[str, Any] | None


class FakeFunctionUrl:
    def __init__(
        self,
        zip_path: str | Path,
        handler: str = "waddlebot_handler.handler",
        *,
        name: str = "function",
        env: dict[str, str] | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.runner = FunctionRunner(
            zip_path,
            handler,
            style="lambda",
            function_name=name,
            env={"AWS_REGION": "eu-west-1", "AWS_LAMBDA_FUNCTION_NAME": name, **(env or {})},
        )
        self.timeout = timeout
        self.requests: list[Requested] = []
        self.url = ""
        self._throttled = 0
        self._stack = contextlib.AsyncExitStack()

    def throttle(self, times: int = 1) -> None:
        """The next ``times`` requests are answered 429, as when no instance is free."""
        self._throttled += times

    def app(self) -> Starlette:
        methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
        return Starlette(routes=[Route("/{path:path}", self._request, methods=methods)])

    async def __aenter__(self) -> FakeFunctionUrl:
        self.url = await self._stack.enter_async_context(serving_app(self.app()))
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.runner.close()  # a request still waiting on a worker then ends
        await self._stack.aclose()

    async def _request(self, request: Request) -> Response:
        body = await request.body()
        if self._throttled:
            self._throttled -= 1
            self.requests.append(Requested(request.method, request.url.path, None))
            return JSONResponse({"Message": "Rate Exceeded."}, status_code=429)
        if len(body) > MAX_PAYLOAD_BYTES:
            self.requests.append(Requested(request.method, request.url.path, None))
            return JSONResponse({"Message": "Request must be smaller than 6 MB"}, status_code=413)
        event = _event(request, body)
        self.requests.append(Requested(request.method, request.url.path, event))
        outcome = await self.runner.invoke(
            event, request_id=event["requestContext"]["requestId"], timeout=self.timeout
        )
        if outcome.error is not None or outcome.timed_out:
            return JSONResponse({"Message": "Internal Server Error"}, status_code=502)
        return _response(outcome.result)


def _event(request: Request, body: bytes) -> dict[str, Any]:
    """The request as the function gets it: header names lower-cased (repeated ones joined by
    commas), a text body as is, any other base64."""
    headers: dict[str, str] = {}
    for name, value in request.headers.items():
        key = name.lower()
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    content_type = headers.get("content-type", "").lower()
    text = content_type.startswith(_TEXT_TYPES)
    now = time.time()
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": request.url.path,
        "rawQueryString": request.url.query,
        "headers": headers,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "fakeurlid",
            "domainName": request.url.netloc,
            "domainPrefix": "fakeurlid",
            "http": {
                "method": request.method,
                "path": request.url.path,
                "protocol": "HTTP/1.1",
                "sourceIp": request.client.host if request.client else "",
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "body": body.decode() if text else base64.b64encode(body).decode(),
        "isBase64Encoded": not text,
    }


def _response(result: Any) -> Response:
    if not (isinstance(result, dict) and "statusCode" in result):
        return Response(json.dumps(result), status_code=200, media_type="application/json")
    body = result.get("body") or ""
    content = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
    headers = {str(k): str(v) for k, v in (result.get("headers") or {}).items()}
    return Response(content, status_code=int(result["statusCode"]), headers=headers)
