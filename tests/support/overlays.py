"""Helpers for overlay tests: the URLs the owner is given, what a page opening now is shown,
and a page's feed read the way overlay.js reads it (over a real WebSocket)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.support.harness import say
from waddlebot.infra import overlay_keys
from waddlebot.runtime import Runtime

_URL = re.compile(r"\b(ticker|media|alerts|general): (\S+)")


async def overlay_urls(runtime: Runtime, *, owner: str = "streamer") -> dict[str, str]:
    """``!overlay url`` as the owner of the console community: kind -> page URL."""
    lines = await say(runtime, "!overlay url", user=owner, role="owner")
    private = next(line for line in lines if line.startswith("(private) "))
    return dict(_URL.findall(private))


async def shown(runtime: Runtime, community_id: int, kind: str) -> dict[str, Any] | None:
    """The last update a page of ``kind`` opening now is sent (None: it shows nothing)."""
    kept = await runtime.ports.cache.get(overlay_keys.state_key(community_id, kind))
    return orjson.loads(kept)[-1]["payload"] if kept else None


def feed_url(page_url: str) -> str:
    return page_url.replace("http://", "ws://", 1) + "/ws"


class Feed:
    """An open overlay page's WebSocket, answering pings like the page does."""

    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket
        self.hello: dict[str, Any] = {}
        self.state: list[dict[str, Any]] = []

    async def next(self, timeout: float = 10) -> dict[str, Any]:
        """The next update (pings are answered and skipped)."""
        async with asyncio.timeout(timeout):
            while True:
                message = json.loads(await self.socket.recv())
                if message["type"] == "ping":
                    await self.socket.send('{"type":"pong"}')
                    continue
                return dict(message)

    async def close_code(self, timeout: float = 10) -> int | None:
        """Read until the server closes the socket; its close code."""
        async with asyncio.timeout(timeout):
            with contextlib.suppress(ConnectionClosed):
                async for _ in self.socket:
                    pass
        return self.socket.close_code


async def open_feed(page_url: str) -> Feed:
    """Connect like a page does and read the hello (and the replayed state, if any)."""
    feed = Feed(await connect(feed_url(page_url)))
    feed.hello = await feed.next()
    assert feed.hello["type"] == "hello", feed.hello
    return feed


async def with_state(page_url: str) -> Feed:
    """A page that expects a replayed state right after its hello."""
    feed = await open_feed(page_url)
    message = await feed.next()
    assert message["type"] == "state", message
    feed.state = message["items"]
    return feed
