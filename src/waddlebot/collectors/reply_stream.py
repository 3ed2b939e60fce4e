"""Reading a platform's reply stream (``replies.<platform>``) as one consumer of the
platform's group: each message handed to the collector's sender, a batch acknowledged once
handled, entries a dead consumer left behind (or a failed batch) reclaimed after a while and
given up after :data:`MAX_DELIVERIES` tries, malformed ones logged and counted, and a message
sent already (a batch retried after a failure) not sent again.

Messages of one *lane* (a channel, say) go out in order; lanes go out side by side, so a
channel held back by its platform's pace holds up no other."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable

import structlog

from waddlebot.core.contract import OutboundMessage
from waddlebot.infra import metrics
from waddlebot.infra.codec import decode_outbound
from waddlebot.infra.ports import Bus
from waddlebot.infra.tasks import stop_task
from waddlebot.services.router import keys

log = structlog.get_logger("waddlebot.replies")

Send = Callable[[OutboundMessage], Awaitable[None]]
Lane = Callable[[OutboundMessage], str]
REMEMBERED = 10_000  # outbound ids kept to skip redeliveries
MAX_DELIVERIES = 5  # a batch that failed this often is given up (logged), not tried forever


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
        reclaim_idle_ms: int = 30_000,
    ) -> None:
        self._bus = bus
        self._platform = platform
        self._stream = keys.replies_stream(platform)
        self._send = send
        self._lane = lane
        self._consumer = consumer
        self._batch = batch
        self._reclaim_idle_ms = reclaim_idle_ms
        self._sent: OrderedDict[str, None] = OrderedDict()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._bus.ensure_group(self._stream, self._platform)
        self._task = asyncio.create_task(self._forever(), name=f"{self._platform}-replies")

    async def stop(self) -> None:
        await stop_task(self._task)

    async def _forever(self) -> None:
        group = self._platform
        while True:
            try:
                entries = await self._bus.read(
                    self._stream, group, self._consumer, self._batch, 1000
                )
                if not entries:
                    entries = await self._bus.reclaim(
                        self._stream, group, self._consumer, self._reclaim_idle_ms, self._batch
                    )
                if not entries:
                    continue
                given_up = [e for e in entries if e.deliveries > MAX_DELIVERIES]
                for entry in given_up:
                    log.error(
                        "reply given up after failed deliveries",
                        platform=self._platform,
                        entry=entry.id,
                    )
                    metrics.DELIVERED.labels(self._platform, "given_up").inc()
                await self._deliver(
                    self._fresh([e.data for e in entries if e.deliveries <= MAX_DELIVERIES])
                )
                await self._bus.ack(self._stream, group, [e.id for e in entries])
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("delivery failed; retrying", platform=self._platform)
                await asyncio.sleep(0.5)

    def _fresh(self, payloads: list[bytes]) -> list[OutboundMessage]:
        messages = []
        for data in payloads:
            try:
                message = decode_outbound(data)
            except ValueError:
                log.error("malformed reply dropped", platform=self._platform)
                metrics.DELIVERED.labels(self._platform, "malformed").inc()
                continue
            if message.outbound_id not in self._sent:
                messages.append(message)
        return messages

    async def _deliver(self, messages: list[OutboundMessage]) -> None:
        if self._lane is None:
            await self._in_order(messages)
            return
        lanes: dict[str, list[OutboundMessage]] = {}
        for message in messages:
            lanes.setdefault(self._lane(message), []).append(message)
        outcomes = await asyncio.gather(
            *(self._in_order(lane) for lane in lanes.values()), return_exceptions=True
        )
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

    async def _in_order(self, messages: list[OutboundMessage]) -> None:
        for message in messages:
            await self._send(message)
            self._sent[message.outbound_id] = None
            if len(self._sent) > REMEMBERED:
                self._sent.popitem(last=False)
