"""``waddlebot chat``: the console platform in a terminal, in-process or against a server."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import threading
from collections.abc import Awaitable
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit, urlunsplit

import orjson

from waddlebot.cli.failures import EX_CONFIG, EX_UNAVAILABLE, CommandFailed
from waddlebot.platforms.console.collector import ConsoleLine
from waddlebot.settings import Settings

_T = TypeVar("_T")


class _Screen:
    """Where the bot's messages go, each on a line of its own, as they arrive. At a terminal
    they start with ``bot>``, and one that arrives while the person is at the prompt (a
    reminder coming due) is shown above a fresh prompt."""

    def __init__(self, interactive: bool, user: str) -> None:
        self.interactive = interactive
        self.prompt = f"{user}> "
        self.prompting = False  # set by the keyboard's thread while it waits for a line

    def show(self, line: ConsoleLine) -> None:
        text = ("(private) " if line.private else "") + line.text
        if not self.interactive:
            print(text, flush=True)
        elif self.prompting:  # clear the prompt's line, show the message, prompt again
            print(f"\r\x1b[2Kbot> {text}\n{self.prompt}", end="", flush=True)
        else:
            print(f"bot> {text}", flush=True)


class _Keyboard:
    """What the person types (or a script pipes in), a line at a time, read on a thread of
    its own so the bot's messages keep showing meanwhile. A daemon thread: leaving never
    waits for one more line. At a terminal the next prompt shows only when asked for (after
    the bot answered the last line); piped input is read ahead."""

    def __init__(self, screen: _Screen) -> None:
        self._screen = screen
        self._loop = asyncio.get_running_loop()
        self._lines: asyncio.Queue[str | None] = asyncio.Queue()
        self._wanted = threading.Semaphore(0)
        read = self._prompted if screen.interactive else self._piped
        threading.Thread(target=read, name="chat-keyboard", daemon=True).start()

    async def next(self) -> str | None:
        """The next line that is not blank; None at the end of the input."""
        while True:
            if self._screen.interactive:
                self._wanted.release()
            line = await self._lines.get()
            if line is None or line.strip():
                return None if line is None else line.strip()

    def _put(self, line: str | None) -> None:
        self._loop.call_soon_threadsafe(self._lines.put_nowait, line)

    def _prompted(self) -> None:
        while True:
            self._wanted.acquire()
            self._screen.prompting = True
            try:
                line: str | None = input(self._screen.prompt)
            except EOFError:
                line = None
            finally:
                self._screen.prompting = False
            self._put(line)
            if line is None:
                return

    def _piped(self) -> None:
        # os.read, not sys.stdin: a thread waiting in sys.stdin.readline holds the lock the
        # interpreter takes on stdin when it exits (a "could not acquire lock" crash)
        encoding = sys.stdin.encoding or "utf-8"
        pending = b""
        while chunk := os.read(sys.stdin.fileno(), 65536):
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                self._put(line.decode(encoding, errors="replace"))
        if pending:
            self._put(pending.decode(encoding, errors="replace"))
        self._put(None)


async def chat_local(settings: Settings, user: str, role: str, channel: str) -> None:
    from waddlebot.platforms import CONSOLE
    from waddlebot.runtime import Runtime

    interactive = sys.stdin.isatty()
    # a bot of its own: in-process bus and cache even when Redis is configured, so it never
    # joins (and takes work from) a deployment's consumer groups; the database is shared, and
    # so are changes (an alias defined here is known to the deployment at once, and back)
    own = settings.model_copy(update={"redis_url": ""})
    runtime = await Runtime.start(own, {"router", "console"}, changes_url=settings.redis_url)
    console = runtime.collector(CONSOLE)
    assert console is not None
    session = console.open(user, role, channel)
    screen = _Screen(interactive, user)
    printer = asyncio.create_task(_print_forever(session.lines, screen))
    if interactive:
        print(f"Chatting as {user} ({role}) in console:{channel}. Ctrl-D to leave.", flush=True)
    try:
        keyboard = _Keyboard(screen)
        while (text := await keyboard.next()) is not None:
            await console.send(session, text)
            await session.lines.join()
    finally:
        printer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await printer
        console.close(session)
        await runtime.stop()


async def _print_forever(lines: asyncio.Queue[ConsoleLine], screen: _Screen) -> None:
    while True:
        line = await lines.get()
        screen.show(line)
        lines.task_done()


def console_ws_url(url: str, user: str, role: str, channel: str) -> str:
    parts = urlsplit(url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    if scheme not in ("ws", "wss"):
        raise ValueError(f"{url!r} is not an http(s) or ws(s) URL")
    query = urlencode({"user": user, "role": role, "channel": channel})
    path = parts.path.rstrip("/") + "/collectors/console/ws"
    return urlunsplit((scheme, parts.netloc, path, query, ""))


async def _receive(ws: Any, screen: _Screen, answered: asyncio.Queue[None]) -> None:
    """Show every message from the server; one item on ``answered`` per line answered (its
    "done", or the "error" that refused it). Raises ``ConnectionClosed`` when it ends."""
    while True:
        message = orjson.loads(await ws.recv())
        kind = message.get("type")
        if kind == "message":
            screen.show(ConsoleLine(message["text"], message["event_id"], message["private"]))
        elif kind == "error":
            print(f"error: {message['detail']}", file=sys.stderr, flush=True)
            answered.put_nowait(None)
        elif kind == "done":
            answered.put_nowait(None)


async def _unless_closed(work: Awaitable[_T], receiver: asyncio.Task[None]) -> _T:
    """``await work``, unless the connection ends first: then what ended it is raised."""
    task = asyncio.ensure_future(work)
    await asyncio.wait({task, receiver}, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        return task.result()
    task.cancel()
    receiver.result()  # raises ConnectionClosed (the only way it ends)
    raise AssertionError("the receiver ended without an error")  # pragma: no cover


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
                raise CommandFailed(f"unexpected greeting from {url}: {ready}")
            screen = _Screen(interactive, user)
            answered: asyncio.Queue[None] = asyncio.Queue()
            # the socket is read all the time, not only after a line is sent: what the bot
            # says while the person is idle (a reminder coming due) shows as it arrives
            receiver = asyncio.create_task(_receive(ws, screen, answered))
            try:
                keyboard = _Keyboard(screen)
                while (text := await _unless_closed(keyboard.next(), receiver)) is not None:
                    await ws.send(orjson.dumps({"text": text}).decode())
                    await _unless_closed(answered.get(), receiver)
            finally:
                receiver.cancel()
                with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                    await receiver
    except InvalidStatus as exc:
        code = exc.response.status_code
        hint = " (check the API key: --api-key, WADDLEBOT_API_KEY or var/api-key)"
        refused = code in (401, 403)
        raise CommandFailed(
            f"{url} refused the chat: HTTP {code}{hint if refused else ''}",
            EX_CONFIG if refused else EX_UNAVAILABLE if code == 503 else 1,
        ) from exc
    except ConnectionClosed as exc:
        reason = exc.rcvd.reason if exc.rcvd else "connection lost"
        raise CommandFailed(f"{url} closed the chat: {reason}", EX_UNAVAILABLE) from exc
    except OSError as exc:
        raise CommandFailed(
            f"cannot reach {url}: {exc} (is WaddleBot running there?)", EX_UNAVAILABLE
        ) from exc
