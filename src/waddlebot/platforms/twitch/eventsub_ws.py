"""EventSub over WebSocket, for a streamer with no public URL.

One :class:`EventSubWebSocket` keeps one EventSub session alive: it answers the welcome by
creating the subscriptions (``on_welcome``, within Twitch's 10 s window), watches for silence
longer than the session's keepalive timeout, follows ``session_reconnect`` to the new URL
without losing what is in flight, and starts a fresh session (with capped, jittered backoff)
whenever a connection ends. It never sends data: Twitch closes a talking client with 4001.
The websockets library answers Twitch's pings; the client sends no pings of its own.

Every connection has a reader task that only moves raw messages into the session's queue
(stamping when its connection last spoke); one loop handles them in arrival order. During a
hand-over both connections feed that queue, so the old one is read until it closes even after
the new one is welcomed, and nothing written to either is missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import orjson
import structlog
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from waddlebot.infra.connections import Watch
from waddlebot.platforms.twitch.times import parse_timestamp
from waddlebot.platforms.twitch.translate import Notification

log = structlog.get_logger("waddlebot.twitch.ws")

URL = "wss://eventsub.wss.twitch.tv/ws"
SUBSCRIBE_WINDOW = 10.0  # seconds after the welcome before Twitch closes an unused session
RECENT_IDS = 1024
BATCH = 100  # messages already received that are handled together, at most
ABNORMAL_CLOSURE = 1006

NotificationHandler = Callable[[Notification], Awaitable[object]]
RevocationHandler = Callable[[dict[str, Any]], Awaitable[object]]
WelcomeHandler = Callable[[str], Awaitable[object]]

# What each close code means, and how loudly to say so. Every close ends in a fresh session.
CLOSE_CODES: dict[int, tuple[str, int]] = {
    1000: ("normal closure", logging.INFO),
    1001: ("server going away", logging.WARNING),
    ABNORMAL_CLOSURE: (
        "abnormal closure: the connection dropped without a close frame",
        logging.WARNING,
    ),
    4000: ("internal server error", logging.WARNING),
    4001: (
        "client sent inbound traffic: WaddleBot sent something other than a pong, a bug",
        logging.ERROR,
    ),
    4002: ("client failed ping-pong", logging.WARNING),
    4003: (
        "connection unused: no subscription was created within 10 s of the welcome; "
        "check the user token and its scopes",
        logging.ERROR,
    ),
    4004: ("reconnect grace time expired: the move to the reconnect URL failed", logging.WARNING),
    4005: ("network timeout", logging.WARNING),
    4006: ("network error", logging.WARNING),
    4007: ("invalid reconnect: the reconnect URL was refused", logging.WARNING),
}
# Closes that say our side is at fault: they never reset the backoff.
OUR_FAULT = frozenset({4001, 4003})


def describe_close(code: int | None) -> tuple[str, int]:
    """The meaning and log level of a close code (None: the connection never opened)."""
    if code is None:
        return "could not connect", logging.WARNING
    return CLOSE_CODES.get(code, (f"unexpected close code {code}", logging.WARNING))


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delays between sessions: ``initial * factor**failures`` capped at ``maximum``, minus up
    to ``jitter`` of it at random. The failure count resets once a session has delivered a
    notification or stayed up ``reset_after`` seconds."""

    initial: float = 1.0
    maximum: float = 60.0
    factor: float = 2.0
    jitter: float = 0.25
    reset_after: float = 60.0

    def delay(self, failures: int) -> float:
        base = min(self.maximum, self.initial * self.factor ** min(failures, 32))
        return base * (1.0 - self.jitter * random.random())


def with_keepalive(url: str, seconds: int | None) -> str:
    """``url`` asking for ``keepalive_timeout_seconds`` (Twitch clamps it to 10..600)."""
    if seconds is None:
        return url
    parts = urlsplit(url)
    query = [
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if key != "keepalive_timeout_seconds"
    ]
    query.append(("keepalive_timeout_seconds", str(seconds)))
    return urlunsplit(parts._replace(query=urlencode(query)))


