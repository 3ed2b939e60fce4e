"""Request headers are bounded at the server (``waddlebot.web.server.server_config``, what
``waddlebot up`` runs): too many headers are a 431, a request line and headers past
``WADDLEBOT_HTTP_MAX_HEADER_BYTES`` a 400 with the connection closed, before they are read
whole. Raw HTTP/1.1 over real loopback sockets, so the test controls every byte."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from urllib.parse import urlsplit

from tests.support.harness import serving
from tests.support.processes import ServiceProcesses
from waddlebot.settings import Settings

MiB = 1024 * 1024


async def _connect(url: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    parts = urlsplit(url)
    return await asyncio.open_connection(parts.hostname, parts.port)


def _request(headers: list[tuple[str, str]]) -> bytes:
    lines = ["GET /healthz HTTP/1.1", *(f"{name}: {value}" for name, value in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def _answer(url: str, request: bytes) -> tuple[int, bytes]:
    """Send ``request`` and read the whole answer (``Connection: close``): status, body."""
    reader, writer = await _connect(url)
    try:
        writer.write(request)
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def _counted(n: int) -> list[tuple[str, str]]:
    """``n`` headers in all, Host and Connection included."""
    return [("Host", "test"), ("Connection", "close")] + [(f"X-H{i}", "v") for i in range(n - 2)]


async def test_too_many_headers_are_a_431(settings: Settings) -> None:
    async with serving(settings) as (url, _):
        assert (await _answer(url, _request(_counted(100))))[0] == 200
        status, body = await _answer(url, _request(_counted(101)))
        assert status == 431
        assert json.loads(body)["detail"] == "send at most 100 request headers"


async def test_the_limits_come_from_settings(settings: Settings) -> None:
    tight = settings.model_copy(update={"http_max_headers": 20, "http_max_header_bytes": 4096})
    async with serving(tight) as (url, _):
        assert (await _answer(url, _request(_counted(20))))[0] == 200
        assert (await _answer(url, _request(_counted(21))))[0] == 431
        fits = [*_counted(3), ("X-Big", "a" * 3000)]
        assert (await _answer(url, _request(fits)))[0] == 200
        too_big = [*_counted(3), ("X-Big", "a" * 5000)]
        status, body = await _answer(url, _request(too_big))
        assert (status, json.loads(body)["detail"]) == (
            431,
            "send at most 4096 bytes of request target and headers",
        )


async def _stream_until_refused(url: str, head: bytes, chunk: bytes, total: int, end: bytes) -> int:
    """Send ``head``, then ``chunk`` after chunk (``total`` bytes in all) for as long as the
    server takes them, then ``end``; returns how many bytes of chunks it took before refusing
    (``total``: all of them, and then it answered 400)."""
    reader, writer = await _connect(url)
    sent = 0
    try:
        writer.write(head)
        while sent < total:
            writer.write(chunk)
            await asyncio.wait_for(writer.drain(), 10)
            sent += len(chunk)
        writer.write(end)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 10)
        # the server answered after reading it all: only a refusal will do
        assert answer.startswith(b"HTTP/1.1 400 "), answer[:100]
    except (ConnectionError, TimeoutError):
        pass  # refused: it closed the connection while we were still sending
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    return sent


async def test_a_32_mib_header_is_not_read_whole(settings: Settings) -> None:
    async with serving(settings) as (url, _):
        head = b"GET /healthz HTTP/1.1\r\nHost: test\r\nX-Big: "
        taken = await _stream_until_refused(url, head, b"a" * MiB, 32 * MiB, b"\r\n\r\n")
        assert taken < 32 * MiB
        assert (await _answer(url, _request(_counted(3))))[0] == 200  # still serving


async def test_100000_headers_are_not_read_whole(settings: Settings) -> None:
    async with serving(settings) as (url, _):
        head = b"GET /healthz HTTP/1.1\r\nHost: test\r\n"
        chunk = b"".join(f"X-H{i}: v\r\n".encode() for i in range(1000))
        await _stream_until_refused(url, head, chunk, 100 * len(chunk), b"\r\n")
        assert (await _answer(url, _request(_counted(3))))[0] == 200


async def test_waddlebot_serve_api_runs_with_the_limits(
    tmp_path: Path, fresh_postgres_url: str, redis_url: str, key_prefix: str
) -> None:
    """The real command: ``waddlebot serve api`` in a process of its own, limits from its
    environment (the distributed mode: ``serve`` needs Redis)."""
    processes = ServiceProcesses(
        tmp_path,
        {
            "WADDLEBOT_REDIS_URL": redis_url,
            "WADDLEBOT_DATABASE_URL": fresh_postgres_url,
            "WADDLEBOT_STREAM_PREFIX": key_prefix,
            "WADDLEBOT_AUTO_MIGRATE": "true",
            "WADDLEBOT_HTTP_MAX_HEADERS": "20",
            "WADDLEBOT_HTTP_MAX_HEADER_BYTES": "4096",
        },
    )
    try:
        api = processes.start("api", "api")
        await api.wait_healthy()
        assert (await _answer(api.url, _request(_counted(20))))[0] == 200
        assert (await _answer(api.url, _request(_counted(21))))[0] == 431
        head = b"GET /healthz HTTP/1.1\r\nHost: test\r\nX-Big: "
        taken = await _stream_until_refused(api.url, head, b"a" * MiB, 32 * MiB, b"\r\n\r\n")
        assert taken < 32 * MiB, processes.log_tails()
        assert api.alive
    finally:
        await asyncio.to_thread(processes.close)
