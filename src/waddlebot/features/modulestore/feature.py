"""The module store feature: what modules remember (``ctx.store``) in the database, the
endpoint modules served over HTTP reach it through, and the job that drops expired keys."""

from __future__ import annotations

from waddlebot.features.feature import Feature, Host, Job, Provider, Route
from waddlebot.features.modulestore import api
from waddlebot.features.modulestore.grants import StoreGrants
from waddlebot.features.modulestore.service import SqlStore
from waddlebot.features.modulestore.settings import ModuleStoreSettings
from waddlebot.features.shared import MODULE_STORE, STORE_GRANTS
from waddlebot.infra.secretbox import SecretBox
from waddlebot.sdk.store import Limits


async def setup(host: Host) -> None:
    settings = host.settings
    own = settings.section(ModuleStoreSettings)
    limits = Limits(
        total_bytes=own.module_store_total_bytes, value_bytes=own.module_store_value_bytes
    )
    host.provide(MODULE_STORE, SqlStore(host.db, limits))
    grants = StoreGrants(
        lambda: SecretBox.from_settings(settings),
        settings.public_base_url(own.module_store_url),
        own.module_store_grant_seconds,
    )
    host.provide(STORE_GRANTS, grants)


async def purge_expired(host: Provider) -> None:
    await host.need(MODULE_STORE).purge_expired()


FEATURE = Feature(
    "modulestore",
    setup,
    routes=(Route(api.router),),
    jobs=(Job("module store expiry", 300, purge_expired),),
)
