"""Redis adapters for the infrastructure ports.

Every adapter takes a ``redis.asyncio.Redis`` client (shared, not closed by the adapter) or a URL
(the adapter then owns its client), and a ``prefix`` that namespaces every key, stream and
channel as ``f"{prefix}:{name}"``. Calls that touch several keys are one round trip.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Sequence
from typing import Any, cast

import structlog
from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.storage import RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import RedisError, ResponseError

from waddlebot.infra import metrics
from waddlebot.infra.backlog import TRIM_EVERY_SECONDS, BacklogGate, TrimSchedule
from waddlebot.infra.memory import QueueSubscription
from waddlebot.infra.outages import describe, unavailable
from waddlebot.infra.ports import BusMessage, Check, Limit
from waddlebot.infra.redis_coalescer import Coalescer
from waddlebot.infra.redis_once import PublishOnce

_log = structlog.get_logger(__name__)

_REDIS_PY_SOCKET_TIMEOUT = 5.0  # redis-py's Connection default when the pool does not set one


def redis_client(url: str, *, max_connections: int = 100) -> Redis:
    """A client whose pool makes callers wait for a free connection under bursts (the default
    pool raises ``MaxConnectionsError`` instead). Closing the client closes its pool."""
    pool = BlockingConnectionPool.from_url(url, max_connections=max_connections, timeout=20)
    return Redis.from_pool(pool)


def _client(redis: Redis | str) -> tuple[Redis, bool]:
    """The client to use and whether the adapter owns (must close) it."""
    if isinstance(redis, str):
        return redis_client(redis), True
    kwargs = redis.connection_pool.connection_kwargs
    if kwargs.get("decode_responses"):
        raise ValueError("waddlebot's Redis adapters need a client with decode_responses=False")
    if str(kwargs.get("protocol") or 2) != "2":
        raise ValueError("waddlebot's Redis adapters expect RESP2 replies (protocol=2)")
    return redis, False


def _px(ttl: float | None) -> int | None:
    return None if ttl is None else max(1, math.ceil(ttl * 1000))


class _RedisAdapter:
    def __init__(self, redis: Redis | str, prefix: str) -> None:
        self._redis, self._owns_client = _client(redis)
        self._prefix = prefix
        self._closed = False
        # commands issued at once (a router batch's steps that run together, a busy webhook
        # endpoint's appends) go out in one pipeline, in the order issued
        self._commands = Coalescer(self._redis)

    def _key(self, name: str) -> str:
        return f"{self._prefix}:{name}"

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._commands.close()
        if self._owns_client:
            await self._redis.aclose()


class RedisCache(_RedisAdapter):
    """The cache on Redis. Its commands go through a :class:`Coalescer`: those issued at
    once (the router's steps that run together) share one round trip."""

    async def get(self, key: str) -> bytes | None:
        (value,) = await self._commands.execute(("GET", self._key(key)))
        return cast("bytes | None", value)

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        if not keys:
            return []
        (values,) = await self._commands.execute(("MGET", *(self._key(k) for k in keys)))
        return cast("list[bytes | None]", values)

    async def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        await self._commands.execute(self._set(key, value, ttl))

    async def set_many(self, items: Sequence[tuple[str, bytes]], ttl: float | None = None) -> None:
        if items:
            await self._commands.execute(*(self._set(k, v, ttl) for k, v in items))

    async def add(self, key: str, value: bytes, ttl: float | None = None) -> bool:
        (added,) = await self._commands.execute((*self._set(key, value, ttl), "NX"))
        return bool(added)

    async def add_many(
        self, items: Sequence[tuple[str, bytes]], ttl: float | None = None
    ) -> list[bool]:
        if not items:
            return []
        added = await self._commands.execute(*((*self._set(k, v, ttl), "NX") for k, v in items))
        return [bool(a) for a in added]

    def _set(self, key: str, value: bytes, ttl: float | None) -> tuple[Any, ...]:
        if ttl is None:
            return ("SET", self._key(key), value)
        return ("SET", self._key(key), value, "PX", _px(ttl))

    async def delete(self, *keys: str) -> None:
        if keys:
            await self._commands.execute(("DEL", *(self._key(k) for k in keys)))

    async def incr(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        name = self._key(key)
        if ttl is None:
            return int(await self._redis.incrby(name, amount))
        # SET NX creates the key with its TTL only when absent; INCRBY keeps an existing TTL.
        pipe = self._redis.pipeline(transaction=True)
        pipe.set(name, 0, px=_px(ttl), nx=True)
        pipe.incrby(name, amount)
        _, value = await pipe.execute()
        return int(value)

    async def incr_many(
        self, items: Sequence[tuple[str, int]], ttl: float | None = None
    ) -> list[int]:
        if not items:
            return []
        if ttl is None:
            values = await self._commands.execute(*(("INCRBY", self._key(k), n) for k, n in items))
            return [int(value) for value in values]
        # as incr: SET NX gives a new counter its TTL, INCRBY keeps an existing one's
        commands: list[tuple[Any, ...]] = []
        for key, amount in items:
            name = self._key(key)
            commands += [("SET", name, 0, "PX", _px(ttl), "NX"), ("INCRBY", name, amount)]
        values = await self._commands.execute(*commands)
        return [int(value) for value in values[1::2]]

    async def ping(self) -> bool:
        return bool(await self._redis.ping())


# XAUTOCLAIM, then each claimed entry's delivery count from XPENDING, in one round trip.
# Entries deleted while pending (by hand: ``trim`` never removes them) are dropped from the PEL
# by XAUTOCLAIM (Redis 7 lists them in a third element; Redis 6.2 returns them as nil, hence
# ``if entry``).
_RECLAIM_LUA = """
local claimed = redis.call(
  'XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], '0-0', 'COUNT', ARGV[4])
local out = {}
for _, entry in ipairs(claimed[2]) do
  if entry then
    local p = redis.call('XPENDING', KEYS[1], ARGV[1], entry[1], entry[1], 1)
    local deliveries = 2
    if p[1] then deliveries = p[1][4] end
    out[#out + 1] = {entry[1], entry[2], deliveries}
  end
end
return {out, claimed[3] or {}}
"""


# XCLAIM with min-idle 0 and JUSTID resets an entry's idle time without counting a delivery;
# only entries this consumer still owns are touched, so a takeover is never undone.
_TOUCH_LUA = """
local touched = {}
for i = 3, #ARGV do
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if p[1] and p[1][2] == ARGV[2] then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')
    touched[#touched + 1] = ARGV[i]
  end
end
return touched
"""


# Delete from one stream and append to another in one step, only if the delete found it.
_MOVE_LUA = """
if redis.call('XDEL', KEYS[1], ARGV[1]) == 1 then
  return redis.call('XADD', KEYS[2], '*', 'd', ARGV[2])
end
return false
"""


# Append unless the key is there, then set the key: the check, the entry and the mark in one
# step. The key is set after the XADD, so an error in between leaves it unset (the delivery is
# refused and comes again) rather than marked with nothing published.
# What the trim and backlog scripts share: a field of an XINFO GROUPS entry (a flat list of
# names and values), and the order of two stream ids, compared as digit strings (Lua numbers
# are doubles: a sequence number past 2^53 would compare wrongly as one).
_GROUP_LUA = """
local function field(group, name)
  for i = 1, #group, 2 do
    if group[i] == name then return group[i + 1] end
  end
end
local function older(a, b)
  local a_ms, a_seq = string.match(a, '^(%d+)-(%d+)$')
  local b_ms, b_seq = string.match(b, '^(%d+)-(%d+)$')
  if #a_ms ~= #b_ms then return #a_ms < #b_ms end
  if a_ms ~= b_ms then return a_ms < b_ms end
  if #a_seq ~= #b_seq then return #a_seq < #b_seq end
  return a_seq < b_seq
end
"""

# Trim below what every group is done with: for each group its oldest pending entry or, with
# none pending, the last entry it was handed; the oldest of those is kept and everything older
# goes (whole stream nodes only, "~", which is cheap; LIMIT 0 lifts the default cap of 100
# nodes a call). Atomic, so nothing is handed out or reclaimed between reading the groups and
# trimming. No group, nothing trimmed: nobody said what is done.
_TRIM_LUA = (
    _GROUP_LUA
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local keep = nil
for _, group in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
  local floor = field(group, 'last-delivered-id')
  if field(group, 'pending') > 0 then
    floor = redis.call('XPENDING', KEYS[1], field(group, 'name'))[2]
  end
  if keep == nil or older(floor, keep) then keep = floor end
end
if keep == nil or keep == '0-0' then return 0 end
return redis.call('XTRIM', KEYS[1], 'MINID', '~', keep, 'LIMIT', 0)
"""
)

# The slowest group's backlog: entries not yet handed to it (XINFO GROUPS "lag", Redis 7.0)
# plus those it holds unacknowledged. Redis cannot tell the lag past an entry deleted with
# XDEL (nor before 7.0): then the whole stream counts, which trimming keeps close to it.
_BACKLOG_LUA = (
    _GROUP_LUA
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local groups = redis.call('XINFO', 'GROUPS', KEYS[1])
local length = redis.call('XLEN', KEYS[1])
if #groups == 0 then return length end
local most = 0
for _, group in ipairs(groups) do
  local waiting = length
  local lag = field(group, 'lag')
  if lag then waiting = lag + field(group, 'pending') end
  if waiting > most then most = waiting end
end
return most
"""
)


def _payload(fields: Any) -> bytes:
    """The ``d`` field of an entry, given as a dict (parsed reply) or a flat list (Lua reply)."""
    if isinstance(fields, dict):
        return bytes(fields.get(b"d", b""))
    for i in range(0, len(fields) - 1, 2):
        if fields[i] == b"d":
            return bytes(fields[i + 1])
    return b""


class RedisBus(_RedisAdapter):
    """Redis Streams with consumer groups. Payloads live in the entry field ``d``. Publishing
    never trims: acknowledging trims a stream (at most every ``trim_every`` seconds per stream
    in this process) below what all its groups are done with, and ``admit`` refuses new
    entries while a stream's backlog is above ``max_backlog``."""

    def __init__(
        self,
        redis: Redis | str,
        prefix: str,
        *,
        max_backlog: int = 100_000,
        trim_every: float = TRIM_EVERY_SECONDS,
    ) -> None:
        super().__init__(redis, prefix)
        self._reclaim = self._redis.register_script(_RECLAIM_LUA)
        self._touch = self._redis.register_script(_TOUCH_LUA)
        self._move = self._redis.register_script(_MOVE_LUA)
        self._publish_once = PublishOnce(self._redis, self._commands)
        self._trim = self._redis.register_script(_TRIM_LUA)
        self._backlog = self._redis.register_script(_BACKLOG_LUA)
        self._gate = BacklogGate(self.backlog, max_backlog)
        self._trims = TrimSchedule(trim_every)
        # A BLOCK longer than the client's socket timeout would fail as a timeout: wait in
        # slices of half of it (Redis ends a BLOCK up to ~100 ms late, at its ``hz`` tick).
        kwargs = self._redis.connection_pool.connection_kwargs
        timeout = kwargs.get("socket_timeout", _REDIS_PY_SOCKET_TIMEOUT)
        self._max_block_ms = None if timeout is None else max(1, int(timeout * 500))

    async def publish(self, stream: str, payloads: Sequence[bytes]) -> list[str]:
        key = self._key(stream)
        if not payloads:
            return []
        if len(payloads) == 1:  # batched with the other one-entry appends made at once
            entry_id = await self._publish_once.publish(key, payloads[0])
            return [cast(bytes, entry_id).decode()]
        # MULTI/EXEC: all of them or none, so a caller told "failed" (Redis went away
        # mid-way) can be sure none went out
        pipe = self._redis.pipeline(transaction=True)
        for payload in payloads:
            pipe.xadd(key, {"d": payload})
        return [entry_id.decode() for entry_id in await pipe.execute()]

    async def publish_once(self, stream: str, payload: bytes, key: str, ttl: float) -> str | None:
        ttl_ms = max(1, math.ceil(ttl * 1000))
        entry_id = await self._publish_once.publish(
            self._key(stream), payload, self._key(key), ttl_ms
        )
        return None if entry_id is None else entry_id.decode()

    async def close(self) -> None:
        if not self._closed:
            await self._publish_once.drain()  # before the commands it issues are drained
        await super().close()

    async def admit(self, stream: str) -> None:
        await self._gate.admit(stream)

    async def backlog(self, stream: str) -> int:
        return int(await self._backlog(keys=[self._key(stream)]))

    async def trim(self, stream: str) -> int:
        return int(await self._trim(keys=[self._key(stream)]))

    async def ensure_group(self, stream: str, group: str) -> None:
        try:
            await self._redis.xgroup_create(self._key(stream), group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def read(
        self, stream: str, group: str, consumer: str, count: int, block_ms: int
    ) -> list[BusMessage]:
        streams: dict[Any, Any] = {self._key(stream): ">"}
        if block_ms <= 0:  # no BLOCK at all: BLOCK 0 would mean "forever" to Redis
            reply = await self._redis.xreadgroup(group, consumer, streams, count=count)
            return self._messages(reply)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + block_ms / 1000
        while True:
            wait_ms = max(1, round((deadline - loop.time()) * 1000))
            if self._max_block_ms is not None:
                wait_ms = min(wait_ms, self._max_block_ms)
            reply = await self._redis.xreadgroup(
                group, consumer, streams, count=count, block=wait_ms
            )
            messages = self._messages(reply)
            if messages or loop.time() >= deadline:
                return messages

    @staticmethod
    def _messages(reply: Any) -> list[BusMessage]:
        if not reply:
            return []
        return [BusMessage(entry_id.decode(), _payload(fields)) for entry_id, fields in reply[0][1]]

    async def ack(self, stream: str, group: str, ids: Sequence[str]) -> None:
        if not ids:
            return
        await self._redis.xack(self._key(stream), group, *ids)
        if self._trims.due(stream):
            try:
                await self.trim(stream)
            except Exception as exc:  # housekeeping: the acknowledgement itself went through
                _log.warning(
                    "trimming a stream failed; tried again later",
                    stream=stream,
                    error=describe(exc),
                    exc_info=unavailable(exc) is None,
                )

    async def touch(self, stream: str, group: str, consumer: str, ids: Sequence[str]) -> list[str]:
        if not ids:
            return []
        held = await self._touch(keys=[self._key(stream)], args=[group, consumer, *ids])
        return [entry_id.decode() for entry_id in held]

    async def reclaim(
        self, stream: str, group: str, consumer: str, min_idle_ms: int, count: int
    ) -> list[BusMessage]:
        rows, trimmed = await self._reclaim(
            keys=[self._key(stream)], args=[group, consumer, min_idle_ms, count]
        )
        if trimmed:
            # deleted while a dead consumer held them (by hand: trimming never does): lost
            _log.error(
                "unacknowledged entries were deleted from the stream and are lost",
                stream=stream,
                count=len(trimmed),
            )
            metrics.BUS_LOST.inc(len(trimmed))
        return [
            BusMessage(entry_id.decode(), _payload(fields), int(deliveries))
            for entry_id, fields, deliveries in rows
        ]

    async def pending_count(self, stream: str, group: str) -> int:
        summary = await self._redis.xpending(self._key(stream), group)
        return int(summary["pending"])

    async def length(self, stream: str) -> int:
        return int(await self._redis.xlen(self._key(stream)))

    async def entries(self, stream: str, *, after: str = "", count: int = 100) -> list[BusMessage]:
        start = f"({after}" if after else "-"  # "(": exclusive (Redis 6.2)
        return await self._range(stream, start, "+", count)

    async def entry(self, stream: str, entry_id: str) -> BusMessage | None:
        found = await self._range(stream, entry_id, entry_id, 1)
        return found[0] if found else None

    async def _range(self, stream: str, start: str, end: str, count: int) -> list[BusMessage]:
        rows = await self._redis.xrange(self._key(stream), min=start, max=end, count=count)
        return [
            BusMessage(cast(bytes, entry_id).decode(), _payload(fields))
            for entry_id, fields in cast("list[tuple[bytes, dict[bytes, bytes]]]", rows)
        ]

    async def delete(self, stream: str, ids: Sequence[str]) -> int:
        return int(await self._redis.xdel(self._key(stream), *ids)) if ids else 0

    async def move(self, source: str, entry_id: str, target: str, payload: bytes) -> str | None:
        moved = await self._move(
            keys=[self._key(source), self._key(target)], args=[entry_id, payload]
        )
        return None if moved is None else cast(bytes, moved).decode()


class _Channel:
    __slots__ = ("confirmed", "subscribers")

    def __init__(self) -> None:
        self.subscribers: set[QueueSubscription] = set()
        self.confirmed: asyncio.Future[None] = asyncio.get_running_loop().create_future()


class RedisBroadcast(_RedisAdapter):
    """Redis pub/sub over ONE connection per instance: a reader task receives every message and
    hands it to the local subscribers' bounded queues."""

    def __init__(
        self,
        redis: Redis | str,
        prefix: str,
        *,
        queue_size: int = 1000,
        confirm_timeout: float = 10.0,
    ) -> None:
        super().__init__(redis, prefix)
        self._queue_size = queue_size
        self._confirm_timeout = confirm_timeout
        self._pubsub = self._redis.pubsub()
        self._channels: dict[bytes, _Channel] = {}
        # SUBSCRIBE/UNSUBSCRIBE one at a time, so a confirmation always belongs to the
        # SUBSCRIBE being awaited.
        self._control = asyncio.Lock()
        self._reader: asyncio.Task[None] | None = None

    def _name(self, channel: str) -> bytes:
        return self._key(channel).encode()

    async def publish(self, channel: str, data: bytes) -> None:
        await self._redis.publish(self._name(channel), data)

    async def subscribe(self, channel: str) -> QueueSubscription:
        if self._closed:
            raise RuntimeError("broadcast is closed")
        name = self._name(channel)
        sub = QueueSubscription(channel, self._queue_size, self._unsubscribe)
        async with self._control:
            state = self._channels.get(name)
            if state is None:
                state = self._channels[name] = _Channel()
                try:
                    await self._pubsub.subscribe(name)
                    if self._reader is None:
                        self._reader = asyncio.create_task(self._read_loop())
                    async with asyncio.timeout(self._confirm_timeout):
                        await state.confirmed
                except BaseException:
                    del self._channels[name]
                    with contextlib.suppress(RedisError, OSError):
                        await self._pubsub.unsubscribe(name)
                    raise
            state.subscribers.add(sub)
        return sub

    async def _unsubscribe(self, sub: QueueSubscription) -> None:
        name = self._name(sub.channel)
        async with self._control:
            state = self._channels.get(name)
            if state is None:
                return
            state.subscribers.discard(sub)
            if state.subscribers or self._closed:
                return
            del self._channels[name]
            try:
                await self._pubsub.unsubscribe(name)
            except (RedisError, OSError) as exc:  # the reader ignores the channel anyway
                _log.warning("broadcast unsubscribe failed", channel=sub.channel, error=str(exc))

    async def _read_loop(self) -> None:
        backoff = 0.1
        while True:
            try:
                message = await self._pubsub.get_message(timeout=None)
            except Exception as exc:  # the reader must survive: subscribers depend on it
                # redis-py reconnects and re-subscribes on the next read
                _log.warning("broadcast read failed, retrying", error=repr(exc))
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            backoff = 0.1
            if message is None:
                continue
            state = self._channels.get(message["channel"])
            if state is None:
                continue
            if message["type"] == "message":
                data = message["data"]
                for sub in state.subscribers:
                    sub.put(data)
            elif message["type"] == "subscribe" and not state.confirmed.done():
                state.confirmed.set_result(None)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        for state in self._channels.values():
            for sub in state.subscribers:
                sub.close_local()
        self._channels.clear()
        await self._pubsub.aclose()
        if self._owns_client:
            await self._redis.aclose()


# Renew and release compare the owner token and act in one step: between a GET and a
# PEXPIRE/DEL sent separately the lease could expire and pass to another process.
_RENEW_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

_RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def _lease_ms(ttl: float) -> int:
    return max(1, math.ceil(ttl * 1000))


class RedisLease(_RedisAdapter):
    """A lease is the key ``lease:<name>`` holding the owner's token, with a TTL: taken with
    ``SET NX PX``, renewed and released by Lua scripts that first check the token. Expiry is
    Redis's clock, so hosts' clocks do not matter."""

    def __init__(self, redis: Redis | str, prefix: str) -> None:
        super().__init__(redis, prefix)
        self._renew = self._redis.register_script(_RENEW_LUA)
        self._release = self._redis.register_script(_RELEASE_LUA)

    def _lease(self, name: str) -> str:
        return self._key(f"lease:{name}")

    async def acquire(self, name: str, owner: str, ttl: float) -> bool:
        return bool(await self._redis.set(self._lease(name), owner, px=_lease_ms(ttl), nx=True))

    async def renew(self, name: str, owner: str, ttl: float) -> bool:
        return bool(await self._renew(keys=[self._lease(name)], args=[owner, _lease_ms(ttl)]))

    async def release(self, name: str, owner: str) -> bool:
        return bool(await self._release(keys=[self._lease(name)], args=[owner]))

    async def holder(self, name: str) -> str | None:
        value = await self._redis.get(self._lease(name))
        return None if value is None else cast(bytes, value).decode()

    async def holders(self, names: Sequence[str]) -> list[str | None]:
        if not names:
            return []
        values = await self._redis.mget([self._lease(name) for name in names])
        return [None if v is None else cast(bytes, v).decode() for v in values]


# Several moving-window hits in one round trip. The lists are those ``limits``' moving window
# keeps (the newest hit's time first, at most ``amount`` of them, expiring with the window), so
# its own reads (``reset_in``) and ``clear`` work on them unchanged; written here because
# ``limits`` hits one item per call, which cost the router a round trip per check and command.
# ARGV: the time now, then for each group its number of checks and, for each check, the
# limit's amount and seconds. KEYS: every check's list, in the same order. One result per
# group: the 1-based index of the check that refused, 0 when none did.
_HIT_MANY_LUA = """
local now = tonumber(ARGV[1])
local results = {}
local a, k = 2, 1
while a <= #ARGV do
  local checks = tonumber(ARGV[a])
  local refused = 0
  for i = 1, checks do
    local amount, seconds = tonumber(ARGV[a + 2 * i - 1]), tonumber(ARGV[a + 2 * i])
    local key = KEYS[k]
    k = k + 1
    if refused == 0 then
      local oldest = redis.call('LINDEX', key, amount - 1)
      if amount < 1 or (oldest and tonumber(oldest) >= now - seconds) then
        refused = i
      else
        redis.call('LPUSH', key, ARGV[1])
        redis.call('LTRIM', key, 0, amount - 1)
        redis.call('EXPIRE', key, seconds)
      end
    end
  end
  a = a + 1 + 2 * checks
  results[#results + 1] = refused
end
return results
"""


class LimitsRateLimiter:
    """:class:`~waddlebot.infra.ports.RateLimiter` on top of a ``limits`` async storage.

    Strategy: moving window. It is exact (a hit is allowed only if fewer than ``amount`` hits were
    counted in the last ``seconds``), and on Redis one Lua script checks and records a hit
    atomically, so concurrent hits from any number of processes never overshoot. It stores one
    timestamp per counted hit (at most ``amount`` per key), which is fine for chat-sized limits;
    the sliding-window counter would be cheaper but only approximate.
    """

    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        self._strategy = MovingWindowRateLimiter(storage)
        self._items: dict[Limit, RateLimitItem] = {}

    def _item(self, limit: Limit) -> RateLimitItem:
        item = self._items.get(limit)
        if item is None:
            item = self._items[limit] = RateLimitItemPerSecond(limit.amount, limit.seconds)
        return item

    async def hit(self, limit: Limit, *key: str) -> bool:
        return await self._strategy.hit(self._item(limit), *key)

    async def hit_many(self, groups: Sequence[Sequence[Check]]) -> list[int | None]:
        results: list[int | None] = []
        for group in groups:
            refused = None
            for i, (limit, key) in enumerate(group):
                if not await self.hit(limit, *key):
                    refused = i
                    break
            results.append(refused)
        return results

    async def reset_in(self, limit: Limit, *key: str) -> float:
        stats = await self._strategy.get_window_stats(self._item(limit), *key)
        if stats.remaining > 0:
            return 0.0
        return max(0.0, stats.reset_time - time.time())

    async def clear(self, limit: Limit, *key: str) -> None:
        await self._strategy.clear(self._item(limit), *key)

    async def close(self) -> None:
        return None


class RedisRateLimiter(LimitsRateLimiter, _RedisAdapter):
    """``limits``' Redis storage (redis-py asyncio bridge) on this client's connection pool.

    The moving window check-and-record is one Lua script, so it is atomic across processes. The
    window timestamps come from each process's wall clock, so hosts should run NTP.
    """

    def __init__(self, redis: Redis | str, prefix: str) -> None:
        _RedisAdapter.__init__(self, redis, prefix)
        storage = RedisStorage(
            "async+redis://",  # ignored: the connection pool below decides where to connect
            implementation="redispy",
            key_prefix=self._key("ratelimit"),
            connection_pool=self._redis.connection_pool,  # type: ignore[arg-type]
        )
        LimitsRateLimiter.__init__(self, storage)
        self._hit_many = self._redis.register_script(_HIT_MANY_LUA)
        self._list_prefix = f"{self._key('ratelimit')}:"  # what ``limits`` prefixes its keys with

    async def hit_many(self, groups: Sequence[Sequence[Check]]) -> list[int | None]:
        keys: list[str] = []
        args: list[str | int] = [repr(time.time())]
        for group in groups:
            args.append(len(group))
            for limit, key in group:
                keys.append(self._list_prefix + self._item(limit).key_for(*key))
                args += (limit.amount, limit.seconds)
        if not keys:
            return [None] * len(groups)
        refused = await self._hit_many(keys=keys, args=args)
        return [int(i) - 1 if i else None for i in refused]

    async def close(self) -> None:
        await _RedisAdapter.close(self)
