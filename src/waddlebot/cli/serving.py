"""Running an ASGI app under uvicorn for ``waddlebot up`` and ``waddlebot serve``.

The port is taken and the app's services are started *before* uvicorn runs, not in its
lifespan: uvicorn reports a failed lifespan startup as a traceback and exit status 3, while a
setting that cannot work (a port in use, a module that does not load, a Redis that does not
answer) must reach the command line as a :class:`ConfigurationError`, one line and status 78
(69 when what it names does not answer).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import signal
import socket
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import structlog

from waddlebot.core.errors import ConfigurationError
from waddlebot.settings import Settings
from waddlebot.web.server import server_config

log = structlog.get_logger("waddlebot.serving")

# builds the app with its services started, and stops them when the context ends
AppStarter = Callable[[], AbstractAsyncContextManager[Any]]


def serve(settings: Settings, host: str | None, port: int | None, start: AppStarter) -> None:
    import uvicorn

    host, port = host or settings.host, port or settings.port

    def config(app: Any) -> uvicorn.Config:
        return server_config(settings, app, host=host, port=port)

    async def main() -> None:
        listening = _listen(host, port)
        loop = asyncio.get_running_loop()
        # uvicorn takes over SIGTERM and SIGINT once it runs; while the services start, a
        # SIGTERM cancels the start (which stops what was started) and the process ends
        main_task = asyncio.current_task()
        assert main_task is not None
        loop.add_signal_handler(signal.SIGTERM, main_task.cancel)
        try:
            async with start() as app:
                loop.remove_signal_handler(signal.SIGTERM)
                log.info("waddlebot listening", url=f"http://{_shown(host)}:{port}")
                await uvicorn.Server(config(app)).serve(sockets=[listening])
        finally:
            loop.remove_signal_handler(signal.SIGTERM)
            listening.close()

    with asyncio.Runner(loop_factory=config(None).get_loop_factory()) as runner:
        with contextlib.suppress(asyncio.CancelledError):  # a SIGTERM while starting
            runner.run(main())


def _shown(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _listen(host: str, port: int) -> socket.socket:
    """The listening socket, taken before anything starts. Connections that come before the
    server is up wait in its backlog instead of being refused."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ConfigurationError(
                f"port {port} on {host} is in use already",
                setting="WADDLEBOT_PORT",
                fix="Stop what uses it, or give this process another port with --port "
                "(or WADDLEBOT_PORT); every `waddlebot serve` needs a port of its own.",
            ) from exc
        raise ConfigurationError(
            f"cannot listen on {host}:{port} ({exc.strerror or exc})",
            setting="WADDLEBOT_HOST",
            fix="Use an address of this machine, e.g. 127.0.0.1 or 0.0.0.0 (--host).",
        ) from exc
    return sock
