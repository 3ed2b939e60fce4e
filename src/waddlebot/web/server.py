"""How a WaddleBot process serves HTTP: the uvicorn configuration ``waddlebot up`` and
``waddlebot serve`` run with (tests start servers with the same function).

Request headers are bounded like bodies are. uvicorn's default HTTP parser (httptools) has no
limit at all: it reads a 32 MiB header, or 100,000 headers, whole. So the server runs on h11,
whose parser stops buffering an incomplete request line and headers past
``WADDLEBOT_HTTP_MAX_HEADER_BYTES`` (``h11_max_incomplete_event_size``): it answers ``400`` and
closes the connection (uvicorn's h11 protocol gives no way to say ``431`` there). h11 checks
only while the head is incomplete, so a head that arrives whole in one read (up to 256 KiB)
gets through it; ``HeaderLimits`` then holds every request the app would see to both limits
exactly, answering ``431``.

h11 is pure Python, and costs something: measured on a 2-core development machine (server in
its own process, one httpx client, 5 rounds of 1,000 requests, httptools then h11 three times),
``GET /healthz`` took a median 1.3-1.9 ms a request on httptools and 1.8-2.9 ms on h11, about
half a millisecond more; an authenticated call that queries the database took 4.7-4.8 ms
against 4.2-5.0 ms, the difference lost in the noise. Parsing never dominates an API call, and
the alternative, a subclass of uvicorn's httptools protocol counting header bytes, would
depend on that class's private workings.
"""

from __future__ import annotations

from typing import Any

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from waddlebot.core.settings import CoreSettings, ProcessSettings
from waddlebot.web.problems import problem_response


class HeaderLimits:
    """ASGI middleware: a request with more than ``max_headers`` headers, or more than
    ``max_bytes`` of target and headers, gets ``431`` (a WebSocket handshake is refused)
    before the app runs."""

    def __init__(self, app: ASGIApp, *, max_headers: int, max_bytes: int) -> None:
        self.app = app
        self.max_headers = max_headers
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        headers = scope["headers"]
        if len(headers) > self.max_headers:
            refusal = f"send at most {self.max_headers} request headers"
        elif self._size(scope) > self.max_bytes:
            refusal = f"send at most {self.max_bytes} bytes of request target and headers"
        else:
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        answer = problem_response(431, refusal, headers={"Connection": "close"})
        await answer(scope, receive, send)

    @staticmethod
    def _size(scope: Scope) -> int:
        target = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
        return target + sum(len(name) + len(value) + 4 for name, value in scope["headers"])


def server_config(settings: CoreSettings, app: Any, *, host: str, port: int) -> uvicorn.Config:
    """The uvicorn configuration of one process serving ``app`` (an ASGI app)."""
    return uvicorn.Config(
        HeaderLimits(
            app,
            max_headers=settings.http_max_headers,
            max_bytes=settings.http_max_header_bytes,
        ),
        host=host,
        port=port,
        http="h11",
        h11_max_incomplete_event_size=settings.http_max_header_bytes,
        log_level=settings.section(ProcessSettings).log_level.lower(),
        access_log=False,
        lifespan="on",
        log_config=None,  # keep the structured logging configured by the command
        # our WebSocket messages are small, and an overlay update goes to many pages at once:
        # compressing every copy apart cost more than all the rest of the fan-out together
        ws_per_message_deflate=False,
    )
