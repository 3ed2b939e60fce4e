"""The broker: the routes and one consumer with a key-auth credential per live API key,
pushed to every Kong node at once. A node that fails is reported; the others are synced
all the same. A live key with no sealed copy (made before the broker was configured) cannot
be given to Kong: it is reported by its id and name, to be replaced by a new key."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog

from waddlebot.features.identity.apikeys import live_sealed_keys
from waddlebot.features.kong.admin import KongAdmin, NodeResult
from waddlebot.features.kong.declarative import Credential, with_consumers
from waddlebot.infra.db.engine import Database
from waddlebot.infra.metrics import KONG_SYNCS
from waddlebot.infra.secretbox import SecretBox, SecretError

log = structlog.get_logger("waddlebot.kong")


@dataclass(frozen=True, slots=True)
class Unsealed:
    """A live key Kong cannot be given: no sealed copy, or none the configured keys open."""

    key_id: str
    name: str
    reason: str


@dataclass(slots=True)
class SyncReport:
    nodes: list[NodeResult] = field(default_factory=list)
    credentials: int = 0  # keys sent to Kong
    unsealed: list[Unsealed] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(node.ok for node in self.nodes)


class KongBroker:
    def __init__(
        self,
        db: Database,
        box: SecretBox,
        admin: KongAdmin,
        nodes: Sequence[str],
        routes: Callable[[], Mapping[str, Any]],
        *,
        every: float = 0.0,
    ) -> None:
        """``routes``: the configuration of the routes (``declarative_config``), asked for
        once; ``every``: the least time between two syncs of :meth:`sync_if_due`."""
        self._db = db
        self._box = box
        self._admin = admin
        self._nodes = tuple(nodes)
        self._routes_of = routes
        self._routes: Mapping[str, Any] | None = None
        self._every = every
        self._last = float("-inf")

    async def config(self) -> tuple[dict[str, Any], list[Unsealed]]:
        """The configuration every node gets, and the live keys left out of it."""
        if self._routes is None:
            self._routes = self._routes_of()
        credentials, unsealed = [], []
        for info, sealed in await live_sealed_keys(self._db):
            if sealed is None:
                unsealed.append(Unsealed(info.key_id, info.name, "made before the broker"))
                continue
            try:
                key = self._box.decrypt(sealed)
            except SecretError:
                unsealed.append(Unsealed(info.key_id, info.name, "no configured key opens it"))
                continue
            credentials.append(Credential(info.key_id, info.kind, key))
        return with_consumers(self._routes, credentials), unsealed

    async def sync(self) -> SyncReport:
        self._last = time.monotonic()
        config, unsealed = await self.config()
        results = await asyncio.gather(*(self._admin.push(node, config) for node in self._nodes))
        report = SyncReport(list(results), len(config["keyauth_credentials"]), unsealed)
        for result in results:
            KONG_SYNCS.labels(node=result.node, outcome=result.outcome).inc()
            if result.outcome == "rejected":  # our configuration is wrong: a bug to fix
                log.error("kong refused the configuration", node=result.node, kong=result.detail)
            elif not result.ok:
                log.warning(
                    "kong node not synced",
                    node=result.node,
                    outcome=result.outcome,
                    detail=result.detail,
                )
        return report

    async def sync_if_due(self) -> SyncReport | None:
        if time.monotonic() - self._last < self._every:
            return None
        return await self.sync()
