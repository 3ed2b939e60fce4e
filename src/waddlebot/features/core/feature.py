"""The core feature: help and the command catalogue, and the directory of communities every
other feature and the router look places up in."""

from __future__ import annotations

from waddlebot.core.manifest import CommandSpec
from waddlebot.features.core.module import build_core_module
from waddlebot.features.feature import Feature, Host
from waddlebot.features.shared import DIRECTORY, MODULE_VIEWS
from waddlebot.infra.directory import Directory
from waddlebot.router.views import commands_in, view_of


async def setup(host: Host) -> None:
    host.provide(DIRECTORY, Directory(host.db, default_prefix=host.settings.default_prefix))
    registry = host.registry

    async def commands_here(community_id: int) -> list[CommandSpec]:
        # the marketplace is set up after core: its views are looked up when help is asked
        view = await view_of(host.find(MODULE_VIEWS), community_id)
        return [route.spec for route in commands_in(registry, view)]

    host.add_module(build_core_module(commands_here))


FEATURE = Feature("core", setup)
