"""Discord's REST rate limits: per-route buckets (one per route and major parameter), the global
per-bot limit, and 429s forced by a test. Every answer carries the ``X-RateLimit-*`` headers.

A bucket is a fixed window: the first request opens it for ``per`` seconds, ``limit`` requests
fit in it. ``X-RateLimit-Bucket`` is a hash of the route (shared by every major parameter, as
Discord's is); the counting itself is per (route, major parameter)."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

RATE_LIMITED = "You are being rate limited."
SHARED_RATE_LIMITED = "The resource is being rate limited."

# Discord's published per-route limits are mostly undocumented; these are the ones commonly
# observed (messages: 5 per 5 s per channel). Pass as ``FakeDiscord(route_limits=...)``.
REALISTIC_ROUTE_LIMITS: dict[str, tuple[int, float]] = {
    "POST /channels/{channel_id}/messages": (5, 5.0),
    "POST /users/@me/channels": (5, 5.0),
    "PUT /applications/{application_id}/commands": (2, 60.0),
    "PUT /applications/{application_id}/guilds/{guild_id}/commands": (2, 60.0),
}


def bucket_hash(route: str) -> str:
    return hashlib.blake2b(route.encode(), digest_size=16).hexdigest()


@dataclass
class Window:
    limit: int
    per: float
    opened: float | None = None
    used: int = 0

    def roll(self, now: float) -> None:
        if self.opened is None or now >= self.opened + self.per:
            self.opened = now
            self.used = 0

    def reset_at(self, now: float) -> float:
        return (self.opened if self.opened is not None else now) + self.per


@dataclass
class Forced:
    count: int
    retry_after: float
    scope: str  # user | shared | global


@dataclass
class Decision:
    """The verdict on one request: ``status`` None to go ahead, or a 429 ``body``; ``headers``
    go on the answer either way."""

    headers: dict[str, str]
    status: int | None = None
    body: dict[str, Any] | None = None
    scope: str | None = None


@dataclass
class RateLimits:
    clock: Callable[[], float]
    default: tuple[int, float] = (50, 1.0)
    routes: dict[str, tuple[int, float]] = field(default_factory=dict)
    global_limit: tuple[int, float] = (50, 1.0)
    _windows: dict[tuple[str, str], Window] = field(default_factory=dict)
    _global: Window | None = None
    _forced: dict[str, list[Forced]] = field(default_factory=dict)
    _forced_global: list[Forced] = field(default_factory=list)

    def set_limit(self, route: str, limit: int, per: float) -> None:
        self.routes[route] = (limit, per)
        for key in [k for k in self._windows if k[0] == route]:
            del self._windows[key]

    def force(self, route: str, count: int, retry_after: float, scope: str = "user") -> None:
        self._forced.setdefault(route, []).append(Forced(count, retry_after, scope))

    def force_global(self, count: int, retry_after: float) -> None:
        self._forced_global.append(Forced(count, retry_after, "global"))

    def _window(self, route: str, major: str) -> Window:
        key = (route, major)
        if key not in self._windows:
            limit, per = self.routes.get(route, self.default)
            self._windows[key] = Window(limit, per)
        return self._windows[key]

    def _headers(self, route: str, window: Window, now: float, remaining: int) -> dict[str, str]:
        reset = window.reset_at(now)
        return {
            "X-RateLimit-Limit": str(window.limit),
            "X-RateLimit-Remaining": str(max(0, remaining)),
            "X-RateLimit-Reset": f"{reset:.3f}",
            "X-RateLimit-Reset-After": f"{max(0.0, reset - now):.3f}",
            "X-RateLimit-Bucket": bucket_hash(route),
        }

    @staticmethod
    def _too_many(
        retry_after: float, scope: str, headers: dict[str, str] | None = None
    ) -> Decision:
        is_global = scope == "global"
        message = SHARED_RATE_LIMITED if scope == "shared" else RATE_LIMITED
        out = dict(headers or {})
        out["Retry-After"] = str(max(1, math.ceil(retry_after)))
        out["X-RateLimit-Scope"] = scope
        if is_global:
            out["X-RateLimit-Global"] = "true"
        body = {"message": message, "retry_after": round(retry_after, 3), "global": is_global}
        return Decision(out, 429, body, scope)

    def _take_forced(self, queue: list[Forced]) -> Forced | None:
        while queue and queue[0].count <= 0:
            queue.pop(0)
        if not queue:
            return None
        queue[0].count -= 1
        return queue[0]

    def check(self, route: str, major: str, *, global_applies: bool = True) -> Decision:
        now = self.clock()
        if global_applies:
            forced = self._take_forced(self._forced_global)
            if forced is not None:
                return self._too_many(forced.retry_after, "global")
            if self._global is None:
                self._global = Window(*self.global_limit)
            self._global.roll(now)
            if self._global.used >= self._global.limit:
                return self._too_many(self._global.reset_at(now) - now, "global")
        window = self._window(route, major)
        window.roll(now)
        forced = self._take_forced(self._forced.get(route, []))
        if forced is not None:
            headers = self._headers(route, window, now, 0)
            headers["X-RateLimit-Reset-After"] = f"{forced.retry_after:.3f}"
            headers["X-RateLimit-Reset"] = f"{now + forced.retry_after:.3f}"
            return self._too_many(forced.retry_after, forced.scope, headers)
        if window.used >= window.limit:
            headers = self._headers(route, window, now, 0)
            return self._too_many(window.reset_at(now) - now, "user", headers)
        window.used += 1
        if global_applies and self._global is not None:
            self._global.used += 1
        return Decision(self._headers(route, window, now, window.limit - window.used))
