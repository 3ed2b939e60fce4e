"""``waddlebot chat``: the console platform in a terminal, in-process or against a server."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from urllib.parse import urlencode, urlsplit, urlunsplit

import orjson

from waddlebot.collectors.console import ConsoleLine
from waddlebot.settings import Settings


def _show(line: ConsoleLine, interactive: bool) -> None:
    prefix = "(private) " if line.private else ""
    print(f"bot> {prefix}{line.text}" if interactive else f"{prefix}{line.text}", flush=True)


async def _lines(interactive: bool, user: str) -> AsyncIterator[str]:
    """What the person types, a line at a time, without blocking the event loop."""
    while True:
        try:
            if interactive:
                line = await asyncio.to_thread(input, f"{user}> ")
            else:
                line = await asyncio.to_thread(sys.stdin.readline)
                if not line:
                    return
        except EOFError:
            return
        line = line.strip()
        if line:
            yield line


async def chat_local(settings: Settings, user: str, role: str, channel: str) -> None:
    from waddlebot.runtime import Runtime

    interactive = sys.stdin.isatty()
    # a bot of its own: in-process bus and cache even when Redis is configured, so it never
    # joins (and takes work from) a deployment's consumer groups; the database is shared
    own = settings.model_copy(update={"redis_url": ""})
    runtime = await Runtime.start(own, {"router", "console"})
    console = runtime.console
    assert console is not None
    session = console.open(user, role, channel)
    printer = asyncio.create_task(_print_forever(session.lines, interactive))
    if interactive:
        print(f"Chatting as {user} ({role}) in console:{channel}. Ctrl-D to leave.", flush=True)
    try:
        async for text in _lines(interactive, user):
            await console.send(session, text)
            await session.lines.join()
    finally:
        printer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await printer
        console.close(session)
        await runtime.stop()


async def _print_forever(lines: asyncio.Queue[ConsoleLine], interactive: bool) -> None:
    while True:
        line = await lines.get()
        _show(line, interactive)
        lines.task_done()


def console_ws_url(url: str, user: str, role: str, channel: str) -> str:
    parts = urlsplit(url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    if scheme not in ("ws", "wss"):
        raise ValueError(f"{url!r} is not an http(s) or ws(s) URL")
    query = urlencode({"user": user, "role": role, "channel": channel})
    path = parts.path.rstrip("/") + "/collectors/console/ws"
    return urlunsplit((scheme, parts.netloc, path, query, ""))


def read_api_key(settings: Settings, given: str | None) -> str:
    """--api-key (or WADDLEBOT_API_KEY), then the setting (which also reads .env), then the
    key file the first ``waddlebot up`` wrote."""
    if given:
        return given
    if settings.api_key.get_secret_value():
        return settings.api_key.get_secret_value()
    from waddlebot.cli.bootstrap import key_file

    path = key_file(settings)
    return path.read_text().strip() if path.exists() else ""


async def chat_remote(
    settings: Settings, url: str, api_key: str | None, user: str, role: str, channel: str
) -> None:
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed, InvalidStatus

    interactive = sys.stdin.isatty()
    headers = {"Authorization": f"Bearer {read_api_key(settings, api_key)}"}
    try:
        async with connect(
            console_ws_url(url, user, role, channel), additional_headers=headers
        ) as ws:
            ready = orjson.loads(await ws.recv())
            if ready.get("type") != "ready":
                raise SystemExit(f"unexpected greeting from {url}: {ready}")
            async for text in _lines(interactive, user):
                await ws.send(orjson.dumps({"text": text}).decode())
                while True:
                    message = orjson.loads(await ws.recv())
                    if message["type"] == "message":
                        _show(
                            ConsoleLine(message["text"], message["event_id"], message["private"]),
                            interactive,
                        )
                    elif message["type"] == "error":
                        print(f"error: {message['detail']}", file=sys.stderr, flush=True)
                        break
                    elif message["type"] == "done":
                        break
    except InvalidStatus as exc:
        code = exc.response.status_code
        hint = " (check the API key: --api-key, WADDLEBOT_API_KEY or var/api-key)"
        raise SystemExit(
            f"{url} refused the chat: HTTP {code}{hint if code in (401, 403) else ''}"
        ) from exc
    except ConnectionClosed as exc:
        reason = exc.rcvd.reason if exc.rcvd else "connection lost"
        raise SystemExit(f"{url} closed the chat: {reason}") from exc
    except OSError as exc:
        raise SystemExit(f"cannot reach {url}: {exc}") from exc
