"""``ctx.store``: what a module remembers, per community, per channel or per person.

A handler writes ``await ctx.store.person.increment("kudos")`` and reads
``await ctx.store.community.get("topic", "")``. Values are JSON; every key lives in a
*bucket* named by the module, the community and the scope, so a module never sees another
module's data, nor another community's. A backend (:class:`StoreBackend`) keeps the buckets:
the database in the bot (``features/modulestore``), the bot's API for a module served over HTTP
(``sdk/store_http.py``), or memory for tests (:class:`MemoryStore`).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol, TypeVar, get_args

import orjson

from waddlebot.core.clock import Clock, SystemClock
from waddlebot.core.contract import ModuleRequest
from waddlebot.core.errors import Conflict, LimitReached, UserError, WaddleError

Scope = Literal["community", "channel", "person"]
SCOPES: tuple[Scope, ...] = get_args(Scope)

MAX_KEY = 200  # characters
INT64 = (-(2**63), 2**63 - 1)
COUNTER_BYTES = 8  # what a whole number costs, whatever its digits (it is kept as one)
UPDATE_ATTEMPTS = 50

T = TypeVar("T")


# ----- errors -----------------------------------------------------------------------------


class StoreFull(LimitReached):
    """The module's storage in this community is full: remove something first."""

    code = "store_full"

    @classmethod
    def of(cls, module: str, limit: int) -> StoreFull:
        return cls(
            f"the {module} module has no room left in this community (it may keep "
            f"{_size(limit)}); remove something first"
        )


class ValueTooLarge(LimitReached):
    code = "value_too_large"

    @classmethod
    def of(cls, key: str, size: int, limit: int) -> ValueTooLarge:
        return cls(f"the value of {key!r} takes {_size(size)}, more than {_size(limit)}")


class NotANumber(Conflict):
    code = "not_a_number"

    @classmethod
    def of(cls, key: str) -> NotANumber:
        return cls(f"the value of {key!r} is not a whole number, so it cannot be counted")


class StoreBusy(Conflict):
    """An :meth:`ScopedStore.update` lost to other writers every time it tried."""

    code = "store_busy"

    @classmethod
    def of(cls, key: str) -> StoreBusy:
        return cls(f"{key!r} is changed by too many at once; try again")


class BadKey(UserError):
    code = "bad_key"


STORE_ERRORS: dict[str, type[WaddleError]] = {
    kind.code: kind for kind in (StoreFull, ValueTooLarge, NotANumber, StoreBusy, BadKey)
}
"""The refusals of a store by their code (how the store endpoint names them)."""


class StoreUnavailable(RuntimeError):
    """``ctx.store`` used where there is none: ``Module.handle`` was called without a store
    (pass ``store=MemoryStore()`` in a test), or a scope the request has nothing for."""


def _size(count: int) -> str:
    return f"{count / 1_000_000:g} MB" if count >= 100_000 else f"{count:,} bytes"


# ----- what the backends share --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Bucket:
    """Where keys live: one module's keys in one community, for one scope (``scope_id``:
    ``""`` for the community, the place for a channel, the person)."""

    module: str
    community_id: int
    scope: Scope
    scope_id: str


@dataclass(frozen=True, slots=True)
class Entry:
    value: Any
    version: int  # 1 when written first, one more at each change


@dataclass(frozen=True, slots=True)
class Limits:
    """``total_bytes`` per module per community (keys and values), ``value_bytes`` per
    value (its JSON)."""

    total_bytes: int = 1_000_000
    value_bytes: int = 64_000


def check_key(key: str) -> str:
    if not isinstance(key, str) or not 1 <= len(key) <= MAX_KEY or not key.isprintable():
        raise BadKey(f"a key is 1 to {MAX_KEY} printable characters, not {key!r}"[:300])
    return key


def encode(key: str, value: Any, limits: Limits) -> bytes:
    """The JSON of ``value`` (a ``TypeError`` when it is no JSON); :class:`ValueTooLarge`."""
    try:
        data = orjson.dumps(value)
    except TypeError as exc:
        raise TypeError(f"the value of {key!r} cannot be stored as JSON: {exc}") from exc
    if len(data) > limits.value_bytes:
        raise ValueTooLarge.of(key, len(data), limits.value_bytes)
    return data


def is_counter(value: Any) -> bool:
    """A whole number the backends can count in place."""
    return type(value) is int and INT64[0] <= value <= INT64[1]


