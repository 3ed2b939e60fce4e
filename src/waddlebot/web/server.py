"""How a WaddleBot process serves HTTP: the uvicorn configuration ``waddlebot up`` and
``waddlebot serve`` run with (tests start servers with the same function).

Request headers are bounded like bodies are. uvicorn's httptools protocol has no limit at
all: it reads a 32 MiB header, or 100,000 headers, whole (httptools keeps a header's bytes
until the header ends). h11's parser has one, but it is pure Python and cost a webhook
delivery more than everything WaddleBot does with it (``python -m bench.ingest``: a bare
endpoint took about 5,000 requests/s on h11 against 13,000 on httptools). So the server runs on
:class:`BoundedHttpTools`, httptools with the head counted as it comes in: a request line and
headers still incomplete past ``WADDLEBOT_HTTP_MAX_HEADER_BYTES`` get ``400`` and the
connection closed, as h11 did. What a head that completes within one read carries is not
counted there (the part of the read where the head began is counted only once parsed);
``HeaderLimits`` then holds every request the app would see to both limits exactly,
answering ``431``.
"""

from __future__ import annotations

from itertools import chain
from typing import Any

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

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
        headers = scope["headers"]  # every request pays this: summed without a Python loop
        return target + sum(map(len, chain.from_iterable(headers))) + 4 * len(headers)


class BoundedHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol, refusing a request head that grows past
    ``config.h11_max_incomplete_event_size`` bytes before it is complete (uvicorn's setting
    for the same bound on h11). Written here because neither uvicorn nor httptools bounds it:
    only httptools' parser callbacks (``on_url``, ``on_header``, ...) and uvicorn's answer to
    a bad request (``send_400_response``) are used."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_open = False  # a request head has begun and is not complete
        self._head_raw = False  # count whole reads now: the head began in an earlier one
        self._head_bytes = 0

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_open, self._head_raw, self._head_bytes = True, False, 0

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        if not self._head_raw:
            self._head_bytes += len(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        super().on_header(name, value)
        if not self._head_raw:
            self._head_bytes += len(name) + len(value) + 4

    def on_headers_complete(self) -> None:
        self._head_open = False
        super().on_headers_complete()

    def data_received(self, data: bytes) -> None:
        continued = self._head_open  # every byte of this read belongs to the open head
        super().data_received(data)
        if not self._head_open or self.transport.is_closing():
            return
        if continued:
            self._head_bytes += len(data)
        self._head_raw = True
        limit = self.config.h11_max_incomplete_event_size
        if limit is not None and self._head_bytes > limit:
            self.send_400_response("Request line and headers too large.")


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
        http=BoundedHttpTools,
        h11_max_incomplete_event_size=settings.http_max_header_bytes,  # BoundedHttpTools' bound
        log_level=settings.section(ProcessSettings).log_level.lower(),
        access_log=False,
        lifespan="on",
        log_config=None,  # keep the structured logging configured by the command
        # our WebSocket messages are small, and an overlay update goes to many pages at once:
        # compressing every copy apart cost more than all the rest of the fan-out together
        ws_per_message_deflate=False,
    )
