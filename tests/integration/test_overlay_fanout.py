"""The fan-out to open overlay pages and the producing side, on the in-process ports with
sockets the test controls: slow and silent pages are dropped without holding the others up,
replay comes before live updates, the per-community limit, rotation, the ticker's limit, and
what an update may contain."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from tests.support.clocks import Clock
from waddlebot.core.contract import ModuleRequest
from waddlebot.core.overlay import OverlayError, normalize
from waddlebot.features.overlay.hub import OverlayClient, OverlayHub
from waddlebot.infra import overlay_keys as keys
from waddlebot.infra.memory import MemoryBroadcast, MemoryCache
from waddlebot.router.overlays import OverlayPublisher, TickerReply
from waddlebot.sdk import Context

COMMUNITY = 7


class FakeSocket:
    """A page's socket. ``stuck``: a page whose network stopped taking data."""

    def __init__(self, *, stuck: bool = False, answers: bool = True) -> None:
        self.stuck = stuck
        self.answers = answers  # answers pings, like overlay.js
        self.client: OverlayClient | None = None
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.closed: tuple[int, str | None] | None = None

    async def send_text(self, data: str) -> None:
        if self.stuck:
            await asyncio.Event().wait()
        message = json.loads(data)
        if message["type"] == "ping" and self.answers and self.client is not None:
            self.client.seen()
        self.inbox.put_nowait(message)

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        self.closed = (code, reason)

    async def next(self) -> dict[str, Any]:
        return await asyncio.wait_for(self.inbox.get(), 5)


class Pages:
    """A hub on in-process ports, and the pages the test opens on it."""

    def __init__(self, cache: MemoryCache | None = None, **hub: Any) -> None:
        self.cache = cache if cache is not None else MemoryCache()
        self.broadcast = MemoryBroadcast()
        self.clock = Clock()
        self.hub = OverlayHub(self.broadcast, self.cache, clock=self.clock, **hub)
        self.publisher = OverlayPublisher(self.cache, self.broadcast)
        self.tasks: list[asyncio.Task[None]] = []

    async def open(self, socket: FakeSocket, page: str = "alerts", token: str = "t1") -> bool:
        client = self.hub.client(socket, COMMUNITY, page, token)
        socket.client = client
        if not await self.hub.join(client):
            return False
        self.tasks.append(asyncio.create_task(self.hub.serve(client)))
        return True

    async def show(self, kind: str, payload: dict[str, Any]) -> None:
        await self.publisher.publish(COMMUNITY, [self.publisher.prepare("", kind, payload)])

    async def close(self) -> None:
        await self.hub.stop()
        await asyncio.gather(*self.tasks)


@pytest.fixture
async def pages() -> Any:
    made: list[Pages] = []

    def make(**hub: Any) -> Pages:
        made.append(Pages(**hub))
        return made[-1]

    yield make
    for each in made:
        await each.close()


async def test_a_slow_page_is_dropped_and_the_others_get_everything(pages: Any) -> None:
    hub = pages(queue_size=4)
    stuck, fast = FakeSocket(stuck=True), [FakeSocket() for _ in range(3)]
    for socket in [stuck, *fast]:
        assert await hub.open(socket)
    for number in range(10):
        await hub.show("alerts", {"kind": "follow", "name": f"fan{number}"})
    assert stuck.client is not None
    await asyncio.wait_for(stuck.client.finished.wait(), 5)
    assert stuck.closed == (4008, "too slow")
    for socket in fast:
        assert (await socket.next())["type"] == "hello"
        names = [(await socket.next())["data"]["name"] for _ in range(10)]
        assert names == [f"fan{number}" for number in range(10)]
        assert socket.closed is None


async def test_a_page_that_stops_answering_heartbeats_is_dropped(pages: Any) -> None:
    hub = pages(heartbeat=15)
    alive, silent = FakeSocket(), FakeSocket(answers=False)
    await hub.open(alive)
    await hub.open(silent)
    for socket in (alive, silent):
        assert (await socket.next())["type"] == "hello"
    hub.clock.now += 20
    await hub.hub.beat()
    assert (await alive.next())["type"] == "ping"  # answered on arrival
    assert (await silent.next())["type"] == "ping"
    hub.clock.now += 20  # silent for 40 s: more than two and a half heartbeats
    await hub.hub.beat()
    assert silent.client is not None and alive.client is not None
    await asyncio.wait_for(silent.client.finished.wait(), 5)
    assert silent.closed == (4009, "no heartbeat")
    assert (await alive.next())["type"] == "ping" and not alive.client.ending


class HeldCache(MemoryCache):
    """A cache whose reads wait until the test lets them go."""

    def __init__(self) -> None:
        super().__init__()
        self.reading = asyncio.Event()
        self.release = asyncio.Event()

    async def get(self, key: str) -> bytes | None:
        self.reading.set()
        await self.release.wait()
        return await super().get(key)


async def test_a_page_replays_the_state_before_any_live_update(pages: Any) -> None:
    cache = HeldCache()
    hub = pages(cache=cache)
    cache.release.set()
    await hub.show("media", {"type": "now_playing", "title": "First song"})
    cache.release.clear()
    socket = FakeSocket()
    joining = asyncio.create_task(hub.open(socket, page="media"))
    await cache.reading.wait()  # the page is subscribed and its state is being read...
    await hub.show("media", {"type": "clip", "url": "https://clips.example/so.mp4"})
    for _ in range(3):
        await asyncio.sleep(0)  # ... and the room's reader hands it the clip meanwhile
    cache.release.set()
    assert await joining
    assert (await socket.next())["type"] == "hello"
    state = await socket.next()
    assert state["type"] == "state"
    assert [item["data"]["title"] for item in state["items"]] == ["First song"]
    assert (await socket.next())["data"]["type"] == "clip"


