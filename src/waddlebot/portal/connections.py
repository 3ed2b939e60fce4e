"""What a community's pages show of the collectors' live connections (infra/connections.py):
for each platform the community has a place on, the connections of every process serving
it, and one line saying how healthy that is. A connection serving other communities' places
only (a broadcaster's own EventSub session) is not shown; which places a shared one carries
is said only as "this community's" or not."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from waddlebot.infra.connections import HEALTHY, Link, reports_of
from waddlebot.infra.ports import Cache, Lease

WATCHED = ("twitch", "discord", "slack")  # the platforms whose collectors keep connections
TITLES = {"twitch": "Twitch", "discord": "Discord", "slack": "Slack"}
MANY = {"twitch": "EventSub sessions", "discord": "gateway shards", "slack": "Socket Mode sockets"}


@dataclass(frozen=True, slots=True)
class Row:
    process: str
    link: Link
    ours: bool  # it carries one of the community's places
    since: str  # as shown: "2024-05-01 12:00 UTC (3 min ago)"
    last_event: str
    latency: str


@dataclass(frozen=True, slots=True)
class Health:
    platform: str
    title: str
    summary: str  # "Discord: 2 of 2 gateway shards ready"
    degraded: bool
    rows: list[Row]


def ago(at: float | None, now: float) -> str:
    """How long ago, in words a glance takes in."""
    if at is None:
        return "never"
    seconds = max(0, int(now - at))
    if seconds < 60:
        return "just now"
    for size, unit in ((86_400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return "just now"  # pragma: no cover - the loop always answers


def moment(at: float | None, now: float) -> str:
    if at is None:
        return "never"
    clock = datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"{clock} ({ago(at, now)})"


def _summary(platform: str, rows: Sequence[Row], now: float) -> tuple[str, bool]:
    title = TITLES[platform]
    if not rows:
        return f"{title}: no collector is reporting (none runs, or it stopped)", True
    links = [row.link for row in rows]
    if all(link.state == "webhook" for link in links):
        return f"{title}: webhook (HTTP events)", False
    ready = sum(link.state == "ready" for link in links)
    if len(links) == 1:
        (link,) = links
        return f"{title}: {link.name} {link.state} since {ago(link.since, now)}", ready == 0
    unhealthy = sum(link.state not in HEALTHY for link in links)
    return f"{title}: {ready} of {len(links)} {MANY[platform]} ready", unhealthy > 0


def _row(process: str, link: Link, places: Sequence[str], now: float) -> Row:
    latency = "" if link.latency_ms is None else f"{link.latency_ms:.0f} ms"
    return Row(
        process,
        link,
        link.serves(places),
        moment(link.since, now),
        moment(link.last_event, now),
        latency,
    )


async def health(cache: Cache, lease: Lease, places: Sequence[str]) -> list[Health]:
    """The connections of each watched platform among ``places`` (the community's entity
    ids), in :data:`WATCHED` order."""
    platforms = [p for p in WATCHED if any(e.startswith(p + ":") for e in places)]
    found = await reports_of(cache, lease, platforms)
    now = time.time()
    out = []
    for platform in platforms:
        rows = [
            _row(report.process, link, places, now)
            for report in found[platform]
            for link in report.links
            if link.platform_wide or link.serves(places)
        ]
        summary, degraded = _summary(platform, rows, now)
        out.append(Health(platform, TITLES[platform], summary, degraded, rows))
    return out
