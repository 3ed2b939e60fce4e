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
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

if TYPE_CHECKING:
    import typer
    from fastapi import APIRouter
    from pydantic import BaseModel
    from starlette.requests import HTTPConnection

    from waddlebot.core.manifest import CommandSpec
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
    # how chat names a person besides ``@login``: a regular expression of the platform's
    # mention markup, its group ``id`` the person's platform id (Discord's ``<@123>``)
    mention: str = ""


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


@dataclass(frozen=True)
class CommandParts:
    """What a command of a platform's CLI group works with: the parts of a runtime that
    runs nothing (no router, no collector, no server), for the length of the command."""

    collector: CollectorParts  # to build the platform's collector from, without starting it
    commands: Sequence[CommandSpec]  # every module's commands (Discord's slash commands)


class CommandLine(Protocol):
    """What the ``waddlebot`` command hands each platform's CLI group (``cli``), so the group
    needs nothing of ``waddlebot.cli`` nor of the runtime."""

    def settings(self) -> CoreSettings:
        """The settings, read and checked as every command reads them: a problem stops the
        command with its line and exit status."""
        ...

    def runtime(self) -> AbstractAsyncContextManager[CommandParts]:
        """The database and ports (migrated or checked as the settings say), closed when the
        block ends."""
        ...

    def print_json(self, value: object) -> None:
        """Print what ``--json`` asked for, as every command prints it."""
        ...


@dataclass(frozen=True)
class SetupField:
    """A setting ``waddlebot init`` asks for when the platform is picked: written to ``.env``
    as ``WADDLEBOT_<SETTING>``, given on the command line as ``--<setting with dashes>``."""

    setting: str  # the field of the platform's settings section, e.g. ``twitch_client_id``
    question: str  # what to ask, e.g. "Client ID of your Twitch application"
    secret: bool = False  # not echoed while typed
    required: bool = True
    prefix: str = ""  # what every valid value starts with (a Slack token's ``xoxb-``)

    @property
    def variable(self) -> str:
        return f"WADDLEBOT_{self.setting.upper()}"

    @property
    def flag(self) -> str:
        return "--" + self.setting.replace("_", "-")


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
    cli: Callable[[CommandLine], typer.Typer] | None = None  # ``waddlebot <name> ...``
    settings: type[BaseModel] | None = None  # its section of :class:`~waddlebot.settings.Settings`
    setup: Sequence[SetupField] = ()  # what ``waddlebot init`` asks for
    next_steps: Sequence[str] = ()  # what to do once it runs, said by ``waddlebot init``

    @property
    def name(self) -> str:
        return self.info.name


K = TypeVar("K", bound=Collector)


class CollectorHost(Protocol):
    def collector(self, platform: PlatformPackage[K]) -> K | None:
        """The platform's collector in this process; None when it does not run here."""


def running_collector(connection: HTTPConnection, platform: PlatformPackage[K]) -> K | None:
    """The collector of ``platform`` in the process serving this request or socket."""
    host: CollectorHost = connection.app.state.runtime
    return host.collector(platform)
