"""The commands feature: a community's custom commands, which also answer every ``!``
command no module declares."""

from __future__ import annotations

from waddlebot.features.commands import api, portal
from waddlebot.features.commands.module import build_commands_module
from waddlebot.features.commands.service import CustomCommandService
from waddlebot.features.commands.tools import TOOLS
from waddlebot.features.feature import Feature, Host, PortalPage, Route
from waddlebot.features.shared import ALIASES, COMMANDS, CUSTOM_COMMAND_NAMES, STREAMS
from waddlebot.infra.urlfetch import UrlFetcher


async def setup(host: Host) -> None:
    commands = host.provide(
        COMMANDS, CustomCommandService(host.db, host.audit, host.ports.cache, feed=host.feed)
    )
    host.provide(CUSTOM_COMMAND_NAMES, commands)

    async def alias_exists(community_id: int, name: str) -> bool:
        aliases = host.find(ALIASES)
        return aliases is not None and await aliases.lookup(community_id, name) is not None

    module = build_commands_module(
        commands,
        UrlFetcher(),
        reserved=host.registry.declared_names,
        alias_exists=alias_exists,
        streams=host.need(STREAMS),
    )
    host.add_module(module)


FEATURE = Feature(
    "commands",
    setup,
    always_on=False,
    module_role="fallback",
    routes=(Route(api.router),),
    tools=TOOLS,
    pages=(
        PortalPage("/commands", "Commands", portal.commands_router, role="moderator"),
        PortalPage("/commands/import", "Import commands", portal.import_router, role="admin"),
    ),
)
