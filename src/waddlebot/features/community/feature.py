"""The community feature: its places, name, roles, whether its streams are live, and its
scheduled backups (when ``WADDLEBOT_BACKUPS`` is on)."""

from __future__ import annotations

from waddlebot.features.community import platforms_page, portal
from waddlebot.features.community.backups import Backups
from waddlebot.features.community.module import build_community_module
from waddlebot.features.community.service import CommunityService
from waddlebot.features.community.settings import BackupSettings
from waddlebot.features.community.streams import StreamStatus
from waddlebot.features.community.tools import TOOLS
from waddlebot.features.feature import Feature, Host, Job, Key, PortalPage, Provider
from waddlebot.features.overlay.media import MediaLibrary
from waddlebot.features.overlay.settings import OverlaySettings
from waddlebot.features.shared import COMMUNITY, DIRECTORY, IDENTITY, STREAMS
from waddlebot.infra.objects import build_object_store

BACKUPS: Key[Backups] = Key("community backups")
BACKUP_CHECK_SECONDS = 300  # how often the job looks for a community due a backup


async def setup(host: Host) -> None:
    community = host.provide(
        COMMUNITY,
        CommunityService(
            host.db, host.need(DIRECTORY), host.ports.cache, host.audit, feed=host.feed
        ),
    )
    host.provide(STREAMS, StreamStatus(host.db, host.ports.cache))
    host.add_module(build_community_module(community, host.need(IDENTITY).find_user))
    settings = host.settings
    own = settings.section(BackupSettings)
    if own.backups and "router" in host.services:  # the scheduler runs in router processes
        store = build_object_store(settings)
        host.on_stop(store.close)
        media = MediaLibrary(store, settings.section(OverlaySettings))
        host.provide(BACKUPS, Backups(host.db, store, media, own))


async def back_up(host: Provider) -> None:
    backups = host.find(BACKUPS)
    if backups is not None:
        await backups.run_due()


FEATURE = Feature(
    "community",
    setup,
    jobs=(Job("community backups", BACKUP_CHECK_SECONDS, back_up),),
    tools=TOOLS,
    settings=BackupSettings,
    pages=(
        PortalPage("/people", "People", portal.router, role="moderator"),
        PortalPage("/platforms", "Platforms", platforms_page.router, role="admin"),
    ),
)
