"""The scheduled handlers of installed catalogue modules, for the router's module schedules
(:class:`~waddlebot.router.schedules.ScheduledModules`): each module a community installed
and has on, with the schedules of the version it installed, called as that community granted."""

from __future__ import annotations

import structlog
from sqlalchemy import select, true

from waddlebot.features.marketplace.catalogue import Catalogue
from waddlebot.features.marketplace.granted import GrantedClient
from waddlebot.features.marketplace.models import CatalogueModule, CommunityModule
from waddlebot.infra.db.engine import Database
from waddlebot.router.schedules import Served

log = structlog.get_logger("waddlebot.marketplace")


class InstalledSchedules:
    def __init__(self, db: Database, catalogue: Catalogue) -> None:
        self._db = db
        self._catalogue = catalogue
        # a registered version's manifest never changes (registering it again with another
        # is refused), so each is read once

    async def scheduled(self) -> list[Served]:
        async with self._db.read_session() as session:
            installed = (
                await session.execute(
                    select(
                        CommunityModule.community_id,
                        CommunityModule.module,
                        CommunityModule.version,
                        CommunityModule.grants,
                    )
                    .join(CatalogueModule, CatalogueModule.name == CommunityModule.module)
                    .where(CommunityModule.enabled == true())
                    .order_by(CommunityModule.module, CommunityModule.community_id)
                )
            ).all()
        served = []
        for community_id, module, version, grants in installed:
            try:
                manifest = await self._catalogue.manifest(module, version)
                if not manifest.schedules:
                    continue
                client = await self._catalogue.client(module, manifest)
            except Exception:  # one module's trouble must not stop the others' schedules
                log.exception("installed module unavailable", module=module)
                continue
            granted = GrantedClient(client, grants, community_id, manifest)
            served.append(Served(module, community_id, granted, manifest.schedules))
        return served
