"""Reading what the collectors report of their connections (infra/connections.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from waddlebot.infra.connections import Changed, ConnectionReporter, Link, Report, reports
from waddlebot.infra.ports import Ports


async def reported(
    ports: Ports, platform: str, holds: Callable[[list[Report]], bool], timeout: float = 15.0
) -> list[Report]:
    """The platform's reports, once ``holds`` says they are as awaited (read again every
    few milliseconds: a change is published at once)."""
    async with asyncio.timeout(timeout):
        while not holds(found := await reports(ports.cache, ports.lease, platform)):
            await asyncio.sleep(0.02)
    return found


def links(found: list[Report]) -> list[Link]:
    return [link for report in found for link in report.links]


def states(found: list[Report]) -> list[str]:
    return [link.state for link in links(found)]


class Elsewhere:
    """A collector process elsewhere, as the connections it reports show it."""

    def __init__(self, links: list[Link]) -> None:
        self.changed = Changed()
        self.links = links

    async def connections(self) -> list[Link]:
        return self.links


async def reporting(
    ports: Ports, platform: str, process: str, links: list[Link]
) -> ConnectionReporter:
    """Publish ``links`` as ``process``'s connections to ``platform`` (stop it when done)."""
    reporter = ConnectionReporter(
        ports.cache, ports.lease, platform, process, Elsewhere(links), interval=60.0, ttl=60.0
    )
    await reporter.start()
    return reporter
