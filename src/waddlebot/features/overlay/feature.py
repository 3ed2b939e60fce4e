"""The overlay feature: browser-source pages OBS shows on stream, and their secret URLs; the
``browser_source`` service serves the pages and fans updates out to them."""

from __future__ import annotations

from waddlebot.features.feature import Feature, Host, PortalPage, Route
from waddlebot.features.overlay import api, portal, web
from waddlebot.features.overlay.hub import OverlayHub
from waddlebot.features.overlay.media import MediaLibrary
from waddlebot.features.overlay.module import build_overlay_module
from waddlebot.features.overlay.settings import OverlaySettings
from waddlebot.features.overlay.tokens import OverlayTokens
from waddlebot.features.shared import OVERLAY_HUB, OVERLAY_MEDIA, OVERLAY_TOKENS, OVERLAYS
from waddlebot.infra.objects import build_object_store
from waddlebot.infra.secretbox import SecretBox
from waddlebot.router.overlays import OverlayPublisher


async def setup(host: Host) -> None:
    settings, ports = host.settings, host.ports
    own = settings.section(OverlaySettings)
    overlays = host.provide(
        OVERLAYS,
        OverlayPublisher(
            ports.cache,
            ports.broadcast,
            max_bytes=own.overlay_max_message_bytes,
            ticker_per_minute=own.overlay_ticker_per_minute,
        ),
    )
    tokens = host.provide(
        OVERLAY_TOKENS,
        OverlayTokens(host.db, overlays, lambda: SecretBox.from_settings(settings)),
    )
    store = build_object_store(settings)
    host.on_stop(store.close)
    host.provide(OVERLAY_MEDIA, MediaLibrary(store, own, host.audit))
    module = build_overlay_module(
        tokens,
        base_url=settings.public_base_url(own.overlay_public_url),
        direct_message_platforms=host.direct_message_platforms,
    )
    host.add_module(module)
    hub = None
    if "browser_source" in host.services:
        hub = OverlayHub(
            ports.broadcast,
            ports.cache,
            max_connections=own.overlay_max_connections,
            queue_size=own.overlay_send_queue,
            heartbeat=own.overlay_heartbeat_seconds,
        )
        await hub.start()
        host.on_stop(hub.stop)
    host.provide(OVERLAY_HUB, hub)


FEATURE = Feature(
    "overlay",
    setup,
    always_on=False,
    routes=(
        Route(web.router, "browser_source", on_include=web.hide_tokens_in_logs),
        Route(api.router),
    ),
    settings=OverlaySettings,
    pages=(PortalPage("/overlays", "Overlays", portal.router, role="moderator"),),
)
