"""Which process listens to which Twitch channel on the EventSub WebSocket transport: the
processes running the ``twitch`` service share the connected channels (and the bot's
whispers) through :class:`~waddlebot.infra.assignment.Assignment`, and each keeps EventSub
sessions of its own for its share.

Sessions. A process holding anything keeps one session for the bot account: the chat of each
channel it holds (read as the bot) and, when it holds :data:`WHISPERS`, the bot's whispers.
For each channel it holds it keeps one more session, the broadcaster's, with the rest of
that channel's events (follows, subs, cheers, raids, stream state).

Moving a channel. Before its lease is released, the channel's chat subscription is deleted
from this process's bot session and its broadcaster session is closed, so the next holder
subscribes only once this one receives nothing of it. A delete Twitch does not confirm (or a
subscription whose id is unknown) closes the whole bot session instead; a fresh one
subscribes the items still held. A process killed outright loses its sessions with its
connections (Twitch disables their subscriptions), and the others take its items once its
leases run out. And a process taking an item first deletes what is still live of it on any
other session: one that stalled past its leases (and so learns only at its next step that
it lost them) stops receiving the item then, not when it wakes up.

Twitch allows an account three WebSocket sessions: so at most three processes can share the
bot's chat this way (more than that: the conduit transport).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field

import structlog

from waddlebot.infra.assignment import Assignment
from waddlebot.infra.connections import Link, Watch
from waddlebot.infra.ports import Lease
from waddlebot.platforms.twitch.eventsub_ws import (
    EventSubWebSocket,
    NotificationHandler,
    RevocationHandler,
)
from waddlebot.platforms.twitch.subscriptions import Wanted

log = structlog.get_logger("waddlebot.twitch.channels")

GROUP = "twitch-channels"
WHISPERS = "whispers"


def channel_item(broadcaster_id: str) -> str:
    return f"channel:{broadcaster_id}"


@dataclass(frozen=True, slots=True)
class Share:
    """What serving one item takes: subscriptions on the bot's session (made with the bot's
    token) and, for a channel, the broadcaster's own on a session of theirs."""

    bot_account: str
    bot: list[Wanted] = field(default_factory=list)
    broadcaster: str = ""
    own: list[Wanted] = field(default_factory=list)


Plan = Callable[[], Awaitable[dict[str, Share]]]
# (wanted, session id, account) -> the new subscription's id (None: it existed already)
Create = Callable[[Wanted, str, str], Awaitable[str | None]]
Delete = Callable[[str, str], Awaitable[object]]  # (subscription id, account)
# (account, wanted): delete those of ``wanted`` live on any of the account's sessions
TakeOver = Callable[[str, list[Wanted]], Awaitable[object]]


class _Session:
    """One EventSub session this process keeps for ``account`` (opened by :meth:`_open`)."""

    socket: EventSubWebSocket
    task: asyncio.Task[None]

    def __init__(self, account: str) -> None:
        self.account = account


