"""The producing side of overlays, used by the router: check a module's update, keep what a
page shows now in the cache (so a page opened later replays it), and publish the update on
the community's broadcast channel for every browser-source process.

A message on ``overlay.<community_id>`` is either an update::

    {"session_id": ..., "id": ..., "kind": "<page>", "payload": {...}, "at": <epoch ms>}

or a control message for the browser-source processes (``{"control": "revoke", ...}``).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from waddlebot.core.events import new_id
from waddlebot.core.overlay import TICKER_TEXT_MAX, OverlayError, normalize
from waddlebot.core.variables import truncate
from waddlebot.infra import metrics
from waddlebot.infra import overlay_keys as keys
from waddlebot.infra.codec import dumps_compact
from waddlebot.infra.ports import Broadcast, Cache

TICKER_KEPT = 10  # lines a ticker page opened later replays
TICKER_KEPT_SECONDS = 300.0  # ... if they are this recent
MEDIA_GRACE_SECONDS = 30.0  # a song's state outlives its end by this much


@dataclass(frozen=True, slots=True)
class Prepared:
    """An update checked and encoded, ready to publish."""

    page: str
    message: dict[str, Any]
    encoded: bytes
    clear: bool = False


@dataclass(frozen=True, slots=True)
class TickerReply:
    """A bot reply said in a channel, offered to the community's ticker."""

    community_id: int
    session_id: str
    platform: str
    text: str


class OverlayPublisher:
    def __init__(
        self,
        cache: Cache,
        broadcast: Broadcast,
        *,
        max_bytes: int = 16_384,
        ticker_per_minute: int = 30,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._cache = cache
        self._broadcast = broadcast
        self._max_bytes = max_bytes
        self._ticker_per_minute = ticker_per_minute
        self._clock = clock

    def prepare(self, session_id: str, kind: str, payload: Mapping[str, Any]) -> Prepared:
        """Check and encode one update; :class:`OverlayError` when it cannot be shown."""
        normalized = normalize(kind, payload)
        message = {
            "session_id": session_id,
            "id": new_id(),
            "kind": normalized.page,
            "payload": normalized.data,
            "at": int(self._clock() * 1000),
        }
        try:
            encoded = dumps_compact(message)
        except TypeError as exc:  # orjson: a value JSON cannot carry (an int past 64 bits)
            raise OverlayError(f"overlay {kind!r} update is not JSON: {exc}") from None
        if len(encoded) > self._max_bytes:
            raise OverlayError(
                f"overlay {kind!r} update is {len(encoded)} bytes; the limit is {self._max_bytes}"
            )
        return Prepared(normalized.page, message, encoded, normalized.clear)

    async def publish(self, community_id: int, updates: Sequence[Prepared]) -> None:
        """Keep each update's state, then broadcast it (in that order: a page that connects
        in between replays the new state, and may get the update twice, which it ignores)."""
        channel = keys.channel(community_id)
        for update in updates:
            await self._keep(community_id, update)
            await self._broadcast.publish(channel, update.encoded)
            metrics.OVERLAY_UPDATES.labels(update.page).inc()

    async def ticker(self, replies: Sequence[TickerReply]) -> None:
        """Put bot replies on the tickers of the communities that have an overlay page open
        right now, at most ``ticker_per_minute`` a minute each; the rest are not shown."""
        if not replies or self._ticker_per_minute <= 0:
            return
        communities = list(dict.fromkeys(r.community_id for r in replies))
        flags = await self._cache.get_many([keys.live_key(c) for c in communities])
        live = {c for c, flag in zip(communities, flags, strict=True) if flag is not None}
        if not live:
            return
        wanted: dict[int, list[TickerReply]] = defaultdict(list)
        for reply in replies:
            if reply.community_id in live:
                wanted[reply.community_id].append(reply)
        minute = int(self._clock() // 60)
        for community_id, lines in wanted.items():
            used = await self._cache.incr(
                keys.ticker_window_key(community_id, minute), len(lines), ttl=120
            )
            allowed = max(0, self._ticker_per_minute - (used - len(lines)))
            await self.publish(
                community_id,
                [
                    self.prepare(
                        r.session_id,
                        "ticker",
                        {"text": truncate(r.text, TICKER_TEXT_MAX), "platform": r.platform},
                    )
                    for r in lines[:allowed]
                ],
            )

    async def revoke(self, community_id: int, token_hash: str) -> None:
        """Tell every browser-source process to close the pages opened with a retired token."""
        message = {"control": "revoke", "token_hash": token_hash}
        await self._broadcast.publish(keys.channel(community_id), orjson.dumps(message))

    async def _keep(self, community_id: int, update: Prepared) -> None:
        key = keys.state_key(community_id, update.page)
        if update.clear:
            await self._cache.delete(key)
            return
        payload = update.message["payload"]
        if update.page == "ticker":
            kept = await self._cache.get(key)
            lines = [*(orjson.loads(kept) if kept else []), update.message][-TICKER_KEPT:]
            await self._cache.set(key, dumps_compact(lines), TICKER_KEPT_SECONDS)
        elif update.page == "media" and payload.get("type") == "now_playing":
            await self._cache.set(key, dumps_compact([update.message]), _song_seconds(payload))
        elif update.page == "general" and payload.get("duration") is not None:
            shown = float(payload["duration"]) or keys.STATE_SECONDS
            await self._cache.set(key, dumps_compact([update.message]), shown)


def _song_seconds(payload: Mapping[str, Any]) -> float:
    """How long a now-playing state is worth replaying: to the song's end (and a little)."""
    duration = payload.get("duration")
    if duration is None or payload.get("paused"):
        return float(keys.STATE_SECONDS)
    return max(float(duration) - float(payload.get("position", 0)), 0) + MEDIA_GRACE_SECONDS