def build_notification(metadata: Mapping[str, Any], payload: Mapping[str, Any]) -> Notification:
    """A notification message as a :class:`Notification`; ValueError if it cannot be one."""
    message_id = metadata.get("message_id")
    if not isinstance(message_id, str) or not message_id:
        raise ValueError("the notification has no message_id")
    subscription = payload.get("subscription")
    subscription = subscription if isinstance(subscription, Mapping) else {}
    event = payload.get("event")
    if not isinstance(event, Mapping):
        raise ValueError("the notification has no event")
    return Notification(
        message_id=message_id,
        subscription_type=str(metadata.get("subscription_type") or subscription.get("type") or ""),
        subscription_version=str(
            metadata.get("subscription_version") or subscription.get("version") or ""
        ),
        event=event,
        timestamp=_timestamp(metadata.get("message_timestamp")),
    )


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return parse_timestamp(value)
    except ValueError:
        return None


class _RecentIds:
    """The last few notification ids, so a hand-over never delivers one twice."""

    def __init__(self, size: int = RECENT_IDS) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._size = size

    def add(self, message_id: str) -> bool:
        """False if the id was seen already."""
        if message_id in self._ids:
            return False
        self._ids[message_id] = None
        if len(self._ids) > self._size:
            self._ids.popitem(last=False)
        return True


class _Link:
    """One WebSocket connection of a session and what it has told us."""

    def __init__(self, url: str, now: float) -> None:
        self.url = url
        self.last_seen = now  # when it was opened or last delivered a message
        self.ws: ClientConnection | None = None
        self.task: asyncio.Task[None] | None = None
        self.closer: asyncio.Task[None] | None = None
        self.session_id: str | None = None
        self.keepalive: float | None = None  # None until welcomed
        self.done = False
        self.close_code: int | None = None
        self.close_reason = ""
        self.error: str = ""


# A raw message from a link, or (link, None) once it is closed; None alone asks to stop.
_Item = tuple[_Link, str | bytes | None] | None


@dataclass(eq=False)
class _Session:
    queue: asyncio.Queue[_Item]
    current: _Link | None = None
    pending: _Link | None = None  # the reconnect URL's connection, until its welcome
    links: list[_Link] = field(default_factory=list)
    welcomed_at: float | None = None
    notified: bool = False
    held: list[_Item] = field(default_factory=list)  # taken off the queue, not yet looked at


@dataclass(frozen=True, slots=True)
class _End:
    code: int | None = None
    healthy: bool = False
    stopped: bool = False


class _Silent(Exception):
    """Nothing arrived within the keepalive timeout (or the welcome within the handshake)."""


