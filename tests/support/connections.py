"""Reading what the collectors report of their connections (infra/connections.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from waddlebot.infra.connections import Link, Report, reports
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
