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
    loop = asyncio.get_running_loop()
    free: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    for _ in range(connections):
        free.put_nowait(await asyncio.open_connection(host, port))
    latencies: list[float] = []
    failed = 0

    async def one(request: bytes, due: float) -> None:
        nonlocal failed
        reader, writer = await free.get()
        writer.write(request)
        status = await _answer(reader)
        latencies.append(loop.time() - due)
        failed += not 200 <= status < 300
        free.put_nowait((reader, writer))

    total = int(rate * seconds)
    tasks: list[asyncio.Task[None]] = []
    started = loop.time()
    sent = 0
    while sent < total:
        now = loop.time()
        while sent < total and started + sent / rate <= now:
            tasks.append(asyncio.create_task(one(next(requests), started + sent / rate)))
            sent += 1
        await asyncio.sleep(0.001)
    await asyncio.gather(*tasks)
    elapsed = loop.time() - started
    while not free.empty():
        free.get_nowait()[1].close()
    ordered = sorted(latencies)
    return Paced(
        offered=rate,
        done=len(ordered) / elapsed,
        p50_ms=statistics.median(ordered) * 1000,
        p99_ms=ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
        failed=failed,
    )
