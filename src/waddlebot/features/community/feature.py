"""The community feature: its places, name, roles, and whether its streams are live."""

from __future__ import annotations

from waddlebot.features.community.module import build_community_module
from waddlebot.features.community.service import CommunityService
from waddlebot.features.community.streams import StreamStatus
from waddlebot.features.community.tools import TOOLS
from waddlebot.features.feature import Feature, Host
from waddlebot.features.shared import COMMUNITY, DIRECTORY, IDENTITY, STREAMS


async def setup(host: Host) -> None:
    community = host.provide(
        COMMUNITY,
        CommunityService(
            host.db, host.need(DIRECTORY), host.ports.cache, host.audit, feed=host.feed
        ),
    )
    host.provide(STREAMS, StreamStatus(host.db, host.ports.cache))
    host.add_module(build_community_module(community, host.need(IDENTITY).find_user))


FEATURE = Feature("community", setup, tools=TOOLS)
