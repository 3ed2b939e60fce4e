"""Which process serves which shard of the EventSub conduit: every process running the
``twitch`` service claims a fair share of the shards through leases (the lease port: Redis in
a deployment, a dict in one embedded process), so no two processes hold one shard, and the
shards of a process that died are free again once its leases run out.

Fair share. Each process also holds a *member* lease (the lowest free of ``member:0``,
``member:1``, ...), so every process can count the live ones without a registry of its own:
each holds at most ``ceil(shards / members)``. A newcomer makes the others shed their extra
shards at their next claim; a leaver's shards are claimed by whoever is below its share. A
shard between two holders loses nothing Twitch can redeliver: a notification for a disabled
shard is sent to one other shard.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import structlog

from waddlebot.infra.ports import Lease

log = structlog.get_logger("waddlebot.twitch.conduit")

LEASE = "twitch-conduit"


@dataclass(frozen=True, slots=True)
class ClaimChange:
    gained: list[int] = field(default_factory=list)
    lost: list[int] = field(default_factory=list)


def shard_lease(conduit_id: str, shard_id: int) -> str:
    return f"{LEASE}:{conduit_id}:shard:{shard_id}"


def member_lease(slot: int) -> str:
    return f"{LEASE}:member:{slot}"


class ShardClaims:
    """The shards one process holds. :meth:`claim` renews, sheds and takes leases (call it
    every few seconds, well within ``ttl``)."""

    def __init__(self, lease: Lease, owner: str, *, ttl: float) -> None:
        self._lease = lease
        self._owner = owner
        self._ttl = ttl
        self._slot: int | None = None
        self._conduit = ""
        self.held: set[int] = set()

    async def claim(self, conduit_id: str, shard_count: int) -> ClaimChange:
        """Hold a fair share of the conduit's shards; what was gained and lost."""
        change = ClaimChange()
        if conduit_id != self._conduit:  # another conduit: what was held of the old one goes
            change.lost.extend(sorted(self.held))
            await self._release(self.held)
            self._conduit = conduit_id
        members = await self._members(shard_count)
        fair = math.ceil(shard_count / members)
        for shard in sorted(self.held):
            renewed = shard < shard_count and await self._lease.renew(
                shard_lease(conduit_id, shard), self._owner, self._ttl
            )
            if not renewed:
                self.held.discard(shard)
                change.lost.append(shard)
        extra = sorted(self.held)[fair:]
        if extra:
            await self._release(extra)
            change.lost.extend(extra)
            log.info("twitch conduit shards handed to other processes", shards=extra)
        start = ((self._slot or 0) * fair) % shard_count  # spread the first tries apart
        for offset in range(shard_count):
            if len(self.held) >= fair:
                break
            shard = (start + offset) % shard_count
            if shard in self.held:
                continue
            if await self._lease.acquire(shard_lease(conduit_id, shard), self._owner, self._ttl):
                self.held.add(shard)
                change.gained.append(shard)
        return change

    async def _members(self, shard_count: int) -> int:
        """Renew (or take) this process's member lease; how many processes hold one. More
        members than shards would get nothing, so there are as many slots as shards."""
        if self._slot is not None and not (
            self._slot < shard_count
            and await self._lease.renew(member_lease(self._slot), self._owner, self._ttl)
        ):
            await self._lease.release(member_lease(self._slot), self._owner)
            self._slot = None
        if self._slot is None:
            for slot in range(shard_count):
                if await self._lease.acquire(member_lease(slot), self._owner, self._ttl):
                    self._slot = slot
                    break
        held = 0
        for slot in range(shard_count):
            if await self._lease.holder(member_lease(slot)) is not None:
                held += 1
        return max(held + (self._slot is None), 1)

    async def holders(self, conduit_id: str, shard_count: int) -> dict[int, str | None]:
        """Who holds each shard (for the status)."""
        return {
            shard: await self._lease.holder(shard_lease(conduit_id, shard))
            for shard in range(shard_count)
        }

    async def release_all(self) -> list[int]:
        """Give every lease up (stopping), so the other processes take over at once."""
        released = sorted(self.held)
        await self._release(released)
        if self._slot is not None:
            await self._lease.release(member_lease(self._slot), self._owner)
            self._slot = None
        return released

    async def _release(self, shards: set[int] | list[int]) -> None:
        for shard in list(shards):
            self.held.discard(shard)
            try:
                await self._lease.release(shard_lease(self._conduit, shard), self._owner)
            except Exception:
                log.warning("twitch conduit shard lease not released; it runs out", shard=shard)