async def test_the_limit_counts_open_pages_only(pages: Any) -> None:
    hub = pages(max_connections=2)
    first, second, third = FakeSocket(), FakeSocket(), FakeSocket()
    assert await hub.open(first) and await hub.open(second, page="ticker")
    assert not await hub.open(third)
    assert first.client is not None
    await hub.hub.leave(first.client)
    assert hub.hub.connections(COMMUNITY) == 1
    assert await hub.open(third, page="media")


async def test_rotation_closes_only_the_pages_of_the_old_token(pages: Any) -> None:
    hub = pages()
    old, new = FakeSocket(), FakeSocket()
    await hub.open(old, token="old-hash")
    await hub.open(new, token="new-hash")
    await hub.publisher.revoke(COMMUNITY, "old-hash")
    assert old.client is not None
    await asyncio.wait_for(old.client.finished.wait(), 5)
    assert old.closed == (4001, "overlay URL replaced")
    await hub.show("alerts", {"kind": "raid", "name": "pal", "viewers": 3})
    assert (await new.next())["type"] == "hello"
    assert (await new.next())["data"]["name"] == "pal"


async def test_stopping_the_service_closes_pages_so_they_reconnect(pages: Any) -> None:
    hub = pages()
    socket = FakeSocket()
    await hub.open(socket)
    await hub.close()
    assert socket.closed == (1001, "server going away")


# -- the producing side ------------------------------------------------------------------------


def _publisher(cache: MemoryCache, clock: Clock, per_minute: int = 2) -> OverlayPublisher:
    return OverlayPublisher(cache, MemoryBroadcast(), ticker_per_minute=per_minute, clock=clock)


def _ticker_lines(raw: bytes | None) -> list[str]:
    return [item["payload"]["text"] for item in json.loads(raw or b"[]")]


async def test_the_ticker_takes_replies_only_while_a_page_is_open_and_within_its_limit() -> None:
    cache, clock = MemoryCache(), Clock()
    publisher = _publisher(cache, clock)
    state = keys.state_key(COMMUNITY, "ticker")

    def replies(*texts: str) -> list[TickerReply]:
        return [TickerReply(COMMUNITY, "s", "twitch", text) for text in texts]

    await publisher.ticker(replies("nobody is watching"))
    assert await cache.get(state) is None
    await cache.set(keys.live_key(COMMUNITY), b"1")
    await publisher.ticker(replies("one", "two", "three"))
    assert _ticker_lines(await cache.get(state)) == ["one", "two"]
    await publisher.ticker(replies("four"))
    assert _ticker_lines(await cache.get(state)) == ["one", "two"]
    clock.now += 60  # a new minute
    await publisher.ticker(replies("x" * 2000))
    (*_, long_line) = _ticker_lines(await cache.get(state))
    assert len(long_line) == 500 and long_line.endswith("…")


async def test_updates_a_page_could_not_show_are_refused() -> None:
    publisher = OverlayPublisher(MemoryCache(), MemoryBroadcast(), max_bytes=2048)
    refused = {
        "a script as cover art": (
            "media",
            {"type": "now_playing", "title": "x", "cover": "javascript:alert(1)"},
        ),
        "an http clip": ("media", {"type": "clip", "url": "http://example.com/a.mp4"}),
        "an unknown alert": ("alerts", {"kind": "hug"}),
        "a misspelt field": ("alerts", {"kind": "follow", "nmae": "bob"}),
        "a long line": ("ticker", {"text": "x" * 501}),
        "an unknown template": ("general", {"template": "marquee"}),
        "too big to send": (
            "general",
            {"template": "list", "items": ["x" * 200] * 10, "body": "y" * 1000},
        ),
        "more viewers than there are people": ("alerts", {"kind": "raid", "viewers": 2**70}),
    }
    for why, (kind, payload) in refused.items():
        with pytest.raises(OverlayError):
            publisher.prepare("", kind, payload)
            pytest.fail(f"accepted {why}")


def test_other_kinds_become_cards_on_the_general_page() -> None:
    kudos = normalize("kudos", {"from": "carol", "to": "bob", "total": 2, "tags": ["x"]})
    assert kudos.page == "general"
    assert kudos.data["fields"] == [["from", "carol"], ["to", "bob"], ["total", "2"]]
    quote = normalize("quote", {"title": "Quote #4", "body": "<b>hi</b>"})
    assert (quote.page, quote.data["title"], quote.data["body"]) == (
        "general",
        "Quote #4",
        "<b>hi</b>",
    )
    assert normalize("media", {"clear": True}).clear


def test_the_sdk_helpers_check_their_payload_at_once() -> None:
    ctx = Context(
        ModuleRequest(session_id="s", community_id=1, entity_id="console:local", platform="console")
    )
    ctx.overlay.now_playing("Song", artist="Band", duration=180, cover="https://img.example/c.png")
    ctx.overlay.alert("cheer", name="fan", bits=100)
    ctx.overlay.card("Title", "Body", template="banner")
    ctx.overlay.ticker("announcement")
    ctx.overlay.clear("media")
    ctx.overlay("kudos", {"from": "carol"})  # the plain call, as before
    with pytest.raises(OverlayError, match="https"):
        ctx.overlay.clip("http://example.com/clip.mp4")
    kinds = [update.kind for update in ctx.response().overlay]
    assert kinds == ["media", "alerts", "general", "ticker", "media", "kudos"]