class WebSocketChannels:
    """The channels this process listens to; :meth:`start` joins the others, :meth:`stop`
    hands everything over."""

    def __init__(
        self,
        lease: Lease,
        owner: str,
        *,
        url: str,
        plan: Plan,
        create: Create,
        delete: Delete,
        take_over: TakeOver,
        on_notification: NotificationHandler,
        on_revocation: RevocationHandler,
        ttl: float,
        interval: float,
        changed: Callable[[], None] = lambda: None,
    ) -> None:
        self._url = url
        self._changed = changed
        self._plan = plan
        self._create = create
        self._delete = delete
        self._take_over = take_over
        self._on_notification = on_notification
        self._on_revocation = on_revocation
        self._assignment = Assignment(
            lease,
            GROUP,
            owner,
            items=self._items,
            on_take=self._take,
            on_drop=self._drop,
            ttl=ttl,
            interval=interval,
        )
        self._planned: dict[str, Share] = {}
        self._serving: dict[str, Share] = {}
        self._bot: _Session | None = None
        self._bot_session_id: str | None = None  # the session the ids below belong to
        self._bot_subs: dict[str, list[str | None]] = {}  # item -> its ids on the bot's session
        self._own: dict[str, _Session] = {}  # channel item -> the broadcaster's session
        self._lock = asyncio.Lock()  # one change of the bot session's subscriptions at a time

    @property
    def held(self) -> list[str]:
        return sorted(self._assignment.held)

    def links(self) -> list[Link]:
        """The bot's session (the chat of the channels held, and maybe the whispers: every
        community's) and each broadcaster's (that channel's alone)."""
        found = []
        if self._bot is not None:
            chats = [i for i, share in self._serving.items() if share.bot and i != WHISPERS]
            covers = [f"twitch:{item.removeprefix('channel:')}" for item in sorted(chats)]
            found.append(self._bot.socket.watch.link(covers=covers))
        for item, own in sorted(self._own.items()):
            place = f"twitch:{item.removeprefix('channel:')}"
            found.append(own.socket.watch.link(covers=[place], platform_wide=False))
        return found

    async def holders(self, items: Sequence[str]) -> dict[str, str | None]:
        return await self._assignment.holders(items)

    async def start(self) -> None:
        await self._assignment.start()

    async def step(self) -> None:
        """One round at once (the background loop does one every heartbeat)."""
        await self._assignment.step()

    async def stop(self) -> None:
        """Close every session, then give the leases up (the others take over at once)."""
        if self._bot is not None:
            await self._close_bot()
        for item in list(self._own):
            await _close(self._own.pop(item))
        await self._assignment.stop()

    async def resubscribe(self) -> None:
        """Create what an account connected again may now be allowed (what exists stays)."""
        for session in list(self._own.values()):
            if session.socket.session_id is not None:
                await self._welcome_own(session, session.socket.session_id)
        if self._bot is not None and self._bot.socket.session_id is not None:
            await self._welcome_bot(self._bot, self._bot.socket.session_id)

    # --- the assignment's steps --------------------------------------------------------------

    async def _items(self) -> Iterable[str]:
        self._planned = await self._plan()
        return self._planned.keys()

    async def _take(self, item: str) -> None:
        share = self._planned[item]
        if share.bot:
            await self._take_over(share.bot_account, share.bot)
        if share.own:
            await self._take_over(share.broadcaster, share.own)
        self._serving[item] = share
        if share.own:
            self._own[item] = self._open(share.broadcaster, item, self._welcome_own)
        if share.bot:
            await self._add_to_bot(item, share)

    async def _drop(self, item: str) -> None:
        self._serving.pop(item, None)
        own = self._own.pop(item, None)
        if own is not None:
            await _close(own)
        restart = False
        async with self._lock:
            ids = self._bot_subs.pop(item, [])
            account = self._bot.account if self._bot is not None else ""
            for sub_id in ids:
                if sub_id is None:
                    restart = True
                    continue
                try:
                    await self._delete(sub_id, account)
                except Exception as exc:
                    log.warning("subscription not deleted; closing the session", error=str(exc))
                    restart = True
        if self._bot is None:
            return
        if restart or not any(share.bot for share in self._serving.values()):
            await self._close_bot()
        if restart and any(share.bot for share in self._serving.values()):
            self._bot = self._open(account, "bot", self._welcome_bot)

    # --- the bot's session -------------------------------------------------------------------

    async def _add_to_bot(self, item: str, share: Share) -> None:
        if self._bot is not None and self._bot.account != share.bot_account:
            await self._close_bot()  # another bot account was connected
        if self._bot is None:
            self._bot = self._open(share.bot_account, "bot", self._welcome_bot)
            return  # its welcome subscribes what is held then
        async with self._lock:
            session_id = self._bot.socket.session_id
            if session_id is None:
                return  # between sessions: the next welcome subscribes it
            self._adopt_session(session_id)
            if item not in self._bot_subs:
                await self._subscribe_bot(item, share, session_id, self._bot.account)

    async def _welcome_bot(self, bot: _Session, session_id: str) -> None:
        async with self._lock:
            if bot is not self._bot:
                return  # closing
            self._adopt_session(session_id)
            missing = [
                (item, share)
                for item, share in self._serving.items()
                if share.bot and item not in self._bot_subs
            ]
            results = await asyncio.gather(
                *(self._subscribe_bot(i, s, session_id, bot.account) for i, s in missing),
                return_exceptions=True,
            )
        for (item, _), result in zip(missing, results, strict=True):
            if isinstance(result, BaseException):
                log.error("twitch chat not subscribed", item=item, error=str(result))

    def _adopt_session(self, session_id: str) -> None:
        if self._bot_session_id != session_id:  # a fresh session: nothing is subscribed on it
            self._bot_session_id = session_id
            self._bot_subs = {}

    async def _subscribe_bot(self, item: str, share: Share, session_id: str, account: str) -> None:
        """Record what was made (so a drop deletes it) even when some of it failed."""
        made, failure = await self._create_all(share.bot, session_id, account)
        self._bot_subs[item] = made
        if failure is not None:
            raise failure

    async def _close_bot(self) -> None:
        bot, self._bot = self._bot, None
        self._bot_session_id, self._bot_subs = None, {}
        if bot is not None:
            await _close(bot)

    # --- a broadcaster's session -------------------------------------------------------------

    async def _welcome_own(self, own: _Session, session_id: str) -> None:
        item = next((i for i, s in self._own.items() if s is own), None)
        share = self._serving.get(item) if item is not None else None
        if share is None:
            raise RuntimeError(f"the channel of {own.account} is not held any more")
        _, failure = await self._create_all(share.own, session_id, share.broadcaster)
        if failure is not None:
            raise failure

    # --- helpers -----------------------------------------------------------------------------

    async def _create_all(
        self, wanted: list[Wanted], session_id: str, account: str
    ) -> tuple[list[str | None], Exception | None]:
        results = await asyncio.gather(
            *(self._create(one, session_id, account) for one in wanted), return_exceptions=True
        )
        made = [r for r in results if not isinstance(r, BaseException)]
        failures = [r for r in results if isinstance(r, Exception)]
        return made, failures[0] if failures else None

    def _open(
        self, account: str, name: str, on_welcome: Callable[[_Session, str], Awaitable[None]]
    ) -> _Session:
        """A session for ``account``; ``on_welcome`` gets it and each fresh session's id."""
        session = _Session(account)
        session.socket = EventSubWebSocket(
            self._url,
            on_notification=self._on_notification,
            on_revocation=self._on_revocation,
            on_welcome=functools.partial(on_welcome, session),
            name=f"{name}:{account}",
            watch=Watch("bot session" if name == "bot" else "channel session", self._changed),
        )
        session.task = asyncio.create_task(session.socket.run(), name=f"twitch-ws-{name}-{account}")
        self._changed()
        return session


async def _close(session: _Session) -> None:
    session.socket.watch.enter("disconnected")  # and no longer listed
    await session.socket.stop()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await session.task
