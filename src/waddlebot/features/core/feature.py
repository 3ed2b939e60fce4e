"""The core feature: help and the command catalogue, and the directory of communities every
other feature and the router look places up in."""

from __future__ import annotations

from waddlebot.features.core.module import build_core_module
from waddlebot.features.feature import Feature, Host
from waddlebot.features.shared import DIRECTORY
from waddlebot.infra.directory import Directory


async def setup(host: Host) -> None:
    host.provide(DIRECTORY, Directory(host.db, default_prefix=host.settings.default_prefix))
    registry = host.registry
    host.add_module(build_core_module(lambda: [r.spec for r in registry.routes()]))


FEATURE = Feature("core", setup)
