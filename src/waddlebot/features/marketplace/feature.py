"""The marketplace feature: the catalogue, each community's modules, ``!module`` and
``/api/v1/marketplace``; the router asks it which modules a community has on."""

from __future__ import annotations

from waddlebot.features import builtin_features
from waddlebot.features.feature import Feature, Host, PortalPage, Route
from waddlebot.features.marketplace import api, functions_page, portal
from waddlebot.features.marketplace.catalogue import Catalogue
from waddlebot.features.marketplace.installs import Installs
from waddlebot.features.marketplace.module import build_marketplace_module
from waddlebot.features.marketplace.schedules import InstalledSchedules
from waddlebot.features.marketplace.views import CommunityViews, ServedCommunities
from waddlebot.features.shared import (
    CATALOGUE,
    FUNCTION_BUDGETS,
    FUNCTION_USAGE,
    INSTALLS,
    MODULE_COMMUNITIES,
    MODULE_HEALTH,
    MODULE_STORE,
    MODULE_VIEWS,
    SCHEDULED_MODULES,
    STORE_GRANTS,
)
from waddlebot.infra.secretbox import SecretBox
from waddlebot.serverless.accounting import Accounting
from waddlebot.serverless.budgets import Budgets
from waddlebot.serverless.clients import FunctionClients
from waddlebot.serverless.settings import ServerlessSettings


async def setup(host: Host) -> None:
    settings = host.settings
    serverless = settings.section(ServerlessSettings)
    budgets = host.provide(
        FUNCTION_BUDGETS,
        Budgets(host.db, host.feed, default=serverless.function_daily_budget),
    )
    usage = host.provide(FUNCTION_USAGE, Accounting(host.ports.cache, budgets.of))
    catalogue = host.provide(
        CATALOGUE,
        Catalogue(
            host.db,
            host.registry,
            host.feed,
            lambda: SecretBox.from_settings(settings),
            core_modules={f.name for f in builtin_features() if f.always_on},
            timeout=settings.http_module_timeout,
            store_grants=grants.grant if (grants := host.find(STORE_GRANTS)) else None,
            guard=host.guard,
            forget=host.module_health.forget,
            functions=FunctionClients(serverless, usage),
        ),
    )
    host.on_stop(catalogue.close)
    views = CommunityViews(host.db, catalogue, host.feed)
    host.provide(MODULE_VIEWS, views)
    host.provide(MODULE_COMMUNITIES, ServedCommunities(host.db))
    host.provide(MODULE_HEALTH, host.shared_health)
    host.provide(SCHEDULED_MODULES, InstalledSchedules(host.db, catalogue))
    installs = host.provide(INSTALLS, Installs(host.db, catalogue, views, host.registry, host.feed))
    if (store := host.find(MODULE_STORE)) is not None:  # --purge forgets what it kept
        installs.on_purge(lambda community_id, name: store.purge(name, community_id))
    host.add_module(
        build_marketplace_module(
            catalogue, installs, host.shared_health.described, budgets=budgets, usage=usage
        )
    )


FEATURE = Feature(
    "marketplace",
    setup,
    routes=(Route(api.router),),
    pages=(
        PortalPage("/modules", "Modules", portal.router, role="moderator"),
        PortalPage("/functions", "Serverless", functions_page.router, role="moderator"),
    ),
)
