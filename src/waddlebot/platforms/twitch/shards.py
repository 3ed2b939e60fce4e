"""Which process serves which shard of the EventSub conduit: the processes running the
``twitch`` service share the conduit's shards through
:class:`~waddlebot.infra.assignment.Assignment` (leases: Redis in a deployment, a dict in one
embedded process), so no two processes hold one shard, and the shards of a process that died
are free again once its leases run out.

A shard between two holders loses nothing Twitch can redeliver: a notification for a disabled
shard is sent to one other shard.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from waddlebot.infra.assignment import Assignment
from waddlebot.infra.ports import Lease

GROUP = "twitch"


@dataclass(frozen=True, slots=True)
class ClaimChange:
    gained: list[int] = field(default_factory=list)
    lost: list[int] = field(default_factory=list)


def _item(conduit_id: str, shard: int) -> str:
    return f"{conduit_id}:{shard}"


def _shard(item: str) -> int:
    return int(item.rpartition(":")[2])


class ShardClaims:
    """The shards one process holds. :meth:`claim` renews, sheds and takes leases (call it
    every few seconds, well within ``ttl``); it reports what changed, and the caller opens
    and closes the sessions."""

    def __init__(self, lease: Lease, owner: str, *, ttl: float) -> None:
        self._conduit = ""
        self._shard_count = 0
        self._change = ClaimChange()
        self._assignment = Assignment(
            lease,
            GROUP,
            owner,
            items=self._items,
            on_take=self._taken,
            on_drop=self._dropped,
            ttl=ttl,
            interval=ttl / 2,  # unused: the conduit steps it on its own schedule
        )

    @property
    def held(self) -> set[int]:
        return {_shard(item) for item in self._assignment.held}

    async def _items(self) -> Iterable[str]:
        return [_item(self._conduit, shard) for shard in range(self._shard_count)]

    async def _taken(self, item: str) -> None:
        self._change.gained.append(_shard(item))

    async def _dropped(self, item: str) -> None:
        self._change.lost.append(_shard(item))

    async def claim(self, conduit_id: str, shard_count: int) -> ClaimChange:
        """Hold this process's share of the conduit's shards (the shards of another conduit
        are let go); what was gained and lost."""
        self._conduit, self._shard_count = conduit_id, shard_count
        self._change = change = ClaimChange()
        await self._assignment.step()
        change.gained.sort()
        change.lost.sort()
        return change

    async def holders(self, conduit_id: str, shard_count: int) -> dict[int, str | None]:
        """Who holds each shard (for the status)."""
        items = [_item(conduit_id, shard) for shard in range(shard_count)]
        held = await self._assignment.holders(items)
        return {_shard(item): holder for item, holder in held.items()}

    async def release_all(self) -> list[int]:
        """Give every lease up (stopping), so the other processes take over at once."""
        self._change = change = ClaimChange()
        await self._assignment.stop()
        return sorted(change.lost)
