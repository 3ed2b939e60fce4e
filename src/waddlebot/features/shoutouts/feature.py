"""The shoutouts feature: the ``shoutouts`` module (a marketplace module, on where a
community enables it) and the job that sends the Twitch shoutouts waiting for their turn."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx2

from waddlebot.core.clock import SystemClock
from waddlebot.core.services import Key, Provider
from waddlebot.features.feature import Feature, Host, Job
from waddlebot.features.overlay.settings import OverlaySettings
from waddlebot.features.shared import IDENTITY
from waddlebot.features.shoutouts.module import build_shoutouts_module
from waddlebot.features.shoutouts.schedule import ShoutoutSchedule
from waddlebot.features.shoutouts.service import Shoutouts
from waddlebot.features.shoutouts.targets import twitch_names
from waddlebot.platforms.twitch.client import twitch_api
from waddlebot.platforms.twitch.settings import TwitchSettings

SHOUTOUTS: Key[Shoutouts] = Key("shoutouts")
QUEUE_SECONDS = 10.0  # how often the queued shoutouts are looked at


async def setup(host: Host) -> None:
    settings = host.settings
    api = None
    if settings.section(TwitchSettings).twitch_configured:
        http = httpx2.AsyncClient(timeout=10.0)
        host.on_stop(http.aclose)
        api = twitch_api(settings, host.db, http, SystemClock())
    shoutouts = host.provide(
        SHOUTOUTS, Shoutouts(api, ShoutoutSchedule(host.ports.cache, host.ports.lease))
    )
    overlay_url = settings.public_base_url(settings.section(OverlaySettings).overlay_public_url)
    host.add_module(
        build_shoutouts_module(
            shoutouts,
            twitch_names(host.need(IDENTITY)),
            overlay_host=urlsplit(overlay_url).hostname or "localhost",
        )
    )


async def _send_queued(host: Provider) -> None:
    await host.need(SHOUTOUTS).send_due()


FEATURE = Feature(
    "shoutouts",
    setup,
    always_on=False,
    jobs=(Job("shoutouts.queue", QUEUE_SECONDS, _send_queued),),
)
