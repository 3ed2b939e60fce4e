"""Work shared by the running replicas of one service (a platform's gateway shards, its
channels, its workspaces): each replica serves the items a deterministic function of the live
replicas gives it, and only while it holds each item's lease.

Membership. A replica holds a *member* lease (the lowest free of ``MEMBER_SLOTS`` slots) and
renews it every ``interval``; the live members are the holders of the slots, read in one round
trip. A replica killed outright stops renewing and is gone from everyone's view ``ttl`` later.

Assignment. :func:`assign` spreads the items over the members by rendezvous hashing with a
bound on the load (the shares differ by one at most): every replica computes the same answer
from the same members, and a join or a leave moves few items.

No item is served twice. A replica takes an item only once it acquired the item's lease, and
stops serving an item (``on_drop``, awaited) *before* releasing its lease; a dead replica's
leases run out after ``ttl``. So when the members change, the new owner takes an item only
once the old one let it go or died. (A replica that stalls longer than ``ttl`` finds out at its
next step, as with every lease: see :class:`~waddlebot.infra.ports.Lease`.)
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Iterable, Sequence

import structlog

from waddlebot.infra import metrics
from waddlebot.infra.ports import Lease
from waddlebot.infra.tasks import repeat, seconds, stop_task

log = structlog.get_logger("waddlebot.assignment")

MEMBER_SLOTS = 64  # replicas of one service that can hold work; more would wait for a slot

ItemStep = Callable[[str], Awaitable[None]]
Items = Callable[[], Awaitable[Iterable[str]]]


def _score(member: str, item: str) -> int:
    digest = hashlib.blake2b(f"{member}\0{item}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def assign(members: Iterable[str], items: Iterable[str]) -> dict[str, list[str]]:
    """Each member's items: every item goes to the member ranking it highest that still has
    room, the shares differing by one at most (``items // members``, and one more for as
    many members as there are items left over). Depends only on the two sets, never on
    their order."""
    ranked_members = sorted(set(members))
    result: dict[str, list[str]] = {m: [] for m in ranked_members}
    all_items = sorted(set(items))
    if not ranked_members:
        return result
    base, extra = divmod(len(all_items), len(ranked_members))
    for item in all_items:
        ranking = sorted(ranked_members, key=lambda m: (_score(m, item), m), reverse=True)
        owner = next(
            m for m in ranking if len(result[m]) < base or (len(result[m]) == base and extra)
        )
        if len(result[owner]) == base:
            extra -= 1
        result[owner].append(item)
    return result


class Assignment:
    """The items of ``group`` this replica (``owner``) serves. :meth:`step` renews, drops and
    takes (the background loop of :meth:`start` calls it every ``interval``, well inside
    ``ttl``); ``on_take`` starts serving an item, ``on_drop`` stops it."""

    def __init__(
        self,
        lease: Lease,
        group: str,
        owner: str,
        *,
        items: Items,
        on_take: ItemStep,
        on_drop: ItemStep,
        ttl: float,
        interval: float,
    ) -> None:
        if interval >= ttl:
            raise ValueError(f"the interval ({interval}s) must be shorter than the ttl ({ttl}s)")
        self._lease = lease
        self.group = group
        self.owner = owner
        self._items = items
        self._on_take = on_take
        self._on_drop = on_drop
        self._ttl = ttl
        self._interval = interval
        self._slot: int | None = None
        self.held: set[str] = set()
        self._task: asyncio.Task[None] | None = None
        self._gauge = metrics.ASSIGNED_ITEMS.labels(group)

    async def holders(self, items: Sequence[str]) -> dict[str, str | None]:
        """Which replica holds each of ``items`` now (None: nobody), for a status page."""
        names = [self._item_lease(item) for item in items]
        return dict(zip(items, await self._lease.holders(names), strict=True))

    def _item_lease(self, item: str) -> str:
        return f"assign:{self.group}:item:{item}"

    def _member_leases(self) -> list[str]:
        return [f"assign:{self.group}:member:{slot}" for slot in range(MEMBER_SLOTS)]

    async def start(self) -> None:
        """Step now (an embedded replica holds everything at once), then every interval."""
        await self.step()
        self._task = asyncio.create_task(self._run(), name=f"{self.group}-assignment")

    async def _run(self) -> None:
        failure = "assignment step failed"
        await repeat(self.step, seconds(self._interval), log, failure, group=self.group)

    async def stop(self) -> None:
        """Stop serving everything and give every lease up, so the others take over at once."""
        await stop_task(self._task)
        self._task = None
        for item in sorted(self.held):
            await self._drop(item)
        if self._slot is not None:
            await self._release(self._member_leases()[self._slot])
            self._slot = None

    async def step(self) -> None:
        """Renew what is held, then hold exactly this replica's share of the live members'."""
        members = await self._members()
        for item in sorted(self.held):
            if not await self._lease.renew(self._item_lease(item), self.owner, self._ttl):
                log.warning("item lease lost; another replica may serve it", item=item)
                self.held.discard(item)
                await self._stop_serving(item)
        wanted = set(assign(members, await self._items()).get(self.owner, ()))
        for item in sorted(self.held - wanted):
            await self._drop(item)
        for item in sorted(wanted - self.held):
            if await self._lease.acquire(self._item_lease(item), self.owner, self._ttl):
                self.held.add(item)
                log.info("item taken", group=self.group, item=item, owner=self.owner)
                try:
                    await self._on_take(item)
                except Exception:
                    log.exception("item not started; handed back", group=self.group, item=item)
                    await self._drop(item)
        self._gauge.set(len(self.held))

    async def _members(self) -> list[str]:
        """Renew (or take) this replica's member slot; the owners of every live slot."""
        names = self._member_leases()
        if self._slot is not None and not await self._lease.renew(
            names[self._slot], self.owner, self._ttl
        ):
            log.warning("member lease lost; joining again", group=self.group)
            self._slot = None
        holders = await self._lease.holders(names)
        if self._slot is None:
            for slot in (s for s, holder in enumerate(holders) if holder is None):
                if await self._lease.acquire(names[slot], self.owner, self._ttl):
                    self._slot = slot
                    holders[slot] = self.owner
                    break
        return [h for h in holders if h is not None]

    async def _drop(self, item: str) -> None:
        self.held.discard(item)
        await self._stop_serving(item)
        await self._release(self._item_lease(item))
        log.info("item handed over", group=self.group, item=item, owner=self.owner)

    async def _stop_serving(self, item: str) -> None:
        try:
            await self._on_drop(item)
        except Exception:
            log.exception("item not stopped cleanly", group=self.group, item=item)
        self._gauge.set(len(self.held))

    async def _release(self, name: str) -> None:
        try:
            await self._lease.release(name, self.owner)
        except Exception:
            log.warning("lease not released; it runs out by itself", lease=name)


def fixed(items: Sequence[str]) -> Items:
    """An ``items`` source that never changes (a platform's shard numbers)."""

    async def read() -> Sequence[str]:
        return items

    return read
