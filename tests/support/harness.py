"""Building a whole WaddleBot for a test, embedded or distributed, and talking to it."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import uvicorn
from pydantic import SecretStr

from waddlebot.app import create_app
from waddlebot.core.events import Author, Event, EventType, new_id
from waddlebot.core.permissions import PlatformRole
from waddlebot.platforms import CONSOLE
from waddlebot.platforms.console.collector import ConsoleSession
from waddlebot.runtime import Runtime
from waddlebot.sdk import Module
from waddlebot.sdk.server import create_module_app
from waddlebot.settings import Settings
from waddlebot.web.server import server_config

TEST_MODULE = "tests.support.modules:module"


async def until(condition: Callable[[], object], timeout: float = 10.0) -> None:
    """Wait until ``condition()`` holds (checked every few milliseconds)."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


def make_settings(**overrides: Any) -> Settings:
    base: dict[str, Any] = {
        "modules": [TEST_MODULE],
        "module_timeout_seconds": 1.0,
        "bus_reclaim_idle_ms": 500,
        "router_read_block_ms": 100,  # a stopping runtime waits for its workers' reads
        "log_level": "WARNING",
    }
    base.update(overrides)
    return Settings(_env_file=None, **base)  # type: ignore[call-arg]


async def say(
    runtime: Runtime,
    text: str,
    *,
    user: str = "alice",
    role: str = "everyone",
    channel: str = "local",
) -> list[str]:
    """Type a line in the console as ``user``; return what the bot showed that user."""
    console = runtime.collector(CONSOLE)
    assert console is not None
    session = console.open(user, role, channel)
    try:
        await console.send(session, text)
        return drain(session)
    finally:
        console.close(session)


def drain(session: ConsoleSession) -> list[str]:
    lines = []
    while not session.lines.empty():
        line = session.lines.get_nowait()
        lines.append(("(private) " if line.private else "") + line.text)
    return lines


def chat_event(
    text: str,
    *,
    platform: str = "twitch",
    entity: str = "twitch:1337",
    user_id: str = "42",
    login: str = "viewer",
    roles: tuple[PlatformRole, ...] = (),
    message_id: str | None = None,
    type_: EventType = EventType.CHAT_MESSAGE,
    **extra: Any,
) -> Event:
    return Event(
        platform=platform,  # type: ignore[arg-type]
        entity_id=entity,
        message_id=message_id or new_id(),
        type=type_,
        author=Author(user_id=user_id, login=login, display_name=login, roles=roles),
        text=text,
        **extra,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def serving_app(
    app: Any,
    port: int | None = None,
    settings: Settings | None = None,
    *,
    tls: tuple[Path, Path] | None = None,
) -> AsyncIterator[str]:
    """Run an ASGI app under uvicorn on a loopback port (a free one unless given); yields its
    base URL. With ``settings``, the server is configured as ``waddlebot up`` configures it;
    with ``tls`` (certificate and key files), it is served over https."""
    port = port or free_port()
    if settings is None:
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="on",
            ssl_certfile=str(tls[0]) if tls else None,
            ssl_keyfile=str(tls[1]) if tls else None,
        )
    else:
        config = server_config(settings, app, host="127.0.0.1", port=port)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@contextlib.asynccontextmanager
async def serving(
    settings: Settings, services: Any = None, port: int | None = None
) -> AsyncIterator[tuple[str, Runtime]]:
    """The whole WaddleBot app over real HTTP, served as ``waddlebot up`` serves it; yields
    (base URL, runtime)."""
    app = create_app(settings) if services is None else create_app(settings, services)
    async with serving_app(app, port, settings) as url:
        yield url, app.state.runtime


@contextlib.asynccontextmanager
async def bot_with_remote(
    settings: Settings, module: Module, secret: str, **overrides: Any
) -> AsyncIterator[Runtime]:
    """A whole WaddleBot whose only operator module is ``module``, served over HTTP
    (``WADDLEBOT_REMOTE_MODULES``) with ``secret``; ``overrides`` are more settings."""
    async with serving_app(create_module_app(module, secret.encode())) as url:
        configured = settings.model_copy(
            update={
                "modules": [],
                "remote_modules": [f"{module.name}={url}"],
                "module_secret": SecretStr(secret),
                **overrides,
            }
        )
        runtime = await Runtime.start(configured)
        try:
            yield runtime
        finally:
            await runtime.stop()
