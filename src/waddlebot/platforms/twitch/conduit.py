"""EventSub over a conduit (``WADDLEBOT_TWITCH_TRANSPORT=conduit``): one set of subscriptions,
made once with the app token, whose notifications Twitch spreads over the conduit's shards;
each shard is a WebSocket session of one of the processes running the ``twitch`` service.

Every such process claims its share of the shards (``shards.py``), opens one EventSub
WebSocket per shard it holds and points the shard at that session within Twitch's 10 seconds
of the welcome. A session that ends (Twitch disables its shard, ``websocket_disconnected``)
is replaced by a fresh one and the shard pointed at it again; a shard whose process died is
claimed by another one once its lease runs out. A ``conduit.shard.disabled`` notification
about a shard this process holds points it at the current session again.

The conduit itself is the client id's (``WADDLEBOT_TWITCH_CONDUIT_ID`` pins one): found by
listing, made by the leading process when there is none, and resized by it to
``WADDLEBOT_TWITCH_CONDUIT_SHARDS``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from waddlebot.infra.connections import Link, Watch
from waddlebot.infra.ports import Lease
from waddlebot.platforms.twitch.eventsub_ws import (
    EventSubWebSocket,
    NotificationHandler,
    RevocationHandler,
)
from waddlebot.platforms.twitch.helix import Conduit, ConduitShard, HelixClient, HelixError
from waddlebot.platforms.twitch.shards import ShardClaims
from waddlebot.platforms.twitch.translate import Notification

log = structlog.get_logger("waddlebot.twitch.conduit")

CLAIM_SECONDS = 2.0  # how often a process renews and claims shards
CLAIM_TTL = 10.0  # a dead process's shards are claimed again within this (plus one claim)
RELIST_SECONDS = 30.0  # how often a process looks at the conduit's size again
SHARD_DISABLED = "conduit.shard.disabled"


@dataclass(frozen=True, slots=True)
class ShardState:
    id: int
    status: str
    session_id: str
    holder: str | None


@dataclass(frozen=True, slots=True)
class ConduitStatus:
    """What ``waddlebot twitch status`` shows: the conduit and each shard."""

    conduit: Conduit | None
    shards: list[ShardState]


class ConduitTransport:
    def __init__(
        self,
        helix: HelixClient,
        lease: Lease,
        owner: str,
        *,
        ws_url: str,
        shard_count: int,
        conduit_id: str = "",
        leading: Callable[[], bool],
        on_notification: NotificationHandler,
        on_revocation: RevocationHandler,
        claim_seconds: float = CLAIM_SECONDS,
        claim_ttl: float = CLAIM_TTL,
        changed: Callable[[], None] = lambda: None,
    ) -> None:
        self._helix = helix
        self._ws_url = ws_url
        self._wanted_shards = shard_count
        self._pinned = conduit_id
        self._leading = leading
        self._on_notification = on_notification
        self._on_revocation = on_revocation
        self._interval = claim_seconds
        self._changed = changed
        self.claims = ShardClaims(lease, owner, ttl=claim_ttl)
        self.conduit: Conduit | None = None
        self._listed_at = 0.0
        self._sockets: dict[int, tuple[EventSubWebSocket, asyncio.Task[None]]] = {}
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()  # one claim at a time (the loop, a test, stop)

    @property
    def conduit_id(self) -> str | None:
        return self.conduit.id if self.conduit is not None else None

    @property
    def held(self) -> list[int]:
        return sorted(self.claims.held)

    def links(self) -> list[Link]:
        """The sessions of the shards this process holds (each carries a share of every
        channel's events)."""
        return [socket.watch.link() for _, (socket, _) in sorted(self._sockets.items())]

    def session_of(self, shard_id: int) -> str | None:
        found = self._sockets.get(shard_id)
        return found[0].session_id if found is not None else None

    # --- the conduit -------------------------------------------------------------------------

    async def find(self) -> Conduit | None:
        """The conduit to use, as Twitch lists it now (None: there is none yet)."""
        conduits = await self._helix.list_conduits()
        self._listed_at = asyncio.get_running_loop().time()
        if self._pinned:
            found = next((c for c in conduits if c.id == self._pinned), None)
            if found is None:
                log.error(
                    "the twitch conduit in WADDLEBOT_TWITCH_CONDUIT_ID does not exist; "
                    "unset it to have one made",
                    conduit_id=self._pinned,
                )
        else:  # one per client id: the oldest there is
            found = conduits[0] if conduits else None
        self.conduit = found
        return found

    async def prepare(self) -> Conduit:
        """The leader's part: find the conduit or make it, and give it the configured number
        of shards. Raises :class:`HelixError` when Twitch refuses."""
        conduit = await self.find()
        if conduit is None:
            if self._pinned:
                raise HelixError(f"conduit {self._pinned} does not exist", status=404)
            conduit = await self._helix.create_conduit(self._wanted_shards)
            log.info("twitch conduit made", conduit_id=conduit.id, shards=conduit.shard_count)
        elif conduit.shard_count != self._wanted_shards:
            log.info(
                "twitch conduit resized",
                conduit_id=conduit.id,
                shards=self._wanted_shards,
                was=conduit.shard_count,
            )
            conduit = await self._helix.update_conduit(conduit.id, self._wanted_shards)
        self.conduit = conduit
        self._wake.set()  # claim its shards now rather than at the next round
        return conduit

    # --- claiming shards ---------------------------------------------------------------------

    async def run(self) -> None:
        """Claim shards every few seconds until cancelled."""
        while True:
            try:
                await self.claim()
            except Exception:
                log.exception("twitch conduit shards not claimed; trying again")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)

    async def claim(self) -> None:
        """One round: learn the conduit (and its size, now and then), renew the shards held,
        shed or take some for a fair share, and open or close their sessions."""
        async with self._lock:
            now = asyncio.get_running_loop().time()
            if self.conduit is None or now - self._listed_at >= RELIST_SECONDS:
                await self.find()
            conduit = self.conduit
            if conduit is None or conduit.shard_count < 1:
                return  # the leader makes it; until then there is nothing to claim
            change = await self.claims.claim(conduit.id, conduit.shard_count)
            for shard in change.lost:
                await self._close(shard)
            for shard in change.gained:
                self._open(shard)
            if change.gained or change.lost:
                log.info(
                    "twitch conduit shards",
                    conduit_id=conduit.id,
                    holding=self.held,
                    gained=change.gained,
                    lost=change.lost,
                )

    async def stop(self) -> None:
        """Close every session and give the shards up, so other processes take them at once."""
        async with self._lock:
            for shard in list(self._sockets):
                await self._close(shard)
            with contextlib.suppress(Exception):
                await self.claims.release_all()

    def _open(self, shard: int) -> None:
        socket = EventSubWebSocket(
            self._ws_url,
            on_notification=self._notification,
            on_revocation=self._on_revocation,
            on_welcome=functools.partial(self._assign, shard),
            name=f"conduit-shard-{shard}",
            watch=Watch(f"conduit shard {shard}", self._changed),
        )
        task = asyncio.create_task(socket.run(), name=f"twitch-conduit-shard-{shard}")
        self._sockets[shard] = (socket, task)
        self._changed()

    async def _close(self, shard: int) -> None:
        found = self._sockets.pop(shard, None)
        if found is None:
            return
        socket, task = found
        self._changed()
        await socket.stop()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task

    async def _assign(self, shard: int, session_id: str) -> None:
        """A session of this shard was welcomed: point the shard at it (Twitch closes a
        session no shard uses after 10 seconds, and the socket then starts another)."""
        conduit_id = self.conduit_id
        if conduit_id is None or shard not in self.claims.held:
            raise RuntimeError(f"conduit shard {shard} is not held any more")
        assigned = await self._helix.assign_shard(conduit_id, shard, session_id)
        log.info(
            "twitch conduit shard assigned",
            conduit_id=conduit_id,
            shard=shard,
            session=session_id,
            status=assigned.status,
        )

    # --- what comes over the shards ----------------------------------------------------------

    async def _notification(self, notification: Notification) -> object:
        if notification.subscription_type == SHARD_DISABLED:
            await self._shard_disabled(notification.event)
            return None
        return await self._on_notification(notification)

    async def _shard_disabled(self, event: Mapping[str, Any]) -> None:
        """Twitch disabled a shard. One of ours is pointed at its current session again (its
        socket replaces a session that really ended by itself); another process's is left
        to it, and one nobody holds is claimed at the next round."""
        try:
            shard = int(str(event.get("shard_id")))
        except ValueError:
            log.warning("conduit.shard.disabled without a shard id", event=dict(event))
            return
        ours = event.get("conduit_id") == self.conduit_id and shard in self.claims.held
        log.warning(
            "twitch disabled a conduit shard",
            conduit_id=event.get("conduit_id"),
            shard=shard,
            status=event.get("status"),
            ours=ours,
        )
        session_id = self.session_of(shard) if ours else None
        if session_id:
            try:
                await self._assign(shard, session_id)
            except HelixError as exc:  # that session ended too: its socket starts another
                log.info("twitch conduit shard not reassigned yet", shard=shard, error=str(exc))
        elif not ours:
            self._wake.set()

    # --- status ------------------------------------------------------------------------------

    async def status(self) -> ConduitStatus:
        conduit = await self.find()
        if conduit is None:
            return ConduitStatus(None, [])
        shards: list[ConduitShard] = await self._helix.list_conduit_shards(conduit.id)
        holders = await self.claims.holders(conduit.id, conduit.shard_count)
        return ConduitStatus(
            conduit,
            [ShardState(s.id, s.status, s.session_id, holders.get(s.id)) for s in shards],
        )
