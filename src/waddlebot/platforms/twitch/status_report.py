"""What the Twitch collector knows of its accounts and EventSub subscriptions, published into
the cache every process shares, so a portal process without the collector shows it too.

The leading collector process (the one that validates the tokens and makes the
subscriptions) publishes a :class:`Snapshot` whenever it has checked them, and every
:data:`INTERVAL` seconds, kept :data:`TTL` seconds: a collector that stopped takes its
snapshot away, one that died lets it run out, and the page then says no Twitch collector has
reported lately. A snapshot holds what ``waddlebot twitch status`` shows of each channel (the
token statuses, never a token; the subscriptions' type, version, status, transport and when
each was made), and when it was taken.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import orjson

from waddlebot.infra.ports import Cache
from waddlebot.platforms.twitch.subscriptions import SubscriptionStore
from waddlebot.platforms.twitch.tokens import TokenStatus, TokenStore
from waddlebot.platforms.twitch.translate import entity_id

KEY = "twitch:status"
INTERVAL = 60.0  # seconds between the leader's snapshots when nothing else prompts one
TTL = 3 * INTERVAL  # a snapshot outlives two missed refreshes, not more


@dataclass(frozen=True, slots=True)
class Subscription:
    """One EventSub subscription of a channel, as Twitch last described it."""

    type: str
    version: str
    status: str
    transport: str
    created: datetime | None


@dataclass(frozen=True, slots=True)
class Channel:
    """A broadcaster channel's tokens (its account's) and subscriptions."""

    tokens: tuple[TokenStatus, ...] = ()
    subscriptions: tuple[Subscription, ...] = ()


@dataclass(frozen=True, slots=True)
class Snapshot:
    at: float  # when it was taken (seconds since the epoch)
    transport: str
    channels: dict[str, Channel] = field(default_factory=dict)  # by broadcaster user id

    def of(self, places: Iterable[str]) -> Snapshot:
        """Only the channels among ``places`` (a community's entity ids, ``twitch:<id>``)."""
        wanted = set(places)
        kept = {c: one for c, one in sorted(self.channels.items()) if entity_id(c) in wanted}
        return Snapshot(self.at, self.transport, kept)

    @property
    def tokens(self) -> list[TokenStatus]:
        return [t for channel in self.channels.values() for t in channel.tokens]

    @property
    def subscriptions(self) -> list[tuple[str, Subscription]]:
        """(channel, subscription) pairs."""
        return [(c, s) for c, channel in self.channels.items() for s in channel.subscriptions]

    def encode(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def decode(cls, data: bytes) -> Snapshot:
        raw = orjson.loads(data)
        channels = {
            channel: Channel(
                tuple(_token(t) for t in one["tokens"]),
                tuple(
                    Subscription(**{**s, "created": _moment(s["created"])})
                    for s in one["subscriptions"]
                ),
            )
            for channel, one in raw["channels"].items()
        }
        return cls(float(raw["at"]), raw["transport"], channels)


def _moment(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _token(raw: dict[str, Any]) -> TokenStatus:
    return TokenStatus(
        **{
            **raw,
            "scopes": tuple(raw["scopes"]),
            "missing_scopes": tuple(raw["missing_scopes"]),
            "expires_at": _moment(raw["expires_at"]),
            "validated_at": _moment(raw["validated_at"]),
        }
    )


async def take(tokens: TokenStore, subscriptions: SubscriptionStore, transport: str) -> Snapshot:
    """The tokens and subscriptions as they stand, by channel."""
    found: dict[str, tuple[list[TokenStatus], list[Subscription]]] = {}
    for token in await tokens.statuses():
        found.setdefault(token.account_id, ([], []))[0].append(token)
    for sub in await subscriptions.list():
        if sub.broadcaster_id:
            one = Subscription(sub.type, sub.version, sub.status, sub.transport, sub.created_at)
            found.setdefault(sub.broadcaster_id, ([], []))[1].append(one)
    channels = {c: Channel(tuple(t), tuple(s)) for c, (t, s) in found.items()}
    return Snapshot(time.time(), transport, channels)


async def publish(cache: Cache, snapshot: Snapshot, ttl: float = TTL) -> None:
    await cache.set(KEY, snapshot.encode(), ttl)


async def latest(cache: Cache) -> Snapshot | None:
    """The last snapshot a collector published, while it lasts."""
    data = await cache.get(KEY)
    return None if data is None else Snapshot.decode(data)


async def withdraw(cache: Cache) -> None:
    await cache.delete(KEY)
