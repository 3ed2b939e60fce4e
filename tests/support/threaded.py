"""A whole WaddleBot served over loopback HTTP from a thread of its own, for tests that are
not async themselves (schemathesis drives a synchronous HTTP client)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import uvicorn

from tests.support.harness import free_port
from waddlebot.app import create_app
from waddlebot.runtime import Runtime
from waddlebot.settings import Settings
from waddlebot.web.server import server_config

T = TypeVar("T")


class ServedApp:
    """The app's base URL, its runtime, and a way to run coroutines on its event loop."""

    def __init__(self, url: str, runtime: Runtime, loop: asyncio.AbstractEventLoop) -> None:
        self.url = url
        self.runtime = runtime
        self._loop = loop

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        """Run ``coroutine`` on the server's event loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)


@contextmanager
def served_in_thread(settings: Settings) -> Iterator[ServedApp]:
    """``waddlebot up``'s app and server configuration, on a free loopback port."""
    app = create_app(settings)
    port = free_port()
    config = server_config(settings, app, host="127.0.0.1", port=port)
    server = uvicorn.Server(config)
    loop = asyncio.new_event_loop()
    failure: list[BaseException] = []

    def serve() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(server.serve())
        except BaseException as exc:  # reported to the test below
            failure.append(exc)
        finally:
            loop.close()

    thread = threading.Thread(target=serve, name="waddlebot-served", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:  # uvicorn has a flag for it, no event
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"the server did not start: {failure}")
        time.sleep(0.01)
    try:
        yield ServedApp(f"http://127.0.0.1:{port}", app.state.runtime, loop)
    finally:
        server.should_exit = True
        thread.join(30)
