"""The Kong feature: with ``WADDLEBOT_KONG_ADMIN_URLS`` set, new API keys are sealed for Kong
(``KEY_SEALER``) and a job pushes the configuration to every node every few seconds, so a
key created or revoked reaches Kong within seconds. It is set up before identity, which
seals with it."""

from __future__ import annotations

import httpx2

from waddlebot.features.feature import Feature, Host, Job, Key, Provider
from waddlebot.features.kong.admin import KongAdmin
from waddlebot.features.kong.broker import KongBroker
from waddlebot.features.kong.declarative import declarative_config
from waddlebot.features.kong.sealing import key_sealer
from waddlebot.features.kong.settings import KongSettings
from waddlebot.features.shared import KEY_SEALER, ROUTE_TABLES

KONG_BROKER: Key[KongBroker] = Key("kong broker")
ADMIN_TIMEOUT = 10.0


async def setup(host: Host) -> None:
    settings = host.settings
    own = settings.section(KongSettings)
    box = host.provide(KEY_SEALER, key_sealer(settings))
    if box is None:
        return
    http = httpx2.AsyncClient(timeout=ADMIN_TIMEOUT)
    host.on_stop(http.aclose)

    def routes() -> dict[str, object]:
        # the app provides each service's route table once it is built (app.py)
        return declarative_config(host.need(ROUTE_TABLES)(), own.kong_upstream)

    host.provide(
        KONG_BROKER,
        KongBroker(
            host.db,
            box,
            KongAdmin(http, own.kong_admin_token.get_secret_value()),
            own.kong_admin_urls,
            routes,
            every=own.kong_sync_seconds,
        ),
    )


async def sync(host: Provider) -> None:
    broker = host.find(KONG_BROKER)
    if broker is None or host.find(ROUTE_TABLES) is None:
        return  # the broker is off, or this process serves no app to take the routes from
    await broker.sync_if_due()


FEATURE = Feature(
    "kong",
    setup,
    jobs=(Job("kong sync", 0, sync),),  # every tick; the broker keeps to its own interval
    settings=KongSettings,
)
