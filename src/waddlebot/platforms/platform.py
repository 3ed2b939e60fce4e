"""The seam between WaddleBot and one chat platform.

A platform package (``platforms/<name>/``) declares one :class:`PlatformPackage` in its
``__init__.py``: what the rest of the bot may know about the platform (:class:`PlatformInfo`),
its settings section, when it is configured, how its :class:`Collector` is built from the
runtime's parts, its HTTP routes and its CLI group. ``platforms/__init__.py`` lists them.

The running collector only starts and stops (:class:`Collector`); everything else is known
before one runs (the app mounts routes and the CLI adds its group without starting anything),
so it is on the package, not the collector. The package's hooks import their modules when
called: reading this registry (the outbox, timers, settings) stays cheap, and py-cord or the
Slack SDK are imported only where that platform is configured.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

if TYPE_CHECKING:
    import typer
    from fastapi import APIRouter
    from pydantic import BaseModel

    from waddlebot.core.settings import CoreSettings
    from waddlebot.infra.audit import AuditLog
    from waddlebot.infra.changes import ChangeFeed
    from waddlebot.infra.completion import CompletionHub
    from waddlebot.infra.db.engine import Database
    from waddlebot.infra.ports import Ports
    from waddlebot.web.hot_paths import Endpoint


class DirectMessages(Enum):
    """When the platform's collector can deliver a private message (a verification code)."""

    WHEN_LISTED = "when listed"  # only if WADDLEBOT_DIRECT_MESSAGE_PLATFORMS names it
    WHEN_CONFIGURED = "when configured"  # whenever its collector is configured


@dataclass(frozen=True)
class PlatformInfo:
    """What the rest of the bot may know about a platform."""

    name: str  # as in events (``platform``), entity ids (``twitch:1337``) and stream keys
    max_length: int  # the longest message it takes; longer replies are split or cut
    direct_messages: DirectMessages
    # True: a place is live only while it streams (the collector sends stream_online and
    # stream_offline); False: a place always counts as live
    reports_live: bool = False
    # True: a community may give the platform's own roles a level (``!community rolelevel``)
    role_levels: bool = False
    # how a reply names a person: str.format with ``name`` (login) and ``id`` (platform id)
    mention: str = "@{name}"


class Collector(Protocol):
    """A running collector: it takes the platform's events in and sends the replies out."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class Communities(Protocol):
    """What collectors need of the communities (``CommunityService``): typed here, so no
    platform imports a feature."""

    async def attach(
        self,
        community_id: int,
        entity_id: str,
        platform: str,
        *,
        server_id: str = "",
        channel_id: str = "",
        name: str = "",
        actor: str,
    ) -> int | None:
        """Put a place whose owner proved who they are into a community."""
        ...

    async def role_levels(self, server: str) -> dict[str, int]:
        """The levels a server's roles give (``discord:<guild>``)."""
        ...


class LiveState(Protocol):
    @property
    def since(self) -> datetime | None: ...  # None: offline


class Streams(Protocol):
    """What collectors need of the live state of streams (``StreamStatus``)."""

    async def of(self, entity_id: str) -> LiveState: ...

    async def set_game(self, entity_id: str, game: str) -> None: ...


@dataclass(frozen=True)
class CollectorParts:
    """What the runtime hands a platform package to build its collector from."""

    settings: CoreSettings
    ports: Ports
    db: Database
    community: Communities
    audit: AuditLog
    streams: Streams
    completions: CompletionHub
    feed: ChangeFeed
    consumer: str  # the collector's consumer name on its reply stream


C = TypeVar("C", bound=Collector, covariant=True)


def _no_routes() -> Sequence[APIRouter]:
    return ()


def _no_hot_paths() -> Mapping[str, Endpoint]:
    return {}


@dataclass(frozen=True, eq=False)
class PlatformPackage(Generic[C]):
    """One platform, as the runtime, the app and the CLI plug it in. It is also the typed key
    of its collector: ``runtime.collector(TWITCH)`` is a ``TwitchCollector | None``."""

    info: PlatformInfo
    configured: Callable[[CoreSettings], bool]  # whether its collector runs in this deployment
    build: Callable[[CollectorParts], C]
    routes: Callable[[], Sequence[APIRouter]]  # served by its own service (webhooks, OAuth)
    api_routes: Callable[[], Sequence[APIRouter]] = _no_routes  # with the api service
    # of ``routes``, the POST endpoints the platform calls hardest (webhooks): exact path ->
    # the endpoint, served ahead of the route table (web/hot_paths.py)
    hot_paths: Callable[[], Mapping[str, Endpoint]] = _no_hot_paths
    cli: Callable[[], typer.Typer] | None = None  # ``waddlebot <name> ...``
    settings: type[BaseModel] | None = None  # its section of :class:`~waddlebot.settings.Settings`

    @property
    def name(self) -> str:
        return self.info.name
