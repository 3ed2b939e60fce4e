"""``X-Request-ID`` on every request and answer, and on every log line in between.

A request that brings an id keeps it (so one id follows a request through a proxy, the bot
and back), when it is a sane token: 1 to 128 letters, digits and ``-_.:``; anything else is
replaced with a new id rather than refused, since the id only serves to find log lines and
must not let a client write into them. The id is in ``request.state.request_id``, in problem
answers (``web/problems.py``), bound with structlog's context variables for every line logged
while the request runs, and sent back as ``X-Request-ID`` (on a WebSocket's accept too).

Pure ASGI, not Starlette's ``BaseHTTPMiddleware``: that one costs a task and a stream per
request, and the webhooks are on the hot path.
"""

from __future__ import annotations

import re

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from waddlebot.core.events import new_id

HEADER = b"x-request-id"
_SANE = re.compile(rb"[A-Za-z0-9._:-]{1,128}")


def request_id_of(scope: Scope) -> str:
    """The id the client sent, when sane; else a new one."""
    for name, value in scope["headers"]:
        if name == HEADER:
            if _SANE.fullmatch(value):
                return value.decode("ascii")
            break
    # 32 random hex digits, as a uuid4's hex; not a secret, so not one system call each
    return new_id()


class RequestIds:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        header = (HEADER, request_id.encode("ascii"))
        starts = "http.response.start" if scope["type"] == "http" else "websocket.accept"

        async def send_with_id(message: Message) -> None:
            if message["type"] == starts:
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        tokens = structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            await self.app(scope, receive, send_with_id)
        except BaseException:
            # left bound: the server logs the traceback next, in this request's own task
            # (uvicorn runs each request in a task of its own, so it goes no further)
            raise
        structlog.contextvars.reset_contextvars(**tokens)
