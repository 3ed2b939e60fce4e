"""What a feature declares: its services and chat modules (built by :attr:`Feature.setup`
on a :class:`Host`, the runtime), its HTTP routes, its scheduled jobs, the columns that name a
person (an account merge moves them), and its settings section.

Features reach each other's services through typed :class:`Key`\\ s
(:mod:`waddlebot.features.shared`): one provides, the others need, and no feature imports
another's chat module."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

from waddlebot.core.services import Key, Provider
from waddlebot.core.tools import Tool
from waddlebot.infra.host import ProcessHost
from waddlebot.portal.pages import PortalPage

__all__ = [
    "Feature",
    "Host",
    "Job",
    "Key",
    "PersonMerge",
    "PortalPage",
    "Provider",
    "Route",
    "Tool",
]

if TYPE_CHECKING:
    from fastapi import APIRouter
    from pydantic import BaseModel
    from sqlalchemy.ext.asyncio import AsyncSession
    from sqlalchemy.orm import InstrumentedAttribute

    from waddlebot.infra.changes import ChangeFeed
    from waddlebot.router.breaker import ModuleHealth
    from waddlebot.router.modules import ModuleClient, ModuleRegistry
    from waddlebot.router.shared_health import SharedHealth
    from waddlebot.sdk import Module

T = TypeVar("T")


class Host(ProcessHost, Protocol):
    """What a feature's setup builds on: the shared ports and services, the services other
    features provided before it, and the places its module and clean-up go."""

    @property
    def services(self) -> frozenset[str]:
        """The services this process runs (``api``, ``router``, ``browser_source``, …)."""

    @property
    def feed(self) -> ChangeFeed: ...
    @property
    def registry(self) -> ModuleRegistry: ...
    @property
    def direct_message_platforms(self) -> frozenset[str]:
        """Where a collector can deliver a private message."""

    def provide(self, key: Key[T], service: T) -> T: ...
    @property
    def module_health(self) -> ModuleHealth:
        """Each external module's breaker state, errors and latency in this process."""

    @property
    def shared_health(self) -> SharedHealth:
        """Module health over every live router process, this one's included."""

    def guard(self, client: ModuleClient) -> ModuleClient:
        """An external module's client behind its timeout, concurrency cap and breaker."""

    def add_module(self, module: Module) -> None:
        """Register the feature's chat module, in the role its feature declares."""

    def on_stop(self, stop: Callable[[], Awaitable[object]]) -> None:
        """Run ``stop`` when the process stops (in reverse order of registration)."""


@dataclass(frozen=True, slots=True)
class Job:
    """A periodic job: ``run(host)`` every ``seconds`` (0: every scheduler tick), by the one
    process that holds the scheduler's lease."""

    name: str
    seconds: float
    run: Callable[[Provider], Awaitable[object]]


@dataclass(frozen=True, slots=True)
class Route:
    r"""An HTTP router, served by the process running ``service``; ``on_include`` runs when
    the app includes it. A router of the ``portal`` service (pages outside a community, such
    as sign-in) gets the portal's CSRF guard; a community's pages are :class:`PortalPage`\ s."""

    router: APIRouter
    service: str = "api"
    on_include: Callable[[], None] | None = None


class MergeRun(Protocol):
    def __call__(
        self, session: AsyncSession, dialect: str, *, keep: int, drop: int
    ) -> Awaitable[None]: ...


@dataclass(frozen=True, slots=True)
class PersonMerge:
    """A merge of its own for ``columns`` (rows a person may hold only once per thing):
    ``run(session, dialect, keep=, drop=)`` moves user ``drop``'s rows to user ``keep``."""

    columns: tuple[InstrumentedAttribute[Any], ...]
    run: MergeRun


# How the runtime registers a feature's module: as any other, as the one that answers
# ``!`` commands nobody declares, or as the one the community's aliases go to.
ModuleRole = Literal["module", "fallback", "aliases"]


async def _nothing(host: Host) -> None:
    return None


@dataclass(frozen=True, slots=True)
class Feature:
    """One built-in feature. ``person_columns`` are moved to the user that stays by a plain
    update when two users become one; ``person_merges`` move the rest; ``kept_columns`` name
    columns that look like a person but are not moved, each with the reason. ``always_on``:
    part of the bot's core; a community may switch any other feature's module off (the
    marketplace, ``!module disable``), and it is on until it does."""

    name: str
    setup: Callable[[Host], Awaitable[None]] = _nothing
    always_on: bool = True
    module_role: ModuleRole = "module"
    routes: tuple[Route, ...] = ()
    pages: tuple[PortalPage, ...] = ()  # a community's pages in the portal (docs/portal.md)
    jobs: tuple[Job, ...] = ()
    tools: tuple[Tool, ...] = ()  # for models and outside assistants (core/tools.py)
    person_columns: tuple[InstrumentedAttribute[Any], ...] = ()
    person_merges: tuple[PersonMerge, ...] = ()
    kept_columns: tuple[tuple[InstrumentedAttribute[Any], str], ...] = ()
    settings: type[BaseModel] | None = None  # its section of the settings, if it has one

    def routes_for(self, services: Collection[str]) -> list[Route]:
        return [route for route in self.routes if route.service in services]