def entry_size(key: str, value: Any, data: bytes) -> int:
    """What an entry costs against the quota."""
    return len(key.encode()) + (COUNTER_BYTES if is_counter(value) else len(data))


def counted(key: str, current: Any, by: int) -> int:
    """``current + by`` for :meth:`StoreBackend.increment` (``None``: absent)."""
    if current is None:
        current = 0
    if not is_counter(current):
        raise NotANumber.of(key)
    total = int(current) + by
    if not is_counter(total):
        raise NotANumber.of(key)
    return total


def expiry(clock: Clock, ttl: float | None) -> datetime | None:
    if ttl is None:
        return None
    if not math.isfinite(ttl) or ttl <= 0:
        raise UserError(f"ttl is a number of seconds above 0, not {ttl!r}")
    return clock.now() + timedelta(seconds=ttl)


class StoreBackend(Protocol):
    """Keeps the buckets. ``write`` with ``version``: only when the key is at that version
    (0: absent), else it returns None; without, whatever is there. Writes raise
    :class:`StoreFull` past the module's quota in the community."""

    async def read(self, bucket: Bucket, key: str) -> Entry | None: ...

    async def write(
        self, bucket: Bucket, key: str, value: Any, *, ttl: float | None, version: int | None
    ) -> int | None: ...

    async def delete(self, bucket: Bucket, key: str) -> bool: ...

    async def increment(self, bucket: Bucket, key: str, by: int) -> int: ...

    async def keys(self, bucket: Bucket, prefix: str) -> list[str]: ...


# ----- what a handler uses -----------------------------------------------------------------


class _Missing:
    pass


_MISSING: Any = _Missing()


class ScopedStore:
    """One bucket: ``ctx.store.community``, ``ctx.store.channel`` or ``ctx.store.person``."""

    __slots__ = ("_backend", "bucket")

    def __init__(self, backend: StoreBackend, bucket: Bucket) -> None:
        self._backend = backend
        self.bucket = bucket

    async def get(self, key: str, default: Any = None) -> Any:
        """The value of ``key``, or ``default`` when there is none (or it expired)."""
        entry = await self._backend.read(self.bucket, check_key(key))
        return default if entry is None else entry.value

    async def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        """Keep ``value`` (anything JSON can hold) under ``key``; for ``ttl`` seconds, or
        until deleted."""
        await self._backend.write(self.bucket, check_key(key), value, ttl=ttl, version=None)

    async def delete(self, key: str) -> bool:
        """Forget ``key``; whether there was something to forget."""
        return await self._backend.delete(self.bucket, check_key(key))

    async def increment(self, key: str, by: int = 1) -> int:
        """Add ``by`` to the whole number under ``key`` (0 when absent) in one step, however
        many add at once; the new value. :class:`NotANumber` when it holds something else."""
        if type(by) is not int:
            raise TypeError(f"increment by a whole number, not {by!r}")
        return await self._backend.increment(self.bucket, check_key(key), by)

    async def update(
        self,
        key: str,
        change: Callable[[Any], T | Awaitable[T]],
        default: Any = None,
        ttl: float | None = None,
    ) -> T:
        """Read, change and write ``key`` as one step: ``change(current)`` (``default`` when
        absent) gives the new value, which is written only if nobody wrote the key in between;
        otherwise ``change`` runs again on what they wrote. Keep ``change`` free of side
        effects: it may run more than once. The new value."""
        check_key(key)
        for _ in range(UPDATE_ATTEMPTS):
            entry = await self._backend.read(self.bucket, key)
            current = default if entry is None else entry.value
            new = change(current)
            if isinstance(new, Awaitable):
                new = await new
            version = 0 if entry is None else entry.version
            written = await self._backend.write(self.bucket, key, new, ttl=ttl, version=version)
            if written is not None:
                return new
            await asyncio.sleep(0)  # let the writer that won finish
        raise StoreBusy.of(key)

    async def keys(self, prefix: str = "") -> list[str]:
        """The keys starting with ``prefix``, sorted."""
        return await self._backend.keys(self.bucket, prefix)


def channel_of(request: ModuleRequest) -> str:
    """The place a request came from, as the channel scope names it."""
    return f"{request.entity_id}/{request.channel_id}" if request.channel_id else request.entity_id


def person_of(request: ModuleRequest) -> str | None:
    """The caller, as the person scope names them: their WaddleBot user, else their account."""
    caller = request.caller
    if caller is None:
        return None
    if caller.user_id is not None:
        return f"user:{caller.user_id}"
    return f"{caller.identity.platform}:{caller.identity.user_id}"


