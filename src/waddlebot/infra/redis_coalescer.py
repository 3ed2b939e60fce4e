"""Coalescing Redis commands: those issued in one turn of the event loop go out together."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

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
    """

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._queued: list[_Queued] = []
        self._sender: asyncio.Task[None] | None = None

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
        if len(commands) == 1:  # a pipeline costs more than it saves for one command
            try:
                return [await self._redis.execute_command(*commands[0])]
            except ResponseError as exc:
                return [exc]
        pipe = self._redis.pipeline(transaction=False)
        for command in commands:
            pipe.execute_command(*command)
        return list(await pipe.execute(raise_on_error=False))

    async def drain(self) -> None:
        """Wait until every command issued so far has been answered."""
        sender = self._sender
        if sender is not None:
            await asyncio.gather(sender, return_exceptions=True)
