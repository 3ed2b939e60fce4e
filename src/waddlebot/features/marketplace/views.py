"""Each community's modules as the router needs them (:class:`~waddlebot.router.views.ModuleView`),
kept by the process and dropped the moment any process changes that community's modules (over
the change feed), with a short lifetime as the backstop for a notice missed."""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy import select

from waddlebot.core.events import EventType
from waddlebot.core.manifest import Manifest
from waddlebot.features.marketplace.catalogue import CATALOGUE_CHANGES, Catalogue
from waddlebot.features.marketplace.granted import GrantedClient
from waddlebot.features.marketplace.models import CommunityModule
from waddlebot.infra.changes import ChangeFeed
from waddlebot.infra.db.engine import Database
from waddlebot.infra.db.models import Community
from waddlebot.router.modules import CommandRoute, ModuleClient
from waddlebot.router.views import EVERYTHING, ModuleView

log = structlog.get_logger("waddlebot.marketplace")

MODULE_CHANGES = "modules"  # the change feed's kind; the key is the community id
VIEW_SECONDS = 60.0  # the backstop: a view is reloaded this long after it was loaded


@dataclass(frozen=True, slots=True)
class CommunityView:
    disabled: frozenset[str] = frozenset()
    routes: Mapping[tuple[bool, str], CommandRoute] = field(default_factory=dict)
    listed: tuple[CommandRoute, ...] = ()  # the routes' commands under their names here
    listening: Mapping[EventType, tuple[ModuleClient, ...]] = field(default_factory=dict)
    configs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def enabled(self, module: str) -> bool:
        return module not in self.disabled

    def command(self, serverless: bool, name: str) -> CommandRoute | None:
        return self.routes.get((serverless, name))

    def commands(self) -> Sequence[CommandRoute]:
        return self.listed

    def listeners(self, event_type: EventType) -> Sequence[ModuleClient]:
        return self.listening.get(event_type, ())

    def config(self, module: str) -> Mapping[str, Any]:
        return self.configs.get(module, {})


class CommunityViews:
    """The router's :class:`~waddlebot.router.views.ModuleViews`."""

    def __init__(self, db: Database, catalogue: Catalogue, feed: ChangeFeed) -> None:
        self._db = db
        self._catalogue = catalogue
        self._held: dict[int, tuple[float, ModuleView]] = {}
        feed.watch(MODULE_CHANGES, self._changed)
        feed.watch(CATALOGUE_CHANGES, self._catalogue_changed)

    def cached(self, community_id: int) -> ModuleView | None:
        held = self._held.get(community_id)
        if held is None or held[0] < time.monotonic():
            return None
        return held[1]

    async def views(self, community_ids: Collection[int]) -> Mapping[int, ModuleView]:
        async with self._db.read_session() as session:
            rows = (
                await session.scalars(
                    select(CommunityModule).where(CommunityModule.community_id.in_(community_ids))
                )
            ).all()
        by_community: dict[int, list[CommunityModule]] = {}
        for row in rows:
            by_community.setdefault(row.community_id, []).append(row)
        expires = time.monotonic() + VIEW_SECONDS
        registered = (
            {entry.name for entry in await self._catalogue.registered()} if by_community else set()
        )
        views: dict[int, ModuleView] = {}
        for community_id in community_ids:
            found = by_community.get(community_id)
            views[community_id] = (
                await self._view(community_id, found, registered) if found else EVERYTHING
            )
            self._held[community_id] = (expires, views[community_id])
        return views

    def forget(self, community_id: int) -> None:
        """Drop the view now (the change notice follows for the other processes)."""
        self._held.pop(community_id, None)

    async def _view(
        self, community_id: int, rows: list[CommunityModule], registered: set[str]
    ) -> ModuleView:
        disabled = {row.module for row in rows if not row.enabled}
        configs = {row.module: row.config for row in rows if row.config}
        routes: dict[tuple[bool, str], CommandRoute] = {}
        listed: list[CommandRoute] = []
        listening: dict[EventType, list[ModuleClient]] = {}
        for row in rows:
            if not row.enabled or row.module not in registered:
                continue
            try:
                manifest = await self._catalogue.manifest(row.module, row.version)
                client = GrantedClient(
                    await self._catalogue.client(row.module, manifest),
                    row.grants,
                    community_id,
                    manifest,
                )
            except Exception:  # one module's trouble must not take the community's others
                log.exception("installed module unavailable", module=row.module)
                continue
            _add_routes(routes, client, manifest, row.renames)
            listed.extend(_renamed(client, manifest, row.renames))
            for event in row.events:
                listening.setdefault(EventType(event), []).append(client)
        return CommunityView(
            frozenset(disabled),
            routes,
            tuple(listed),
            {event: tuple(clients) for event, clients in listening.items()},
            configs,
        )

    async def _changed(self, key: str) -> None:
        if key.isdigit():
            self.forget(int(key))

    async def _catalogue_changed(self, key: str) -> None:
        self._held.clear()


def _add_routes(
    routes: dict[tuple[bool, str], CommandRoute],
    client: ModuleClient,
    manifest: Manifest,
    renames: Mapping[str, str],
) -> None:
    for spec in manifest.commands:
        for name in (spec.name, *spec.aliases):
            routes[(spec.serverless, renames.get(name, name))] = CommandRoute(spec, client)


def _renamed(
    client: ModuleClient, manifest: Manifest, renames: Mapping[str, str]
) -> list[CommandRoute]:
    """The module's commands as the community sees them: under the names it gave them."""
    return [
        CommandRoute(
            spec.model_copy(
                update={
                    "name": renames.get(spec.name, spec.name),
                    "aliases": tuple(renames.get(a, a) for a in spec.aliases),
                }
            ),
            client,
        )
        for spec in manifest.commands
    ]


class ServedCommunities:
    """Which communities one of the registry's modules serves, for its scheduled handlers
    (:class:`~waddlebot.router.schedules.ModuleCommunities`): every community that has not
    switched it off. (Catalogue modules' schedules come from
    :class:`~waddlebot.features.marketplace.schedules.InstalledSchedules`.)"""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def communities(self, module: str) -> list[int]:
        off = select(CommunityModule.community_id).where(
            CommunityModule.module == module, CommunityModule.enabled.is_(False)
        )
        on = select(Community.id).where(Community.id.not_in(off)).order_by(Community.id)
        async with self._db.read_session() as session:
            return list(await session.scalars(on))
