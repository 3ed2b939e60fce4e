"""What a feature declares: its services and chat modules (built by :attr:`Feature.setup`
on a :class:`Host`, the runtime), its HTTP routes, its scheduled jobs, the columns that name a
person (an account merge moves them), and its settings section.

Features reach each other's services through typed :class:`Key`\\ s
(:mod:`waddlebot.features.shared`): one provides, the others need, and no feature imports
another's chat module."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypeVar, overload

if TYPE_CHECKING:
    from fastapi import APIRouter
    from pydantic import BaseModel
    from sqlalchemy.ext.asyncio import AsyncSession
    from sqlalchemy.orm import InstrumentedAttribute

    from waddlebot.core.settings import CoreSettings
    from waddlebot.infra.audit import AuditLog
    from waddlebot.infra.changes import ChangeFeed
    from waddlebot.infra.db.engine import Database
    from waddlebot.infra.ports import Ports
    from waddlebot.router.modules import ModuleRegistry
    from waddlebot.sdk import Module

T = TypeVar("T")


class Provider(Protocol):
    def need(self, key: Key[T]) -> T:
        """The service under ``key``; a feature set up earlier must have provided it."""

    def find(self, key: Key[T]) -> T | None:
        """The service under ``key``, or None when no feature provides it."""


class Key(Generic[T]):
    """Names a service of type ``T`` that one feature provides and others need. Set as a class
    attribute it also reads as one: ``identity = IDENTITY`` makes ``host.identity`` be
    ``host.need(IDENTITY)``, typed."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"Key({self.name!r})"

    @overload
    def __get__(self, host: None, owner: type) -> Key[T]: ...
    @overload
    def __get__(self, host: Provider, owner: type) -> T: ...
    def __get__(self, host: Provider | None, owner: type) -> Key[T] | T:
        return self if host is None else host.need(self)


class Host(Provider, Protocol):
    """What a feature's setup builds on: the shared ports and services, the services other
    features provided before it, and the places its module and clean-up go."""

    @property
    def settings(self) -> CoreSettings:
        """A feature reads its own section with ``settings.section(OverlaySettings)``."""

    @property
    def services(self) -> frozenset[str]:
        """The services this process runs (``api``, ``router``, ``browser_source``, …)."""

    @property
    def ports(self) -> Ports: ...
    @property
    def db(self) -> Database: ...
    @property
    def audit(self) -> AuditLog: ...
    @property
    def feed(self) -> ChangeFeed: ...
    @property
    def registry(self) -> ModuleRegistry: ...
    @property
    def direct_message_platforms(self) -> frozenset[str]:
        """Where a collector can deliver a private message."""

    def provide(self, key: Key[T], service: T) -> T: ...
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
    """An HTTP router, served by the process running ``service``; ``on_include`` runs when
    the app includes it."""

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
    every built-in is; one that is not would be switched on by its ``settings`` section."""

    name: str
    setup: Callable[[Host], Awaitable[None]] = _nothing
    always_on: bool = True
    module_role: ModuleRole = "module"
    routes: tuple[Route, ...] = ()
    jobs: tuple[Job, ...] = ()
    person_columns: tuple[InstrumentedAttribute[Any], ...] = ()
    person_merges: tuple[PersonMerge, ...] = ()
    kept_columns: tuple[tuple[InstrumentedAttribute[Any], str], ...] = ()
    settings: type[BaseModel] | None = None  # its section of the settings, if it has one

    def routes_for(self, services: Collection[str]) -> list[Route]:
        return [route for route in self.routes if route.service in services]
