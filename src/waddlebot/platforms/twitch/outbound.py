"""Sending the router's replies to Twitch: ``replies.twitch`` out through Helix.

A channel reply is said by the bot account with Send Chat Message, split at 500 characters on
word boundaries, its first chunk threaded under the message it answers. A direct (or
ephemeral) reply is whispered to ``to_user``.

Twitch's limits are kept here, so nothing is refused for going too fast:

- in each channel at most 20 messages in any 30 s, or 100 where the bot is a moderator or
  the broadcaster. Each channel has its own queue and worker, so a burst waits in its own
  channel and holds up no other;
- whispers at most 3 a second and 100 a minute (waited for), to at most 40 different people a
  day: past that a whisper cannot be delivered, which is logged as an error and counted.

The windows live in this process, as Twitch counts per bot account: run one Twitch outbound per
deployment (the consumer group ``twitch`` with one consumer).

An entry is acknowledged once it is handled: sent; dropped by Twitch (``is_sent`` false:
logged, counted, not tried again: it would be dropped again); or refused (a 4xx: logged,
counted). Transient failures (5xx, network, rate limits) are retried with backoff; when they
persist the entry is left unacknowledged for the bus to hand out again, until it has been
tried :data:`MAX_DELIVERIES` times. Entries waiting in a queue are kept from being reclaimed
with ``touch``; outbound ids already handled are not sent again.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

import structlog

from waddlebot.core.contract import OutboundMessage, Visibility
from waddlebot.infra import keys, metrics, tracing
from waddlebot.infra.codec import decode_outbound
from waddlebot.infra.ports import Bus, BusMessage
from waddlebot.infra.tasks import repeat, seconds, stop_task
from waddlebot.platforms.split import split_message
from waddlebot.platforms.twitch import TWITCH
from waddlebot.platforms.twitch.helix import ChatSendResult, HelixClient, HelixError
from waddlebot.platforms.twitch.tokens import TokenUnavailable

log = structlog.get_logger("waddlebot.twitch.outbound")

PLATFORM = "twitch"
REPLIES = keys.replies_stream(PLATFORM)
GROUP = "twitch"

CHAT_MAX_CHARS = TWITCH.info.max_length
CHAT_WINDOW = 30.0
CHAT_LIMIT = 20
CHAT_LIMIT_PRIVILEGED = 100  # the bot moderates the channel, or it is the bot's own
# Twitch cuts a whisper to someone who never whispered the bot at 500 characters
WHISPER_MAX_CHARS = 500
WHISPERS_PER_SECOND = 3
WHISPERS_PER_MINUTE = 100
WHISPER_RECIPIENTS_PER_DAY = 40
DAY = 86_400.0

MAX_ATTEMPTS = 4  # tries of one send in a row, before the entry is left to the bus
BACKOFF_BASE = 1.0
BACKOFF_MAX = 30.0
MAX_DELIVERIES = 3  # times the bus may hand an entry out before it is given up
MIN_WAIT = 0.001  # a clock that rounds must still move forward
SEEN_MAX = 10_000
READ_BATCH = 100

T = TypeVar("T")


class SlidingWindow:
    """Send times of the last ``window`` seconds, to stay under a count in any such window."""

    def __init__(self, window: float) -> None:
        self.window = window
        self._times: deque[float] = deque()

    def delay(self, now: float, limit: int) -> float:
        """Seconds until one more send keeps every window within ``limit``; 0 for now."""
        times = self._times
        while times and times[0] <= now - self.window:
            times.popleft()
        if len(times) < limit:
            return 0.0
        return times[len(times) - limit] + self.window - now

    def record(self, now: float) -> None:
        self._times.append(now)


class RecipientLog:
    """Whom the bot whispered in the last day: Twitch allows 40 different people."""

    def __init__(self, limit: int = WHISPER_RECIPIENTS_PER_DAY, period: float = DAY) -> None:
        self.limit = limit
        self.period = period
        self._last: dict[str, float] = {}

    def allows(self, user_id: str, now: float) -> bool:
        for known, at in list(self._last.items()):
            if at <= now - self.period:
                del self._last[known]
        return user_id in self._last or len(self._last) < self.limit

    def record(self, user_id: str, now: float) -> None:
        self._last[user_id] = now


@dataclass(eq=False, slots=True)
class _Job:
    entry_id: str
    message: OutboundMessage
    deliveries: int


class _Lane:
    """A queue and the one task that works through it, in order."""

    def __init__(self, name: str, handle: Callable[[_Job], Awaitable[None]]) -> None:
        self.queue: asyncio.Queue[_Job] = asyncio.Queue()
        self._handle = handle
        self.task = asyncio.create_task(self._run(), name=name)

    async def _run(self) -> None:
        while True:
            job = await self.queue.get()
            await self._handle(job)


class TwitchOutbound:
    def __init__(
        self,
        bus: Bus,
        helix: HelixClient,
        *,
        consumer: str,
        bot_user_id: Callable[[], str],
        is_moderator: Callable[[str], bool],
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        reclaim_idle_ms: int = 60_000,
        max_held: int = 2_000,
    ) -> None:
        """``clock`` and ``sleep`` pace the sends (Twitch's windows, retry backoff); the bus
        keeps its own time. ``is_moderator(channel_id)``: whether the bot moderates that
        channel, so it may say 100 messages per 30 s there instead of 20."""
        self._bus = bus
        self._helix = helix
        self._consumer = consumer
        self._bot_user_id = bot_user_id
        self._is_moderator = is_moderator
        self._clock = clock
        self._sleep = sleep
        self._reclaim_idle_ms = reclaim_idle_ms
        self._max_held = max_held
        self._held: dict[str, str] = {}  # bus entry id -> outbound id, queued or being sent
        self._in_flight: dict[str, str] = {}  # outbound id -> bus entry id
        self._done: OrderedDict[str, None] = OrderedDict()  # outbound ids handled
        self._progress: dict[str, int] = {}  # outbound id -> chunks already sent
        self._room = asyncio.Event()
        self._room.set()
        self._channels: dict[str, _Lane] = {}
        self._windows: dict[str, SlidingWindow] = {}
        self._whispers: _Lane | None = None
        self._whisper_second = SlidingWindow(1.0)
        self._whisper_minute = SlidingWindow(60.0)
        self._recipients = RecipientLog()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        await self._bus.ensure_group(REPLIES, GROUP)
        self._tasks = [
            asyncio.create_task(self._read_forever(), name="twitch-replies"),
            asyncio.create_task(self._keep_alive(), name="twitch-replies-heartbeat"),
        ]

    async def stop(self) -> None:
        """Stop at once; what is still queued stays unacknowledged, for the next run."""
        lanes = [*self._channels.values(), *([self._whispers] if self._whispers else [])]
        for task in [*self._tasks, *(lane.task for lane in lanes)]:
            await stop_task(task)
        self._tasks, self._channels, self._whispers = [], {}, None
        self._held.clear()
        self._in_flight.clear()
        self._room.set()

    # --- taking entries off the bus ------------------------------------------------------------

    async def _read_forever(self) -> None:
        while True:
            try:
                await self._room.wait()
                count = min(READ_BATCH, self._max_held - len(self._held))
                messages = await self._bus.read(REPLIES, GROUP, self._consumer, count, 1000)
                if not messages:
                    messages = await self._bus.reclaim(
                        REPLIES, GROUP, self._consumer, self._reclaim_idle_ms, count
                    )
                for message in messages:
                    await self._accept(message)
            except Exception:
                log.exception("reading twitch replies failed; retrying")
                await asyncio.sleep(0.5)

    async def _keep_alive(self) -> None:
        """Entries waiting their turn are not idle: keep the bus from handing them to
        another consumer."""
        failure = "could not keep twitch replies claimed"
        await repeat(self._touch_held, seconds(self._reclaim_idle_ms / 3000), log, failure)

    async def _touch_held(self) -> None:
        if self._held:
            await self._bus.touch(REPLIES, GROUP, self._consumer, list(self._held))

    async def _accept(self, entry: BusMessage) -> None:
        if entry.id in self._held:
            return  # reclaimed from ourselves while still queued
        try:
            message = decode_outbound(entry.data)
        except ValueError:
            log.error("malformed twitch reply dropped", entry=entry.id)
            await self._ack(entry.id, "malformed")
            return
        outbound_id = message.outbound_id
        if outbound_id in self._done or outbound_id in self._in_flight:
            await self._bus.ack(REPLIES, GROUP, [entry.id])  # the same reply, published again
            return
        job = _Job(entry.id, message, entry.deliveries)
        if entry.deliveries > MAX_DELIVERIES:
            log.error(
                "twitch reply failed too often; giving up",
                outbound_id=outbound_id,
                entity_id=message.entity_id,
                deliveries=entry.deliveries,
            )
            if message.visibility is not Visibility.CHANNEL:
                metrics.TWITCH_WHISPERS_UNDELIVERABLE.labels("failed").inc()
            await self._finish(job, "failed")
            return
        if message.visibility is Visibility.CHANNEL:
            channel = message.channel_id
            if not channel and message.entity_id.startswith(f"{PLATFORM}:"):
                channel = message.entity_id.removeprefix(f"{PLATFORM}:")
            if not channel:
                log.error("twitch channel reply without a channel", outbound_id=outbound_id)
                await self._finish(job, "malformed")
                return
            lane = self._channels.get(channel)
            if lane is None:
                lane = self._channels[channel] = _Lane(
                    f"twitch-chat-{channel}", partial(self._work, channel=channel)
                )
        else:
            if self._whispers is None:
                self._whispers = _Lane("twitch-whispers", partial(self._work, channel=None))
            lane = self._whispers
        self._hold(job)
        lane.queue.put_nowait(job)

    # --- holding and letting go ------------------------------------------------------------

    def _hold(self, job: _Job) -> None:
        self._held[job.entry_id] = job.message.outbound_id
        self._in_flight[job.message.outbound_id] = job.entry_id
        if len(self._held) >= self._max_held:
            self._room.clear()

    def _let_go(self, job: _Job) -> None:
        self._held.pop(job.entry_id, None)
        if self._in_flight.get(job.message.outbound_id) == job.entry_id:
            del self._in_flight[job.message.outbound_id]
        if len(self._held) < self._max_held:
            self._room.set()

    async def _ack(self, entry_id: str, outcome: str) -> None:
        metrics.DELIVERED.labels(PLATFORM, outcome).inc()
        try:
            await self._bus.ack(REPLIES, GROUP, [entry_id])
        except Exception:
            # redelivered later, and then skipped as already handled
            log.exception("could not acknowledge a twitch reply", entry=entry_id)

    async def _finish(self, job: _Job, outcome: str) -> None:
        outbound_id = job.message.outbound_id
        self._progress.pop(outbound_id, None)
        self._done[outbound_id] = None
        if len(self._done) > SEEN_MAX:
            self._done.popitem(last=False)
        self._let_go(job)
        await self._ack(job.entry_id, outcome)

    def _release(self, job: _Job, error: BaseException) -> None:
        """Leave the entry to the bus: it is handed out again once it has been idle."""
        log.warning(
            "twitch reply not sent yet; left for redelivery",
            outbound_id=job.message.outbound_id,
            entity_id=job.message.entity_id,
            deliveries=job.deliveries,
            error=str(error),
        )
        self._let_go(job)

    # --- sending -------------------------------------------------------------------------------

    async def _work(self, job: _Job, channel: str | None) -> None:
        message = job.message
        try:
            bot = self._bot_user_id()
            if not bot:  # perhaps connected a moment ago in another process: try again later
                raise TokenUnavailable("no Twitch bot account is connected", transient=True)
            with tracing.sending(PLATFORM, message.traceparent):
                if channel is None:
                    await self._whisper(job, bot)
                else:
                    await self._say(job, bot, channel)
        except TokenUnavailable as exc:
            if exc.transient:  # Twitch's token endpoint had a moment: try again later
                self._release(job, exc)
                return
            log.error(
                "twitch reply cannot be sent: no usable bot token",
                outbound_id=message.outbound_id,
                entity_id=message.entity_id,
                error=str(exc),
            )
            if channel is None:
                metrics.TWITCH_WHISPERS_UNDELIVERABLE.labels("no_token").inc()
            await self._finish(job, "undeliverable")
        except HelixError as exc:
            if exc.transient:
                self._release(job, exc)
                return
            log.error(
                "twitch refused a reply",
                outbound_id=message.outbound_id,
                entity_id=message.entity_id,
                to_user=message.to_user,
                status=exc.status,
                error=str(exc),
            )
            if channel is None:
                metrics.TWITCH_WHISPERS_UNDELIVERABLE.labels("refused").inc()
            await self._finish(job, "refused")
        except Exception as exc:
            log.exception("sending a twitch reply failed", outbound_id=message.outbound_id)
            self._release(job, exc)

    async def _say(self, job: _Job, bot: str, channel: str) -> None:
        message = job.message
        chunks = split_message(message.text, CHAT_MAX_CHARS)
        if not chunks:
            log.warning("twitch reply with no text", outbound_id=message.outbound_id)
            await self._finish(job, "malformed")
            return
        window = self._windows.setdefault(channel, SlidingWindow(CHAT_WINDOW))
        for index in range(self._progress.get(message.outbound_id, 0), len(chunks)):
            parent = message.reply_to if index == 0 and message.reply_to else None
            try:
                result = await self._retrying(
                    job, self._chat_once, window, channel, bot, chunks[index], parent
                )
            except HelixError as exc:
                if parent is None or exc.status != 400:
                    raise
                # the parent cannot be replied to (deleted, or not a chat message): the answer
                # still goes out, just not threaded
                log.info("twitch refused the reply thread; sending unthreaded", parent=parent)
                result = await self._retrying(
                    job, self._chat_once, window, channel, bot, chunks[index], None
                )
            if not result.is_sent:
                log.warning(
                    "twitch dropped a chat message",
                    drop_code=result.drop_code,
                    drop_message=result.drop_message,
                    channel=channel,
                    outbound_id=message.outbound_id,
                    chunk=index + 1,
                    chunks=len(chunks),
                )
                metrics.TWITCH_CHAT_DROPPED.labels(result.drop_code or "unknown").inc()
                await self._finish(job, "dropped")  # the rest would make no sense alone
                return
            self._progress[message.outbound_id] = index + 1
        await self._finish(job, "sent")

    def _chat_limit(self, channel: str, bot: str) -> int:
        if channel == bot or self._is_moderator(channel):
            return CHAT_LIMIT_PRIVILEGED
        return CHAT_LIMIT

    async def _chat_once(
        self, window: SlidingWindow, channel: str, bot: str, text: str, parent: str | None
    ) -> ChatSendResult:
        while (delay := window.delay(self._clock(), self._chat_limit(channel, bot))) > 0:
            await self._sleep(max(delay, MIN_WAIT))
        try:
            return await self._helix.send_chat_message(
                channel, bot, text, reply_parent_message_id=parent
            )
        finally:
            # stamped once the answer is in, so the window holds however long the call took;
            # a failed call counts too, as Twitch may have taken it
            window.record(self._clock())

    async def _whisper(self, job: _Job, bot: str) -> None:
        message = job.message
        to_user = message.to_user
        chunks = split_message(message.text, WHISPER_MAX_CHARS)
        if not to_user or not chunks:
            log.error(
                "twitch whisper without a recipient or text",
                outbound_id=message.outbound_id,
                to_user=to_user,
            )
            metrics.TWITCH_WHISPERS_UNDELIVERABLE.labels("malformed").inc()
            await self._finish(job, "malformed")
            return
        if not self._recipients.allows(to_user, self._clock()):
            log.error(
                "twitch whisper undeliverable: the bot whispered 40 different people today",
                outbound_id=message.outbound_id,
                to_user=to_user,
            )
            metrics.TWITCH_WHISPERS_UNDELIVERABLE.labels("daily_recipient_cap").inc()
            await self._finish(job, "undeliverable")
            return
        for index in range(self._progress.get(message.outbound_id, 0), len(chunks)):
            await self._retrying(job, self._whisper_once, bot, to_user, chunks[index])
            self._progress[message.outbound_id] = index + 1
        await self._finish(job, "sent")

    async def _whisper_once(self, bot: str, to_user: str, text: str) -> None:
        while True:
            now = self._clock()
            delay = max(
                self._whisper_second.delay(now, WHISPERS_PER_SECOND),
                self._whisper_minute.delay(now, WHISPERS_PER_MINUTE),
            )
            if delay <= 0:
                break
            await self._sleep(max(delay, MIN_WAIT))
        try:
            await self._helix.send_whisper(bot, to_user, text)
        finally:
            now = self._clock()
            self._whisper_second.record(now)
            self._whisper_minute.record(now)
        self._recipients.record(to_user, now)

    async def _retrying(self, job: _Job, send: Callable[..., Awaitable[T]], *args: object) -> T:
        """``send(*args)``, tried again after a transient failure, with backoff."""
        for attempt in range(1, MAX_ATTEMPTS):
            try:
                return await send(*args)
            except HelixError as exc:
                if not exc.transient:
                    raise
                delay = min(BACKOFF_BASE * 2 ** (attempt - 1), BACKOFF_MAX)
                log.warning(
                    "twitch send failed; retrying",
                    outbound_id=job.message.outbound_id,
                    error=str(exc),
                    attempt=attempt,
                    retry_in=delay,
                )
                await self._sleep(delay)
        return await send(*args)
