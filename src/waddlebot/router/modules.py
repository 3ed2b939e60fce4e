"""How the router reaches a module: in-process, or over HTTP (``!`` modules); and the registry
that maps command names and event types to modules."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

import structlog

from waddlebot.core.contract import ModuleRequest, ModuleResponse
from waddlebot.core.events import EventType
from waddlebot.core.manifest import CommandSpec, Manifest
from waddlebot.core.parser import SERVERLESS_PREFIX
from waddlebot.sdk import Module
from waddlebot.sdk.store import StoreBackend

log = structlog.get_logger(__name__)


class ModuleClient(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def manifest(self) -> Manifest: ...

    async def call(self, request: ModuleRequest) -> ModuleResponse: ...

    async def close(self) -> None: ...


class LocalModuleClient:
    """A module running in this process; ``store`` keeps what its ``ctx.store`` remembers."""

    def __init__(self, module: Module, store: StoreBackend | None = None) -> None:
        self._module = module
        self._manifest = module.manifest
        self._store = store

    @property
    def name(self) -> str:
        return self._manifest.name

    @property
    def manifest(self) -> Manifest:
        return self._manifest

    async def call(self, request: ModuleRequest) -> ModuleResponse:
        return await self._module.handle(request, store=self._store)

    async def start(self) -> None:
        """Run the module's start hooks (``@module.on_start``)."""
        await self._module.start()

    async def close(self) -> None:
        """Run the module's stop hooks (``@module.on_stop``), if it was started."""
        await self._module.stop()


class WrappedClient:
    """A module client around another: the same module (name, manifest), closed with it; a
    subclass changes what ``call`` does (a breaker, a community's grants)."""

    def __init__(self, client: ModuleClient) -> None:
        self._client = client

    @property
    def name(self) -> str:
        return self._client.name

    @property
    def manifest(self) -> Manifest:
        return self._client.manifest

    @property
    def inner(self) -> ModuleClient:
        return self._client

    async def close(self) -> None:
        await self._client.close()


@dataclass(frozen=True, slots=True)
class CommandRoute:
    spec: CommandSpec
    client: ModuleClient
    fallback: bool = False  # a name no module declares, offered to the fallback module
    alias: bool = False  # a community's alias, run by the alias module

    @property
    def module(self) -> str:
        return self.client.name


class ModuleRegistry:
    """Which module owns which command (and alias) and who listens to which event type."""

    def __init__(self, clients: Iterable[ModuleClient] = ()) -> None:
        self._clients: dict[str, ModuleClient] = {}
        self._commands: dict[tuple[bool, str], CommandRoute] = {}
        self._listeners: dict[EventType, list[ModuleClient]] = {}
        self._fallback: ModuleClient | None = None
        self._aliases: ModuleClient | None = None
        self._builtin: set[str] = set()
        for client in clients:
            self.add(client)

    def add(self, client: ModuleClient, *, builtin: bool = False) -> None:
        """Register a module. ``builtin`` marks WaddleBot's own modules, whose actions the
        router trusts more (running another command, changing the community)."""
        manifest = client.manifest
        if manifest.name in self._clients:
            raise ValueError(f"module {manifest.name!r} is registered twice")
        routes: dict[tuple[bool, str], CommandRoute] = {}
        for spec in manifest.commands:
            for name in (spec.name, *spec.aliases):
                key = (spec.serverless, name.lower())
                owner = self._commands.get(key) or routes.get(key)
                if owner is not None:
                    raise ValueError(
                        f"command {name!r} of module {manifest.name!r} is already "
                        f"provided by module {owner.module!r}"
                    )
                routes[key] = CommandRoute(spec, client)
        self._clients[manifest.name] = client
        if builtin:
            self._builtin.add(manifest.name)
        self._commands.update(routes)
        for event_type in manifest.events:
            self._listeners.setdefault(event_type, []).append(client)

    def command(self, prefix: str, name: str) -> CommandRoute | None:
        """The module behind ``!name`` (or ``#name``). A ``!`` command no module declares
        goes to the fallback module, if one is set (the custom commands a community
        defines at run time); it answers nothing when it does not know the name either."""
        route = self._commands.get((prefix == SERVERLESS_PREFIX, name))
        return route if route is not None else self.fallback_route(prefix, name)

    def fallback_route(self, prefix: str, name: str) -> CommandRoute | None:
        """``!name`` offered to the fallback module, if one is set."""
        if self._fallback is None or prefix == SERVERLESS_PREFIX:
            return None
        return CommandRoute(CommandSpec(name=name), self._fallback, fallback=True)

    def declared_names(self) -> set[str]:
        """Names and aliases of every ``!`` command a module declares (a custom command may
        not take one)."""
        return {
            name
            for route in self.routes()
            if not route.spec.serverless
            for name in (route.spec.name, *route.spec.aliases)
        }

    def is_builtin(self, name: str) -> bool:
        return name in self._builtin

    def set_fallback(self, client: ModuleClient) -> None:
        """Send ``!`` commands no module declares to ``client`` (it must be registered)."""
        if self._clients.get(client.name) is not client:
            raise ValueError(f"module {client.name!r} is not registered")
        self._fallback = client

    def set_aliases(self, client: ModuleClient) -> None:
        """Send the community's aliases (``!name`` lines the alias index knows) to ``client``."""
        if self._clients.get(client.name) is not client:
            raise ValueError(f"module {client.name!r} is not registered")
        self._aliases = client

    def alias_route(self, name: str) -> CommandRoute | None:
        """The route of an alias called ``name``: the alias module's fallback handler."""
        if self._aliases is None:
            return None
        return CommandRoute(CommandSpec(name=name), self._aliases, alias=True)

    def listeners(self, event_type: EventType) -> list[ModuleClient]:
        return self._listeners.get(event_type, [])

    def routes(self) -> list[CommandRoute]:
        """Every command once (aliases folded), sorted by name."""
        unique = {(r.spec.serverless, r.spec.name): r for r in self._commands.values()}
        return sorted(unique.values(), key=lambda r: (r.spec.serverless, r.spec.name))

    def clients(self) -> list[ModuleClient]:
        return list(self._clients.values())

    async def start(self) -> None:
        """Start the in-process modules (their ``on_start`` hooks), in registration order."""
        for client in self._clients.values():
            if isinstance(client, LocalModuleClient):
                await client.start()

    async def close(self) -> None:
        """Close every module, the last registered first; one failing to close (a stop
        hook raising) is logged and does not keep the others open."""
        for client in reversed(self._clients.values()):
            try:
                await client.close()
            except Exception:
                log.exception("module did not close cleanly", module=client.name)
