"""The alias feature: a community's Linux-style aliases of other commands."""

from __future__ import annotations

from waddlebot.features.alias import portal
from waddlebot.features.alias.module import build_alias_module
from waddlebot.features.alias.service import AliasService
from waddlebot.features.feature import Feature, Host, PortalPage
from waddlebot.features.shared import ALIAS_INDEX, ALIASES, COMMANDS


async def setup(host: Host) -> None:
    aliases = host.provide(
        ALIASES, AliasService(host.db, host.ports.cache, host.audit, feed=host.feed)
    )
    host.provide(ALIAS_INDEX, aliases)

    async def custom_exists(community_id: int, name: str) -> bool:
        commands = host.find(COMMANDS)
        return commands is not None and await commands.get(community_id, name) is not None

    module = build_alias_module(
        aliases, reserved=host.registry.declared_names, custom_exists=custom_exists
    )
    host.add_module(module)


FEATURE = Feature(
    "alias",
    setup,
    always_on=False,
    module_role="aliases",
    pages=(PortalPage("/aliases", "Aliases", portal.router, role="moderator"),),
)
