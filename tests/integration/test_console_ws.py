"""The console over a real WebSocket (uvicorn on loopback, the ``websockets`` client): clients
that vanish mid-answer or send garbage must not leave sessions behind or hang shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from tests.support.harness import say, serving
from waddlebot.cli.chat import console_ws_url
from waddlebot.features.identity import apikeys
from waddlebot.platforms import CONSOLE
from waddlebot.sdk import ArgSpec, Context, Module
from waddlebot.settings import Settings

chatty = Module("chatty", version="1.0.0", description="answers at length")


@chatty.command("lines", usage="<count>", args=(ArgSpec(name="count"),))
async def lines(ctx: Context) -> None:
    for number in range(int(ctx.args[0])):
        ctx.reply(f"line {number}")


def with_chatty(settings: Settings) -> Settings:
    return settings.model_copy(update={"modules": [*settings.modules, f"{__name__}:chatty"]})


async def open_chat(url: str, key: str, user: str = "carol") -> ClientConnection:
    ws = await connect(
        console_ws_url(url, user, "everyone", "local"),
        additional_headers={"Authorization": f"Bearer {key}"},
    )
    assert json.loads(await ws.recv()) == {"type": "ready"}
    return ws


async def receive(ws: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 10))
    return message


async def answer(ws: ClientConnection, text: str) -> list[dict[str, Any]]:
    """Send a line; everything the server sent for it, up to and including "done"."""
    await ws.send(json.dumps({"text": text}))
    received = [await receive(ws)]
    while received[-1]["type"] not in ("done", "error"):
        received.append(await receive(ws))
    return received


class ErrorRecords(logging.Handler):
    """Errors uvicorn logs (its loggers do not propagate to the root, so caplog misses them)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


async def wait_until(predicate: Any, timeout: float = 5.0) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


async def test_a_client_that_vanishes_mid_answer_leaves_nothing_behind(
    settings: Settings,
) -> None:
    stack = contextlib.AsyncExitStack()
    url, runtime = await stack.enter_async_context(serving(with_chatty(settings)))
    errors = ErrorRecords()
    logging.getLogger("uvicorn.error").addHandler(errors)  # after uvicorn set up its logging
    stack.callback(logging.getLogger("uvicorn.error").removeHandler, errors)
    try:
        console = runtime.collector(CONSOLE)
        assert console is not None
        _, key = await apikeys.create_key(runtime.db, "chat")
        ws = await open_chat(url, key)
        assert len(console._sessions) == 1
        for number in range(20):  # and never read a reply
            await ws.send(json.dumps({"text": f"!echo x{number}"}))
            await ws.send(json.dumps({"text": "!lines 30"}))
        ws.transport.abort()  # gone mid-answer, without a closing handshake
        with contextlib.suppress(Exception):
            await ws.close()

        assert await wait_until(lambda: not console._sessions), "session leaked"
        assert errors.messages == []  # a client leaving is not an "Exception in ASGI app"

        # the server still serves others (a reply to a line the vanished client sent before
        # it left may still reach this channel, hence "in")
        assert "still here" in await say(runtime, "!echo still here", user="dave")
        other = await open_chat(url, key, user="erin")
        assert [m["text"] for m in await answer(other, "!ping") if m["type"] == "message"] == [
            "pong"
        ]
        await other.close()
        assert await wait_until(lambda: not console._sessions)
    finally:
        # the app shuts down promptly: no handler stuck waiting for a dead client
        await asyncio.wait_for(stack.aclose(), 10)


async def test_frames_that_are_not_json_objects_get_an_error_not_a_hang_up(
    settings: Settings,
) -> None:
    async with serving(settings) as (url, runtime):
        _, key = await apikeys.create_key(runtime.db, "chat")
        ws = await open_chat(url, key)
        for junk in ("hello bot", "{not json", "[1, 2]", '"a string"', "42", "null"):
            await ws.send(junk)
            reply = await receive(ws)
            assert reply["type"] == "error" and reply["detail"], (junk, reply)
        await ws.send(b"\xff\xfe not utf-8")
        reply = await receive(ws)
        assert reply["type"] == "error" and reply["detail"]

        # still connected, and still chatting
        received = await answer(ws, "!ping")
        assert [m["text"] for m in received if m["type"] == "message"] == ["pong"]
        assert received[-1]["type"] == "done"
        await ws.send(json.dumps({"text": "!echo binary frames work too"}).encode())
        assert (await receive(ws))["text"] == "binary frames work too"
        assert (await receive(ws))["type"] == "done"
        await ws.close()
        console = runtime.collector(CONSOLE)
        assert console is not None
        assert await wait_until(lambda: not console._sessions)


async def test_replies_to_the_whole_channel_reach_every_client(settings: Settings) -> None:
    async with serving(settings) as (url, runtime):
        _, key = await apikeys.create_key(runtime.db, "chat")
        talker = await open_chat(url, key, user="frank")
        listener = await open_chat(url, key, user="gina")
        received = await answer(talker, "!echo hi all")
        assert [m["text"] for m in received if m["type"] == "message"] == ["hi all"]
        heard = await receive(listener)
        assert (heard["type"], heard["text"]) == ("message", "hi all")
        await talker.close()
        await listener.close()
        console = runtime.collector(CONSOLE)
        assert console is not None
        assert await wait_until(lambda: not console._sessions)