class EventSubWebSocket:
    """Keeps an EventSub WebSocket session alive until :meth:`stop`.

    ``on_welcome(session_id)`` runs for each fresh session (not after a ``session_reconnect``:
    subscriptions carry over) and must create the subscriptions; it is cancelled after
    Twitch's 10 s window. ``on_notification`` and ``on_revocation`` get what Twitch sends;
    their exceptions are logged and never end the connection."""

    def __init__(
        self,
        url: str = URL,
        *,
        on_notification: NotificationHandler,
        on_revocation: RevocationHandler,
        on_welcome: WelcomeHandler,
        keepalive_timeout_seconds: int | None = None,
        backoff: Backoff | None = None,
        keepalive_margin_seconds: float = 2.0,
        handshake_timeout_seconds: float = 10.0,
        close_timeout_seconds: float = 2.0,
        name: str = "",
        watch: Watch | None = None,
    ) -> None:
        if keepalive_timeout_seconds is not None and keepalive_timeout_seconds < 1:
            raise ValueError("keepalive_timeout_seconds must be positive")
        self._url = with_keepalive(url, keepalive_timeout_seconds)
        self._on_notification = on_notification
        self._on_revocation = on_revocation
        self._on_welcome = on_welcome
        self._backoff = backoff or Backoff()
        self._margin = keepalive_margin_seconds
        self._handshake_timeout = handshake_timeout_seconds
        self._close_timeout = close_timeout_seconds
        self._log = log.bind(connection=name) if name else log
        self.watch = watch or Watch(name or "session", lambda: None)
        self._recent = _RecentIds()
        self._failures = 0
        self._session_id: str | None = None
        self._ready = asyncio.Event()
        self._wake = asyncio.Event()
        self._stopped = asyncio.Event()
        self._stopping = False
        self._queue: asyncio.Queue[_Item] | None = None
        self._task: asyncio.Task[Any] | None = None

    # --- public ------------------------------------------------------------------------------

    @property
    def session_id(self) -> str | None:
        """The session's id once welcomed; None between sessions."""
        return self._session_id

    async def wait_ready(self) -> str:
        """Wait until a session is welcomed and ``on_welcome`` has succeeded; its id."""
        while True:
            await self._ready.wait()
            if self._session_id is not None:
                return self._session_id

    async def run(self) -> None:
        """Connect, and keep a session alive until :meth:`stop`."""
        if self._task is not None:
            raise RuntimeError("this EventSub WebSocket is already running")
        self._task = asyncio.current_task()
        self._stopped.clear()
        try:
            while not self._stopping:
                try:
                    end = await self._run_session()
                except Exception:  # a bug here must not end the collector's connection for good
                    self._log.exception("eventsub websocket session failed")
                    end = _End()
                if end.stopped or self._stopping:
                    break
                await self._pause(end)
        finally:
            self._task = None
            self._queue = None
            self._session_id = None
            self._ready.clear()
            self._stopped.set()
            self.watch.enter("disconnected")

    async def stop(self, grace: float = 10.0) -> None:
        """End the session and make :meth:`run` return, for good (cancelling it after
        ``grace`` seconds, e.g. when a callback hangs)."""
        self._stopping = True
        self._wake.set()
        if self._queue is not None:
            self._queue.put_nowait(None)
        task = self._task
        if task is None or task is asyncio.current_task():
            return
        try:
            await asyncio.wait_for(self._stopped.wait(), grace)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # --- sessions ----------------------------------------------------------------------------

    async def _pause(self, end: _End) -> None:
        if end.healthy and end.code not in OUR_FAULT:
            self._failures = 0
        self.watch.enter("disconnected")
        delay = self._backoff.delay(self._failures)
        self._failures += 1
        self._log.info(
            "eventsub websocket reconnecting with a new session",
            in_seconds=round(delay, 3),
            attempt=self._failures,
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), delay)

    async def _run_session(self) -> _End:
        session = _Session(queue=asyncio.Queue())
        self._queue = session.queue
        if self._stopping:
            return _End(stopped=True)
        self.watch.enter("connecting")
        session.current = self._open(session, self._url)
        try:
            return await self._serve(session)
        finally:
            self._ready.clear()
            self._session_id = None
            await self._shutdown(session)

    async def _serve(self, session: _Session) -> _End:
        while True:
            try:
                item = await self._next(session)
            except _Silent:
                return self._silent(session)
            if item is None:
                return _End(stopped=True)
            link, raw = item
            if raw is not None:
                await self._handle_with_queued(session, link, raw)
                continue
            end = self._closed(session, link)
            if end is not None:
                return end

    async def _handle_with_queued(self, session: _Session, link: _Link, raw: str | bytes) -> None:
        """Handle a message and the messages queued behind it together (up to
        :data:`BATCH`): their notifications are handed over at once, in order, without
        waiting for each to reach the bus first (a Redis bus then takes them in one round
        trip, in that order). Anything else than a message ends the batch: a close is
        looked at by :meth:`_serve`, in its place."""
        batch = [(link, raw)]
        queue = session.queue
        while len(batch) < BATCH and not queue.empty():
            item = queue.get_nowait()
            if item is None or item[1] is None:
                session.held.append(item)  # what :meth:`_next` gives next, in its place
                break
            batch.append((item[0], item[1]))
        await asyncio.gather(*(self._handle(session, lk, message) for lk, message in batch))

    async def _next(self, session: _Session) -> _Item:
        if session.held:
            return session.held.pop()
        if not session.queue.empty():
            return session.queue.get_nowait()
        watched = self._watched(session)
        limit = self._handshake_timeout if watched.keepalive is None else watched.keepalive
        if watched.keepalive is not None:
            limit += self._margin
        remaining = watched.last_seen + limit - asyncio.get_running_loop().time()
        try:
            return await asyncio.wait_for(session.queue.get(), max(remaining, 0.001))
        except TimeoutError:
            raise _Silent from None

    @staticmethod
    def _watched(session: _Session) -> _Link:
        """The connection whose silence ends the session: the current one, or the new one
        while a move is under way and the old one has already closed."""
        assert session.current is not None
        if session.current.done and session.pending is not None:
            return session.pending
        return session.current

    def _silent(self, session: _Session) -> _End:
        watched = self._watched(session)
        self._log.warning(
            "eventsub websocket went silent; treating it as dead",
            waited_for="welcome" if watched.keepalive is None else "keepalive",
            keepalive_timeout_seconds=watched.keepalive,
        )
        return _End(code=None, healthy=self._healthy(session))

    def _healthy(self, session: _Session) -> bool:
        if session.notified:
            return True
        if session.welcomed_at is None:
            return False
        lived = asyncio.get_running_loop().time() - session.welcomed_at
        return lived >= self._backoff.reset_after

    async def _shutdown(self, session: _Session) -> None:
        tasks = [t for link in session.links for t in (link.task, link.closer) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # --- connections -------------------------------------------------------------------------

    def _open(self, session: _Session, url: str) -> _Link:
        link = _Link(url, asyncio.get_running_loop().time())
        link.task = asyncio.create_task(self._read(link, session.queue))
        session.links.append(link)
        return link

    async def _read(self, link: _Link, queue: asyncio.Queue[_Item]) -> None:
        """Move everything the connection receives into the queue, then report its close."""
        loop = asyncio.get_running_loop()
        try:
            async with connect(
                link.url,
                open_timeout=self._handshake_timeout,
                ping_interval=None,  # Twitch only wants pongs from us
                close_timeout=self._close_timeout,
            ) as ws:
                link.ws = ws
                while True:
                    raw = await ws.recv()
                    link.last_seen = loop.time()
                    queue.put_nowait((link, raw))
        except ConnectionClosed as exc:
            link.close_code = exc.rcvd.code if exc.rcvd is not None else ABNORMAL_CLOSURE
            link.close_reason = exc.rcvd.reason if exc.rcvd is not None else ""
        except Exception as exc:  # refused, timed out, TLS, bad handshake: reported below
            link.error = repr(exc)
        finally:
            link.done = True
            queue.put_nowait((link, None))

    def _closed(self, session: _Session, link: _Link) -> _End | None:
        """A connection ended: the session's end, or None when it goes on without it."""
        if link is session.pending:
            session.pending = None
            self._log_close(link, "the move to the reconnect URL failed")
            if session.current is not None and session.current.done:
                return _End(code=link.close_code, healthy=self._healthy(session))
            self._log.warning(
                "eventsub websocket staying on the old connection until Twitch closes it"
            )
            return None
        if link is session.current:
            if session.pending is not None:
                self._log.info("eventsub websocket old connection closed during the move")
                return None
            self._log_close(link, "reconnecting with a new session")
            return _End(code=link.close_code, healthy=self._healthy(session))
        self._log.debug("eventsub websocket retired connection closed", code=link.close_code)
        return None

    def _log_close(self, link: _Link, action: str) -> None:
        meaning, level = describe_close(None if link.error else link.close_code)
        self._log.log(
            level,
            "eventsub websocket closed",
            code=link.close_code,
            meaning=meaning,
            reason=link.close_reason or None,
            error=link.error or None,
            action=action,
        )

    async def _retire(self, link: _Link) -> None:
        """Close a connection that has been replaced; its reader keeps going until the close
        completes, so what the server sent before it saw our close frame is still handled."""
        if link.ws is not None and not link.done:
            with contextlib.suppress(Exception):
                await link.ws.close()

    # --- messages ----------------------------------------------------------------------------

    async def _handle(self, session: _Session, link: _Link, raw: str | bytes) -> None:
        try:
            message = orjson.loads(raw)
            metadata = message["metadata"]
            kind = metadata["message_type"]
            payload = message.get("payload") or {}
            if not isinstance(payload, Mapping):
                raise TypeError("payload is not an object")
        except (ValueError, KeyError, TypeError):
            self._log.warning("eventsub websocket message unreadable", raw=_excerpt(raw))
            return
        self.watch.heard()
        if kind == "session_keepalive":
            return
        if kind == "notification":
            await self._notification(session, metadata, payload)
        elif kind == "revocation":
            await self._revocation(payload)
        elif kind == "session_welcome":
            await self._welcome(session, link, payload)
        elif kind == "session_reconnect":
            self._reconnect(session, link, payload)
        else:
            self._log.warning("eventsub websocket message of an unknown type", type=kind)

    async def _notification(
        self, session: _Session, metadata: Mapping[str, Any], payload: Mapping[str, Any]
    ) -> None:
        try:
            notification = build_notification(metadata, payload)
        except ValueError as exc:
            self._log.warning("eventsub notification unusable", problem=str(exc))
            return
        if not self._recent.add(notification.message_id):
            self._log.info("eventsub notification seen already", message_id=notification.message_id)
            return
        session.notified = True
        try:
            await self._on_notification(notification)
        except Exception:
            self._log.exception(
                "eventsub notification handler failed",
                message_id=notification.message_id,
                type=notification.subscription_type,
            )

    async def _revocation(self, payload: Mapping[str, Any]) -> None:
        subscription = payload.get("subscription")
        if not isinstance(subscription, dict):
            self._log.warning("eventsub revocation without a subscription")
            return
        try:
            await self._on_revocation(subscription)
        except Exception:
            self._log.exception(
                "eventsub revocation handler failed", subscription_id=subscription.get("id")
            )

    async def _welcome(self, session: _Session, link: _Link, payload: Mapping[str, Any]) -> None:
        info = payload.get("session")
        info = info if isinstance(info, Mapping) else {}
        session_id = info.get("id")
        if not isinstance(session_id, str) or not session_id:
            self._log.error("eventsub welcome without a session id")
            return
        keepalive = info.get("keepalive_timeout_seconds")
        link.keepalive = float(keepalive) if isinstance(keepalive, int | float) else 10.0
        link.session_id = session_id
        previous = session.current.session_id if session.current is not None else None
        if link is session.pending:
            self._promote(session, link)
            self._session_id = session_id
            self.watch.enter("ready", session_id)
            if session_id == previous:
                self._log.info("eventsub websocket moved to the reconnect URL", session=session_id)
                return
            self._log.warning("eventsub reconnect came with a new session id", session=session_id)
        elif link is not session.current or session.welcomed_at is not None:
            self._log.warning("eventsub welcome not expected here; ignored", session=session_id)
            return
        session.welcomed_at = asyncio.get_running_loop().time()
        self._session_id = session_id
        self.watch.enter("ready", session_id)
        self._log.info("eventsub websocket welcomed", session=session_id, keepalive=keepalive)
        await self._subscribe(session_id)

    async def _subscribe(self, session_id: str) -> None:
        try:
            await asyncio.wait_for(self._on_welcome(session_id), SUBSCRIBE_WINDOW)
        except TimeoutError:
            self._log.error(
                "eventsub subscriptions not created within 10 s of the welcome; "
                "Twitch closes an unused session with 4003",
                session=session_id,
            )
            return
        except Exception:
            self._log.exception("eventsub subscriptions could not be created", session=session_id)
            return
        self._ready.set()

    def _promote(self, session: _Session, link: _Link) -> None:
        old = session.current
        session.current, session.pending = link, None
        if old is not None:
            old.closer = asyncio.create_task(self._retire(old))

    def _reconnect(self, session: _Session, link: _Link, payload: Mapping[str, Any]) -> None:
        info = payload.get("session")
        url = info.get("reconnect_url") if isinstance(info, Mapping) else None
        if link is not session.current or session.pending is not None:
            self._log.info("eventsub reconnect ignored: already moving")
            return
        if not isinstance(url, str) or not url:
            self._log.error("eventsub reconnect without a reconnect_url")
            return
        self._log.info("eventsub websocket moving to the reconnect URL")
        self.watch.enter("resuming")
        session.pending = self._open(session, url)


def _excerpt(raw: str | bytes, limit: int = 200) -> str:
    text = raw if isinstance(raw, str) else raw.decode("utf-8", "replace")
    return text[:limit]
