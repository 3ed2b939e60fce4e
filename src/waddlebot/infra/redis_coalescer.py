"""Coalescing Redis commands: those issued in one turn of the event loop go out together."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import hiredis
from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ConnectionError, ResponseError, TimeoutError

Command = tuple[Any, ...]  # a command's name and arguments, as ``execute_command`` takes them
_Queued = tuple[Sequence[Command], "asyncio.Future[list[Any]]"]


class Coalescer:
    """Sends the commands callers issue at once to Redis as one pipeline (one write and one
    read) instead of a round trip each.

    Nothing waits on a timer: the first command starts a sender that runs as soon as the
    event loop has run what was ready with it, so the commands issued in the same turn of
    the loop (the steps of a router batch that run at once, ``asyncio.gather``) go out
    together. Commands issued while a pipeline is out wait for it and go together in the
    next: one pipeline at a time, in the order the commands were issued, so they reach Redis
    in that order. Not a transaction: each command is atomic on its own, as when sent alone,
    and each caller gets its own answers or its own error.

    Written here because redis-py has no automatic pipelining: each call takes a connection
    and waits for its own answer, and the system calls and wake-ups of a round trip cost the
    router more than the commands do.

    As one pipeline is out at a time, the coalescer keeps a connection of its own (made with
    the client's settings: address, credentials, TLS, timeouts) rather than taking
    one from the pool per pipeline: redis-py's pool, pipeline object and per-argument encoding
    cost a webhook delivery more client CPU than packing and reading the pipeline itself
    (``python -m bench.ingest_cpu``). Replies are as Redis sends them (no redis-py response
    callbacks: ``SET`` answers ``b"OK"``, a nil ``None``), which is what every caller reads.
    """

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._queued: list[_Queued] = []
        self._sender: asyncio.Task[None] | None = None
        self._connection: AbstractConnection | None = None

    async def execute(self, *commands: Command) -> list[Any]:
        """The answers to ``commands``, in order; raises the error of a command Redis
        refused, or the one that stopped the pipeline (Redis unreachable)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[Any]] = loop.create_future()
        self._queued.append((commands, future))
        if self._sender is None:
            self._sender = loop.create_task(self._send_all())
        return await future

    async def _send_all(self) -> None:
        try:
            while self._queued:
                queued, self._queued = self._queued, []
                await self._send(queued)
        finally:
            self._sender = None
            for _, future in self._queued:  # cancelled (the loop is closing) with some left
                future.cancel()
            self._queued = []

    async def _send(self, queued: list[_Queued]) -> None:
        commands = [command for batch, _ in queued for command in batch]
        try:
            answers = await self._answers(commands)
        except BaseException as exc:  # every caller of this pipeline hears of it
            for _, future in queued:
                if future.done():
                    continue
                if isinstance(exc, asyncio.CancelledError):
                    future.cancel()
                else:
                    future.set_exception(exc)
            if isinstance(exc, asyncio.CancelledError):
                raise
            return
        at = 0
        for batch, future in queued:
            mine = answers[at : at + len(batch)]
            at += len(batch)
            if future.done():  # its caller was cancelled meanwhile
                continue
            error = next((a for a in mine if isinstance(a, Exception)), None)
            if error is None:
                future.set_result(mine)
            else:
                future.set_exception(error)

    async def _answers(self, commands: list[Command]) -> list[Any]:
        connection = self._connection
        if connection is None:
            pool = self._redis.connection_pool
            connection = self._connection = pool.make_connection()
        # every argument is bytes, str, int or float: hiredis packs them all in one call
        packed = b"".join(hiredis.pack_command(command) for command in commands)
        if connection.is_connected:
            await _ready(connection)
        return await _round_trip(connection, packed, len(commands))

    async def drain(self) -> None:
        """Wait until every command issued so far has been answered."""
        sender = self._sender
        if sender is not None:
            await asyncio.gather(sender, return_exceptions=True)

    async def close(self) -> None:
        """Answer what was issued, then close the coalescer's connection."""
        await self.drain()
        if self._connection is not None:
            await self._connection.disconnect()
            self._connection = None


async def _ready(connection: AbstractConnection) -> None:
    """A connection kept from an earlier pipeline, checked as redis-py's pool checks one it
    hands out: one Redis closed meanwhile (a restart, a timeout, a kill) or with data
    waiting is closed, and the next send makes it again. Nothing is ever sent twice."""
    # redis-py 8 renamed ``can_read_destructive`` (the old name now warns); 5.2 has only it
    can_read = getattr(connection, "can_read", None) or connection.can_read_destructive
    try:
        if await can_read():
            raise ConnectionError("data arrived on an idle connection")
    except (ConnectionError, TimeoutError, OSError):
        await connection.disconnect()


async def _round_trip(connection: AbstractConnection, packed: bytes, count: int) -> list[Any]:
    """The replies to ``count`` commands packed in ``packed``. The connection is closed on any
    failure (replies may be left unread on it); the next round trip makes it again."""
    try:
        await connection.send_packed_command(packed, check_health=False)
        return [await _reply(connection) for _ in range(count)]
    except BaseException:
        await connection.disconnect(nowait=True)
        raise


async def _reply(connection: AbstractConnection) -> Any:
    """One command's reply; a command Redis refused gives its error, not raised: the
    replies after it are still to be read."""
    try:
        return await connection.read_response()
    except ResponseError as exc:
        return exc
