"""An offered load: pre-built requests sent at a fixed rate, whatever the answers do, for the
latency at a given rate (wrk only runs closed loops: each connection waits for its answer).

Each request's latency runs from the moment it was due, so a request that waited for a free
connection counts its wait. Written here because wrk2, which does this, is not packaged for
Debian; asyncio is enough at the rates measured (a few thousand a second).
"""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Paced:
    offered: float  # requests/s asked for
    done: float  # requests/s answered
    p50_ms: float
    p99_ms: float
    failed: int  # answers that were not 2xx
    latencies_ms: tuple[float, ...] = ()  # every answer's, in order (to pool several runs)


def read_requests(path: Path) -> Iterator[bytes]:
    """The requests of a file written by :func:`bench.wrk.write_requests`."""
    data = path.read_bytes()
    pos = 0
    while pos < len(data):
        newline = data.index(b"\n", pos)
        length = int(data[pos:newline])
        yield data[newline + 1 : newline + 1 + length]
        pos = newline + 1 + length


async def _answer(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            await reader.readexactly(int(line.split(b":", 1)[1]))
    return status


async def run(
    host: str,
    port: int,
    requests: Iterator[bytes],
    *,
    rate: float,
    seconds: float,
    connections: int,
) -> Paced:
    """Send ``rate`` requests a second for ``seconds``: request ``i`` is due at
    ``i / rate``; each connection takes the next request due, waits for its time, sends it
    and reads the answer (one worker per connection, no task per request, so the generator
    keeps up on a busy machine)."""
    loop = asyncio.get_running_loop()
    total = int(rate * seconds)
    latencies: list[float] = []
    failed = 0
    taken = 0
    started = loop.time() + 0.1  # every connection open by then

    async def worker() -> None:
        nonlocal taken, failed
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while taken < total:
                due = started + taken / rate
                taken += 1
                request = next(requests)
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                writer.write(request)
                status = await _answer(reader)
                latencies.append(loop.time() - due)
                failed += not 200 <= status < 300
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = loop.time() - started
    ordered = sorted(latencies)
    return Paced(
        offered=rate,
        done=len(ordered) / elapsed,
        p50_ms=statistics.median(ordered) * 1000,
        p99_ms=ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
        failed=failed,
        latencies_ms=tuple(x * 1000 for x in ordered),
    )
