"""What a community has switched on: the modules the router may call for its events.

The router asks a :class:`ModuleViews` (the marketplace provides one) for the view of every
community in a batch. A view says whether one of the bot's modules is enabled there, which
commands and listeners the community installed from the catalogue, and each module's settings
for it. Without a marketplace every module is on everywhere (:data:`EVERYTHING`)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any, Protocol

from waddlebot.core.events import EventType
from waddlebot.router.modules import CommandRoute, ModuleClient, ModuleRegistry


class ModuleView(Protocol):
    def enabled(self, module: str) -> bool:
        """Whether the module (one of the registry's) may run in this community."""

    def command(self, serverless: bool, name: str) -> CommandRoute | None:
        """The route of a command an installed catalogue module provides here."""

    def commands(self) -> Sequence[CommandRoute]:
        """The commands installed catalogue modules provide here, each spec under the names
        it has here (to list them: a module is called with the spec of :meth:`command`)."""

    def listeners(self, event_type: EventType) -> Sequence[ModuleClient]:
        """Installed catalogue modules allowed to read ``event_type`` here."""

    def config(self, module: str) -> Mapping[str, Any]:
        """The community's settings for the module (``ModuleRequest.config``)."""


class ModuleViews(Protocol):
    def cached(self, community_id: int) -> ModuleView | None:
        """The view, when this process holds a fresh one (no waiting)."""

    async def views(self, community_ids: Collection[int]) -> Mapping[int, ModuleView]:
        """The views of these communities, loading those not held."""


async def views_of(views: ModuleViews, community_ids: Collection[int]) -> dict[int, ModuleView]:
    """The views of these communities: those the process holds, the others loaded."""
    found: dict[int, ModuleView] = {}
    missing = []
    for community_id in community_ids:
        view = views.cached(community_id)
        if view is None:
            missing.append(community_id)
        else:
            found[community_id] = view
    if missing:
        found.update(await views.views(missing))
    return found


class _Everything:
    """Every registered module on, nothing installed, no settings."""

    __slots__ = ()

    def enabled(self, module: str) -> bool:
        return True

    def command(self, serverless: bool, name: str) -> CommandRoute | None:
        return None

    def commands(self) -> Sequence[CommandRoute]:
        return ()

    def listeners(self, event_type: EventType) -> Sequence[ModuleClient]:
        return ()

    def config(self, module: str) -> Mapping[str, Any]:
        return {}


EVERYTHING: ModuleView = _Everything()


async def view_of(views: ModuleViews | None, community_id: int) -> ModuleView:
    """The community's view: the one held, else loaded (:data:`EVERYTHING` without views)."""
    if views is None:
        return EVERYTHING
    held = views.cached(community_id)
    return held if held is not None else (await views.views([community_id]))[community_id]


def commands_in(registry: ModuleRegistry, view: ModuleView) -> list[CommandRoute]:
    """Every command a community can run, once each, sorted as the registry sorts them: those
    of the registry's modules it has on, and those of the catalogue modules it installed
    (under their names here; one of these wins a name, as in routing)."""
    found = {
        (route.spec.serverless, route.spec.name): route
        for route in registry.routes()
        if view.enabled(route.module)
    }
    found.update({(route.spec.serverless, route.spec.name): route for route in view.commands()})
    return sorted(found.values(), key=lambda r: (r.spec.serverless, r.spec.name))
