"""The console collector. Like every collector it turns what people type into canonical events
on the bus and sends the router's replies back out; here "out" is the chat sessions connected
to this process (``waddlebot chat``, in-process or over a WebSocket).

Run one console collector per deployment: its replies are consumed by one consumer group.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass, field

import structlog

from waddlebot.core.contract import OutboundMessage, Visibility
from waddlebot.core.events import Author, Event, EventType, new_id
from waddlebot.core.permissions import Level, PlatformRole
from waddlebot.infra import keys, metrics, tracing
from waddlebot.infra.codec import decode_outbound
from waddlebot.infra.completion import CompletionHub
from waddlebot.infra.ports import Backlogged, Bus
from waddlebot.infra.tasks import stop_task
from waddlebot.platforms.answering import publish_event

log = structlog.get_logger("waddlebot.console")

PLATFORM = "console"
REPLIES = keys.replies_stream(PLATFORM)
GROUP = "console"
ROLES: dict[str, tuple[PlatformRole, ...]] = {
    "everyone": (),
    "follower": (PlatformRole.FOLLOWER,),
    "subscriber": (PlatformRole.SUBSCRIBER,),
    "vip": (PlatformRole.VIP,),
    "moderator": (PlatformRole.MODERATOR,),
    "admin": (PlatformRole.ADMIN,),
    "owner": (PlatformRole.OWNER,),
}
assert set(ROLES) == {level.label for level in Level}
MAX_LINES = 1000  # shown lines a session holds for a client that stopped reading


def _bounded_lines() -> asyncio.Queue[ConsoleLine]:
    return asyncio.Queue(maxsize=MAX_LINES)


@dataclass(frozen=True, slots=True)
class ConsoleLine:
    text: str
    event_id: str
    private: bool = False


@dataclass(eq=False)
class ConsoleSession:
    """One person chatting in one console channel. ``lines`` holds what the bot showed them
    until it is read; when nobody reads it, the oldest lines give way to new ones."""

    user: str
    role: str = "everyone"
    channel: str = "local"
    lines: asyncio.Queue[ConsoleLine] = field(default_factory=_bounded_lines)
    dropped: int = 0  # lines pushed out of a full queue
    _delivered: dict[str, int] = field(default_factory=dict)  # only events awaited here
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"unknown role {self.role!r}; use one of: {', '.join(ROLES)}")
        if not self.user.strip():
            raise ValueError("a console user needs a name")

    @property
    def entity_id(self) -> str:
        return f"{PLATFORM}:{self.channel}"

    def sees(self, entity_id: str, visibility: str, to_user: str) -> bool:
        """Whether a reply to this place, with this visibility and recipient, shows here.
        A private message sent from another platform (no place) reaches the person in any
        console channel."""
        if visibility == Visibility.CHANNEL:
            return entity_id == self.entity_id
        return to_user == self.user and entity_id in (self.entity_id, "")

    def deliver(self, message: OutboundMessage) -> None:
        private = message.visibility is not Visibility.CHANNEL
        self.show(ConsoleLine(message.text, message.event_id, private))
        if message.event_id in self._delivered:  # a reply to what this person said
            self._delivered[message.event_id] += 1
            self._arrived.set()

    def show(self, line: ConsoleLine) -> None:
        """Queue a line for this person, pushing out the oldest when they stopped reading."""
        if self.lines.full():
            self.lines.get_nowait()
            self.lines.task_done()  # it will never be shown: don't let join() wait for it
            self.dropped += 1
            if self.dropped == 1 or self.dropped % MAX_LINES == 0:
                log.warning(
                    "console client is not reading; dropping its oldest lines",
                    user=self.user,
                    channel=self.channel,
                    dropped=self.dropped,
                )
        self.lines.put_nowait(line)

    def expect(self, event_id: str) -> None:
        """Start counting the replies to ``event_id`` (before it is sent: they may arrive
        before the router says it is done)."""
        self._delivered.setdefault(event_id, 0)

    def forget(self, event_id: str) -> None:
        self._delivered.pop(event_id, None)

    async def wait_delivered(self, event_id: str, count: int) -> None:
        """Until ``count`` replies to ``event_id`` (see :meth:`expect`) have arrived."""
        self.expect(event_id)
        try:
            while self._delivered[event_id] < count:
                self._arrived.clear()
                await self._arrived.wait()
        finally:
            self.forget(event_id)


class ConsoleCollector:
    def __init__(
        self, bus: Bus, completions: CompletionHub, *, consumer: str, reply_timeout: float = 10.0
    ) -> None:
        self._bus = bus
        self._completions = completions
        self._consumer = consumer
        self._reply_timeout = reply_timeout
        self._sessions: set[ConsoleSession] = set()
        self._sent: OrderedDict[str, None] = OrderedDict()  # outbound ids already shown
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._bus.ensure_group(REPLIES, GROUP)
        self._task = asyncio.create_task(self._deliver_forever(), name="console-replies")

    async def stop(self) -> None:
        await stop_task(self._task)

    def open(self, user: str, role: str = "everyone", channel: str = "local") -> ConsoleSession:
        session = ConsoleSession(user=user, role=role, channel=channel)
        self._sessions.add(session)
        return session

    def close(self, session: ConsoleSession) -> None:
        self._sessions.discard(session)

    def event_for(self, session: ConsoleSession, text: str) -> Event:
        return Event(
            platform=PLATFORM,
            entity_id=session.entity_id,
            channel_id=session.channel,
            message_id=new_id(),
            type=EventType.CHAT_MESSAGE,
            author=Author(
                user_id=session.user,
                login=session.user,
                display_name=session.user,
                roles=ROLES[session.role],
            ),
            text=text,
        )

    async def send(self, session: ConsoleSession, text: str) -> str:
        """Say something; returns once the bot's replies to it have reached ``session.lines``.
        Returns the event id."""
        event = self.event_for(session, text)
        completion = self._completions.expect(event.event_id)
        session.expect(event.event_id)
        try:
            await publish_event(self._bus, event, notify=True)
            done = await asyncio.wait_for(completion, self._reply_timeout)
            expected = sum(
                1
                for r in done["replies"]
                if session.sees(r["entity_id"], r["visibility"], r["to_user"])
            )
            await asyncio.wait_for(
                session.wait_delivered(event.event_id, expected), self._reply_timeout
            )
        except Backlogged as exc:
            session.show(
                ConsoleLine(
                    f"(the bot is busy: {exc.waiting} messages are waiting before yours; "
                    "nothing was sent, say it again in a moment)",
                    event.event_id,
                    True,
                )
            )
        except TimeoutError:
            log.warning("no answer from the router in time", event_id=event.event_id)
            session.show(
                ConsoleLine(
                    "(the bot did not answer in time; is a router running?)", event.event_id, True
                )
            )
        finally:
            self._completions.forget(event.event_id)
            session.forget(event.event_id)
        return event.event_id

    async def _deliver_forever(self) -> None:
        while True:
            try:
                messages = await self._bus.read(REPLIES, GROUP, self._consumer, 100, 1000)
                if not messages:
                    messages = await self._bus.reclaim(REPLIES, GROUP, self._consumer, 30_000, 100)
                for message in messages:
                    self._deliver(message.data)
                if messages:
                    await self._bus.ack(REPLIES, GROUP, [m.id for m in messages])
            except Exception:
                log.exception("console delivery failed; retrying")
                await asyncio.sleep(0.5)

    def _deliver(self, data: bytes) -> None:
        try:
            message = decode_outbound(data)
        except ValueError:
            log.error("malformed console reply dropped")
            metrics.DELIVERED.labels(PLATFORM, "malformed").inc()
            return
        if message.outbound_id in self._sent:
            return
        self._sent[message.outbound_id] = None
        if len(self._sent) > 10_000:
            self._sent.popitem(last=False)
        receivers = [
            s
            for s in self._sessions
            if s.sees(message.entity_id, message.visibility, message.to_user)
        ]
        with tracing.sending(PLATFORM, message.traceparent):
            for session in receivers:
                session.deliver(message)
        outcome = "sent" if receivers else "nobody_listening"
        if not receivers:
            log.info("console reply had no one to show it to", entity_id=message.entity_id)
        metrics.DELIVERED.labels(PLATFORM, outcome).inc()
