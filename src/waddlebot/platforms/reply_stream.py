"""Reading a platform's reply stream (``replies.<platform>``) as one consumer of the
platform's group, and handing each message to the collector's sender.

Messages of one *lane* (a channel, say) go out in order, each lane on its own worker, so a
channel held back by its platform's pace (or a 429) holds up no other, in this read or the
next. An entry is acknowledged once its message is handled. One whose sending failed is left
unacknowledged: the bus hands it out again after ``reclaim_idle_ms``, and after
:data:`MAX_DELIVERIES` tries it is given up (logged and counted). Entries waiting in a lane are
kept from being reclaimed meanwhile (``touch``); malformed ones are logged and counted; a
message sent already (a redelivery) is not sent again.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import structlog

from waddlebot.core.contract import OutboundMessage
from waddlebot.infra import keys, metrics, tracing
from waddlebot.infra.codec import decode_outbound
from waddlebot.infra.ports import Bus, BusMessage
from waddlebot.infra.tasks import repeat, seconds, stop_task

log = structlog.get_logger("waddlebot.replies")

Send = Callable[[OutboundMessage], Awaitable[None]]
Lane = Callable[[OutboundMessage], str]
REMEMBERED = 10_000  # outbound ids kept to skip redeliveries
MAX_DELIVERIES = 5
LANE_IDLE_SECONDS = 60.0  # a lane's worker ends after this long without work


@dataclass
class _Lane:
    queue: asyncio.Queue[tuple[str, OutboundMessage]] = field(default_factory=asyncio.Queue)
    task: asyncio.Task[None] | None = None


class ReplyStream:
    def __init__(
        self,
        bus: Bus,
        platform: str,
        send: Send,
        *,
        consumer: str,
        lane: Lane | None = None,
        batch: int = 50,
        max_held: int = 1_000,
        reclaim_idle_ms: int = 30_000,
    ) -> None:
        self._bus = bus
        self._platform = platform
        self._stream = keys.replies_stream(platform)
        self._send = send
        self._consumer = consumer
        self._lane_of = lane or (lambda _message: "")
        self._batch = batch
        self._max_held = max_held
        self._reclaim_idle_ms = reclaim_idle_ms
        self._sent: OrderedDict[str, None] = OrderedDict()
        self._held: set[str] = set()  # entry ids queued or being sent
        self._room = asyncio.Event()
        self._room.set()
        self._lanes: dict[str, _Lane] = {}
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        await self._bus.ensure_group(self._stream, self._platform)
        self._tasks = [
            asyncio.create_task(self._read_forever(), name=f"{self._platform}-replies"),
            asyncio.create_task(self._keep_alive(), name=f"{self._platform}-replies-held"),
        ]

    async def stop(self) -> None:
        """Stop at once; what is still queued stays unacknowledged, for whoever reads next."""
        for task in [*self._tasks, *(lane.task for lane in self._lanes.values())]:
            await stop_task(task)
        self._tasks, self._lanes = [], {}
        self._held.clear()
        self._room.set()

    async def _read_forever(self) -> None:
        reclaimed_at = time.monotonic()
        while True:
            try:
                await self._room.wait()
                count = min(self._batch, self._max_held - len(self._held))
                entries = await self._bus.read(
                    self._stream, self._platform, self._consumer, count, 1000
                )
                # what failed, or what a dead sender held, comes back even while new replies
                # keep arriving
                if not entries or time.monotonic() - reclaimed_at > self._reclaim_idle_ms / 2000:
                    reclaimed_at = time.monotonic()
                    entries += await self._bus.reclaim(
                        self._stream, self._platform, self._consumer, self._reclaim_idle_ms, count
                    )
                for entry in entries:
                    await self._accept(entry)
            except Exception:
                log.exception("reading replies failed; retrying", platform=self._platform)
                await asyncio.sleep(0.5)

    async def _keep_alive(self) -> None:
        """Entries waiting their turn are not idle: keep the bus from handing them to
        another consumer."""
        pause = seconds(self._reclaim_idle_ms / 3000)
        failure = "could not keep replies claimed"
        await repeat(self._touch_held, pause, log, failure, platform=self._platform)

    async def _touch_held(self) -> None:
        if self._held:
            await self._bus.touch(self._stream, self._platform, self._consumer, list(self._held))

    async def _accept(self, entry: BusMessage) -> None:
        if entry.id in self._held:
            return  # reclaimed from ourselves while still queued
        if entry.deliveries > MAX_DELIVERIES:
            log.error("reply given up after failed deliveries", platform=self._platform)
            metrics.DELIVERED.labels(self._platform, "given_up").inc()
            await self._ack(entry.id)
            return
        try:
            message = decode_outbound(entry.data)
        except ValueError:
            log.error("malformed reply dropped", platform=self._platform)
            metrics.DELIVERED.labels(self._platform, "malformed").inc()
            await self._ack(entry.id)
            return
        if message.outbound_id in self._sent:
            await self._ack(entry.id)
            return
        self._held.add(entry.id)
        if len(self._held) >= self._max_held:
            self._room.clear()
        name = self._lane_of(message)
        lane = self._lanes.get(name)
        if lane is None or lane.task is None or lane.task.done():
            lane = self._lanes[name] = _Lane()
            lane.task = asyncio.create_task(self._work(name, lane), name=f"replies-{name}")
        lane.queue.put_nowait((entry.id, message))

    async def _work(self, name: str, lane: _Lane) -> None:
        while True:
            try:
                entry_id, message = await asyncio.wait_for(lane.queue.get(), LANE_IDLE_SECONDS)
            except TimeoutError:
                if lane.queue.empty() and self._lanes.get(name) is lane:
                    del self._lanes[name]
                    return
                continue
            try:
                with tracing.sending(self._platform, message.traceparent):
                    await self._send(message)
            except Exception:
                log.exception(
                    "reply not sent; left for redelivery",
                    platform=self._platform,
                    outbound_id=message.outbound_id,
                )
                self._let_go(entry_id)
                continue
            self._remember(message.outbound_id)
            await self._ack(entry_id)
            self._let_go(entry_id)

    def _remember(self, outbound_id: str) -> None:
        self._sent[outbound_id] = None
        if len(self._sent) > REMEMBERED:
            self._sent.popitem(last=False)

    def _let_go(self, entry_id: str) -> None:
        self._held.discard(entry_id)
        if len(self._held) < self._max_held:
            self._room.set()

    async def _ack(self, entry_id: str) -> None:
        try:
            await self._bus.ack(self._stream, self._platform, [entry_id])
        except Exception:  # handed out again later; the outbound id keeps it from going twice
            log.warning("reply not acknowledged", platform=self._platform, entry=entry_id)
