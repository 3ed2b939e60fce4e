"""The bus's one-entry appends on Redis: those made at once go out as one script call per
stream; a publish-once among them claims its id and appends its entry only if the id was
unclaimed."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, cast

from redis.asyncio import Redis
from redis.exceptions import NoScriptError

from waddlebot.infra.redis_coalescer import Coalescer

# KEYS: the stream, then the claim key of each entry that has one; ARGV: each entry's payload
# and claim TTL (ms; 0 for a plain append, which has no claim key). Entries are taken in
# order, so a redelivery in the same call as the first delivery is refused like a later one.
# The claim is set only once the entry is on the stream.
_LUA = """
local ids = {}
local claim = 2
for i = 1, #ARGV, 2 do
  local n = (i + 1) / 2
  if ARGV[i + 1] == '0' then
    ids[n] = redis.call('XADD', KEYS[1], '*', 'd', ARGV[i])
  else
    if redis.call('EXISTS', KEYS[claim]) == 1 then
      ids[n] = false
    else
      ids[n] = redis.call('XADD', KEYS[1], '*', 'd', ARGV[i])
      redis.call('SET', KEYS[claim], '1', 'PX', ARGV[i + 1])
    end
    claim = claim + 1
  end
end
return ids
"""

MAX_PER_CALL = 100  # a script blocks Redis while it runs: keep each call short

_Entry = tuple[bytes, str | None, int, "asyncio.Future[bytes | None]"]


class PublishOnce:
    """Batches one-entry appends (``publish_once``, and ``publish`` of one payload): those
    made while the previous batch is out (or in the same turn of the event loop) go together,
    one script call per stream, through the adapter's :class:`Coalescer` (so with whatever
    else is issued at once). Redis' work per entry is the same as alone; the client's, which
    is most of a webhook's Redis cost (packing, a reply read under a timeout each), is paid
    once per call. Entries keep the order of their calls."""

    def __init__(self, redis: Redis, commands: Coalescer) -> None:
        self._script = redis.register_script(_LUA)
        self._commands = commands
        self._queued: dict[str, list[_Entry]] = {}
        self._sender: asyncio.Task[None] | None = None

    async def publish(
        self, stream: str, payload: bytes, key: str | None = None, ttl_ms: int = 0
    ) -> bytes | None:
        """The new entry's id; None when ``key`` was claimed already (nothing appended).
        Without a key (``ttl_ms`` 0), a plain append."""
        if (key is None) != (ttl_ms == 0):
            raise ValueError("a claim needs both a key and a positive TTL")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bytes | None] = loop.create_future()
        self._queued.setdefault(stream, []).append((payload, key, ttl_ms, future))
        if self._sender is None:
            self._sender = loop.create_task(self._send_all())
        return await future

    async def _send_all(self) -> None:
        try:
            while self._queued:
                queued, self._queued = self._queued, {}
                calls = [
                    self._call(stream, entries[at : at + MAX_PER_CALL])
                    for stream, entries in queued.items()
                    for at in range(0, len(entries), MAX_PER_CALL)
                ]
                await asyncio.gather(*calls)
        finally:
            self._sender = None
            for entries in self._queued.values():  # cancelled (the loop is closing)
                for *_, future in entries:
                    future.cancel()
            self._queued = {}

    async def _call(self, stream: str, entries: Sequence[_Entry]) -> None:
        keys = [stream, *(key for _, key, _, _ in entries if key is not None)]
        args: list[Any] = [value for payload, _, ttl, _ in entries for value in (payload, ttl)]
        try:
            try:  # by its hash: a pipeline would ask Redis whether it has the script every time
                command = ("EVALSHA", self._script.sha, len(keys), *keys, *args)
                (ids,) = await self._commands.execute(command)
            except NoScriptError:  # Redis restarted, or its scripts were flushed: load it again
                ids = await self._script(keys=keys, args=args)
        except BaseException as exc:  # every caller in this call hears of it
            cancelled = isinstance(exc, asyncio.CancelledError)
            for *_, future in entries:
                if future.done():
                    continue
                if cancelled:
                    future.cancel()
                else:
                    future.set_exception(exc)
            if cancelled:
                raise
            return
        for (*_, future), entry_id in zip(entries, cast(list[Any], ids), strict=True):
            if not future.done():  # its caller was cancelled meanwhile
                future.set_result(entry_id)

    async def drain(self) -> None:
        """Wait until every publish made so far has been answered."""
        sender = self._sender
        if sender is not None:
            await asyncio.gather(sender, return_exceptions=True)