class ModuleStore:
    """``ctx.store``: the module's buckets for the request's community, channel and caller."""

    __slots__ = ("_backend", "_module", "_request")

    def __init__(self, backend: StoreBackend | None, module: str, request: ModuleRequest) -> None:
        self._backend = backend
        self._module = module
        self._request = request

    def _scoped(self, scope: Scope, scope_id: str | None) -> ScopedStore:
        if self._backend is None:
            raise StoreUnavailable(
                "ctx.store is not available: the module was called without a store "
                "(Module.handle(request, store=MemoryStore()) gives it one)"
            )
        if scope_id is None:
            raise StoreUnavailable(f"ctx.store.{scope}: this request has no {scope}")
        bucket = Bucket(self._module, self._request.community_id, scope, scope_id)
        return ScopedStore(self._backend, bucket)

    @property
    def community(self) -> ScopedStore:
        return self._scoped("community", "")

    @property
    def channel(self) -> ScopedStore:
        return self._scoped("channel", channel_of(self._request))

    @property
    def person(self) -> ScopedStore:
        """The caller's bucket (a :class:`StoreUnavailable` for an event without a caller)."""
        return self._scoped("person", person_of(self._request))


# ----- in memory ---------------------------------------------------------------------------


@dataclass(slots=True)
class _Stored:
    value: Any
    version: int
    size: int
    expires: datetime | None


class MemoryStore:
    """A :class:`StoreBackend` in a dict, with the database's rules (quota, sizes, versions,
    expiry by ``clock``): for tests, and a module run without a bot."""

    def __init__(self, *, limits: Limits | None = None, clock: Clock | None = None) -> None:
        self.limits = limits or Limits()
        self.clock = clock or SystemClock()
        self._buckets: dict[Bucket, dict[str, _Stored]] = {}

    def _live(self, bucket: Bucket, key: str) -> _Stored | None:
        stored = self._buckets.get(bucket, {}).get(key)
        if stored is not None and stored.expires is not None and stored.expires <= self.clock.now():
            del self._buckets[bucket][key]
            return None
        return stored

    def used(self, module: str, community_id: int) -> int:
        """Bytes the module keeps in the community (expired entries included until read)."""
        return sum(
            stored.size
            for bucket, entries in self._buckets.items()
            if (bucket.module, bucket.community_id) == (module, community_id)
            for stored in entries.values()
        )

    async def read(self, bucket: Bucket, key: str) -> Entry | None:
        stored = self._live(bucket, key)
        if stored is None:
            return None
        return Entry(orjson.loads(orjson.dumps(stored.value)), stored.version)  # a copy

    async def write(
        self, bucket: Bucket, key: str, value: Any, *, ttl: float | None, version: int | None
    ) -> int | None:
        data = encode(key, value, self.limits)
        expires = expiry(self.clock, ttl)
        old = self._live(bucket, key)
        if version is not None and version != (0 if old is None else old.version):
            return None
        self._put(bucket, key, orjson.loads(data), data, old, expires)
        return 1 if old is None else old.version + 1

    def _put(
        self,
        bucket: Bucket,
        key: str,
        value: Any,
        data: bytes,
        old: _Stored | None,
        expires: datetime | None,
    ) -> None:
        size = entry_size(key, value, data)
        grows = size - (0 if old is None else old.size)
        used = self.used(bucket.module, bucket.community_id)
        if grows > 0 and used + grows > self.limits.total_bytes:
            raise StoreFull.of(bucket.module, self.limits.total_bytes)
        version = 1 if old is None else old.version + 1
        self._buckets.setdefault(bucket, {})[key] = _Stored(value, version, size, expires)

    async def delete(self, bucket: Bucket, key: str) -> bool:
        if self._live(bucket, key) is None:
            return False
        del self._buckets[bucket][key]
        return True

    async def increment(self, bucket: Bucket, key: str, by: int) -> int:
        old = self._live(bucket, key)
        total = counted(key, None if old is None else old.value, by)
        self._put(bucket, key, total, b"", old, None if old is None else old.expires)
        return total

    async def keys(self, bucket: Bucket, prefix: str) -> list[str]:
        names = [key for key in self._buckets.get(bucket, {}) if key.startswith(prefix)]
        return sorted(key for key in names if self._live(bucket, key) is not None)
