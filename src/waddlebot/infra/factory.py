"""Builds the infrastructure ports: in-process adapters without a Redis URL, Redis otherwise."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from redis.asyncio import Redis
from redis.exceptions import AuthenticationError, AuthenticationWrongNumberOfArgsError, RedisError

from waddlebot.core.errors import ConfigurationError, ServiceUnavailable
from waddlebot.infra.memory import (
    MemoryBroadcast,
    MemoryBus,
    MemoryCache,
    MemoryLease,
    MemoryRateLimiter,
)
from waddlebot.infra.outages import unavailable
from waddlebot.infra.ports import Ports
from waddlebot.infra.redis_ports import (
    RedisBroadcast,
    RedisBus,
    RedisCache,
    RedisLease,
    RedisRateLimiter,
    redis_client,
)


@dataclass
class RedisPorts(Ports):
    """Redis-backed ports sharing one client (one connection pool), closed after the ports."""

    redis: Redis | None = field(default=None, repr=False)

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            client, self.redis = self.redis, None
            if client is not None:
                await client.aclose()


async def build_ports(
    redis_url: str,
    prefix: str = "waddlebot",
    *,
    bus_maxlen: int = 100_000,
    max_connections: int = 100,
) -> Ports:
    """``bus_maxlen``: the most entries waiting on a stream (``events``) before the bus
    refuses more (``Bus.admit``); ``max_connections`` caps the shared Redis pool; each blocked
    bus read holds one."""
    if not redis_url:
        return Ports(
            cache=MemoryCache(),
            bus=MemoryBus(max_backlog=bus_maxlen),
            broadcast=MemoryBroadcast(),
            ratelimiter=MemoryRateLimiter(),
            lease=MemoryLease(),
        )
    client = redis_client(redis_url, max_connections=max_connections)
    try:
        try:
            await client.ping()  # fail at startup, not on the first message
        except RedisError as exc:
            raise _not_answering(redis_url, exc) from exc
        return RedisPorts(
            cache=RedisCache(client, prefix),
            bus=RedisBus(client, prefix, max_backlog=bus_maxlen),
            broadcast=RedisBroadcast(client, prefix),
            ratelimiter=RedisRateLimiter(client, prefix),
            lease=RedisLease(client, prefix),
            redis=client,
        )
    except BaseException:
        await client.aclose()
        raise


def _not_answering(redis_url: str, exc: RedisError) -> ConfigurationError:
    """A Redis that is down is an outage; one that refuses the credentials is a setting."""
    shown = _without_password(redis_url)
    if isinstance(exc, AuthenticationError | AuthenticationWrongNumberOfArgsError):
        return ConfigurationError(
            f"Redis at {shown} refuses the credentials ({exc})",
            setting="WADDLEBOT_REDIS_URL",
            fix="Correct the user and password in the URL (redis://user:password@host:port/db).",
        )
    kind = ServiceUnavailable if unavailable(exc) else ConfigurationError
    return kind(
        f"Redis at {shown} does not answer ({exc})",
        setting="WADDLEBOT_REDIS_URL",
        fix="Start Redis, or correct the URL (unset it to run embedded, without Redis).",
    )


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit(parts._replace(netloc=user + host))
