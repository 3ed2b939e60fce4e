"""The catalogue: every module a community may have.

WaddleBot's own modules and the operator's (``WADDLEBOT_MODULES``, ``WADDLEBOT_REMOTE_MODULES``)
are listed from the running registry; HTTP modules an operator registered by their URL and
shared secret are rows, one per version their manifest announced. The router reaches a
registered module through one pooled client per module, made when first needed and dropped
when the module is registered again."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Literal, cast

import semver
import structlog
from sqlalchemy import select

from waddlebot.core.errors import Conflict, NotFound, UserError
from waddlebot.core.manifest import Manifest
from waddlebot.core.module_config import ConfigError, check_schema
from waddlebot.features.marketplace.models import CatalogueModule, CatalogueVersion
from waddlebot.infra.audit import audit_row, write_rows
from waddlebot.infra.changes import ChangeFeed
from waddlebot.infra.db.engine import Database
from waddlebot.infra.secretbox import SecretBox
from waddlebot.router.modules import ModuleClient, ModuleRegistry
from waddlebot.router.remote import HttpModuleClient, ModuleCallError, StoreGrantFor, checked_url
from waddlebot.serverless import Engine
from waddlebot.serverless.clients import FunctionClients
from waddlebot.serverless.http_function import function_url

log = structlog.get_logger("waddlebot.marketplace")

CATALOGUE_CHANGES = "catalogue"  # the change feed's kind: a registered module changed
Kind = Literal["builtin", "configured", "http", "lambda", "openwhisk", "function"]
REGISTERED_KINDS = ("http", "lambda", "openwhisk", "function")


@dataclass(frozen=True, slots=True)
class Entry:
    """A module in the catalogue. ``optional``: a community may switch it off (every module
    but WaddleBot's core ones); ``installable``: it must be installed to run (registered
    ones), where the others are on until switched off."""

    manifest: Manifest
    kind: Kind
    optional: bool = True
    versions: tuple[str, ...] = ()
    schema_errors: str = ""
    url: str = ""  # where it runs: the HTTP module's URL, the function's ARN or action URL

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def installable(self) -> bool:
        return self.kind in REGISTERED_KINDS

    def matches(self, words: str) -> bool:
        manifest = self.manifest
        text = " ".join(
            [manifest.name, manifest.description, manifest.author]
            + [c.name for c in manifest.commands]
            + [a for c in manifest.commands for a in c.aliases]
        ).lower()
        return all(word in text for word in words.lower().split())


def schema_errors(schema: dict[str, object]) -> str:
    """Why a manifest's ``config_schema`` is no valid JSON Schema ('' when it is)."""
    try:
        check_schema(schema)
    except ConfigError as exc:
        return str(exc)[:500]
    return ""


def version_key(version: str) -> semver.Version:
    return semver.Version.parse(version)


class Catalogue:
    def __init__(
        self,
        db: Database,
        registry: ModuleRegistry,
        feed: ChangeFeed,
        box: Callable[[], SecretBox],
        *,
        core_modules: Collection[str],
        timeout: float,
        store_grants: StoreGrantFor | None = None,
        guard: Callable[[ModuleClient], ModuleClient] = lambda client: client,
        forget: Callable[[str], None] = lambda name: None,
        functions: FunctionClients | None = None,
    ) -> None:
        self._functions = functions  # how serverless functions are reached (None: they are not)
        self._store_grants = store_grants  # how its modules reach their ctx.store
        # the breaker, concurrency cap and timeout every external module runs behind, and
        # what drops its figures when it is registered again
        self._guard, self._forget_health = guard, forget
        self._db = db
        self._registry = registry
        self._feed = feed
        self._box = box
        self._core = frozenset(core_modules)
        self._timeout = timeout
        self._clients: dict[str, ModuleClient] = {}
        self._manifests: dict[tuple[str, str], Manifest] = {}
        feed.watch(CATALOGUE_CHANGES, self._forget_client)

    # -- reading --------------------------------------------------------------------------

    def running(self) -> builtins.list[Entry]:
        """The registry's modules: WaddleBot's own and the operator's."""
        return [
            Entry(
                client.manifest,
                "builtin" if self._registry.is_builtin(client.name) else "configured",
                optional=client.name not in self._core,
            )
            for client in self._registry.clients()
        ]

    async def registered(self) -> builtins.list[Entry]:
        async with self._db.read_session() as session:
            modules = (await session.scalars(select(CatalogueModule))).all()
            versions = (await session.scalars(select(CatalogueVersion))).all()
        by_module: dict[str, builtins.list[CatalogueVersion]] = {}
        for row in versions:
            by_module.setdefault(row.module, []).append(row)
        entries = []
        for module in modules:
            rows = sorted(by_module.get(module.name, []), key=lambda r: version_key(r.version))
            latest = next((r for r in rows if r.version == module.latest_version), rows[-1])
            entries.append(
                Entry(
                    Manifest.model_validate(latest.manifest),
                    cast(Kind, module.kind),
                    versions=tuple(r.version for r in rows),
                    schema_errors=latest.schema_errors,
                    url=module.url,
                )
            )
        return entries

    async def entries(self) -> builtins.list[Entry]:
        return sorted([*self.running(), *await self.registered()], key=lambda e: e.name)

    async def search(self, words: str) -> builtins.list[Entry]:
        return [entry for entry in await self.entries() if entry.matches(words)]

    async def get(self, name: str) -> Entry:
        name = name.lower()
        for entry in await self.entries():
            if entry.name == name:
                return entry
        raise NotFound(f"there is no module called {name!r} in the catalogue")

    async def manifest(self, name: str, version: str) -> Manifest:
        """A registered module's manifest as it was at ``version`` (kept once read: a
        registered version never changes)."""
        known = self._manifests.get((name, version))
        if known is not None:
            return known
        async with self._db.read_session() as session:
            row = await session.scalar(
                select(CatalogueVersion).where(
                    CatalogueVersion.module == name, CatalogueVersion.version == version
                )
            )
        if row is None:
            raise NotFound(f"{name} has no version {version} in the catalogue")
        manifest = self._manifests[(name, version)] = Manifest.model_validate(row.manifest)
        return manifest

    # -- registering ----------------------------------------------------------------------

    async def register(self, url: str, secret: str, *, actor: str) -> Entry:
        """Fetch the manifest at ``url`` (signed with ``secret``) and add the module, or its
        new version, to the catalogue. A version already registered must not have changed."""
        try:
            url = checked_url(url)
        except ValueError as exc:
            raise UserError(f"{url!r} {exc}") from exc
        try:
            client = await HttpModuleClient.connect(
                url, secret.encode(), timeout=self._timeout, attempts=2
            )
        except ModuleCallError as exc:  # the operator's URL or secret: theirs to fix
            raise UserError(exc.reason) from exc
        try:
            manifest = client.manifest
        finally:
            await client.close()
        return await self._add("http", url, secret, manifest, actor=actor)

    async def register_function(
        self, engine: Engine, target: str, secret: str = "", *, actor: str
    ) -> Entry:
        """Ask a serverless function for its manifest (``MANIFEST_REQUEST``) and add it, or
        its new version, to the catalogue. ``target``: a Lambda function's ARN or name, or an
        OpenWhisk action's URL (``FunctionClients.openwhisk_target``), or an HTTP function's
        URL; ``secret``: what it needs besides (OpenWhisk's ``uuid:key`` API key, the HTTP
        function's shared secret)."""
        functions = self._functions
        if functions is None:
            raise UserError("this bot runs no serverless functions")
        if engine == "function":
            try:
                target = function_url(target)
            except ValueError as exc:
                raise UserError(f"{target!r} {exc}") from exc
            if not secret:
                raise UserError("an HTTP function needs the secret its calls are signed with")
        try:
            client = functions.client(engine, target, secret, timeout=self._timeout)
        except ValueError as exc:
            raise UserError(str(exc)) from exc
        try:
            manifest = await client.fetch_manifest()
        except (ModuleCallError, TimeoutError) as exc:  # the operator's target or key
            raise UserError(str(exc)) from exc
        finally:
            await client.close()
        if not any(command.serverless for command in manifest.commands):
            raise UserError(
                f"{manifest.name} declares no # command: a serverless function's commands are "
                "typed with # (CommandSpec serverless=True)"
            )
        return await self._add(engine, target, secret, manifest, actor=actor)

    async def _add(
        self, kind: Kind, url: str, secret: str, manifest: Manifest, *, actor: str
    ) -> Entry:
        name = manifest.name
        if name in {c.name for c in self._registry.clients()}:
            raise Conflict(f"{name!r} is the name of a module the bot runs already")
        try:
            version_key(manifest.version)
        except ValueError as exc:
            raise UserError(
                f"{name} says its version is {manifest.version!r}, which is not semver (like 1.2.0)"
            ) from exc
        sealed = self._box().encrypt(secret)
        announced = manifest.model_dump(mode="json")
        errors = schema_errors(manifest.config_schema)
        async with self._db.session() as session:
            module = await session.get(CatalogueModule, name)
            known = await session.scalar(
                select(CatalogueVersion).where(
                    CatalogueVersion.module == name, CatalogueVersion.version == manifest.version
                )
            )
            if known is not None and known.manifest != announced:
                raise Conflict(
                    f"{name} {manifest.version} is registered already with another manifest; "
                    "give the new one a new version"
                )
            if module is None:
                module = CatalogueModule(name=name, kind=kind, url=url, registered_by=actor)
                session.add(module)
            module.kind, module.url, module.secret_sealed = kind, url, sealed
            latest = module.latest_version
            if not latest or version_key(manifest.version) > version_key(latest):
                module.latest_version = manifest.version
            if known is None:
                session.add(
                    CatalogueVersion(
                        module=name,
                        version=manifest.version,
                        manifest=announced,
                        schema_errors=errors,
                    )
                )
            await session.flush()
            detail = {"version": manifest.version, "kind": kind, "url": module.url}
            await write_rows(
                session,
                [
                    audit_row(
                        "marketplace.register",
                        decision="allow",
                        actor=actor,
                        target=name,
                        detail=detail,
                    )
                ],
            )
        await self._feed.publish(CATALOGUE_CHANGES, name)
        log.info("module registered", module=name, version=manifest.version)
        return await self.get(name)

    # -- calling --------------------------------------------------------------------------

    async def client(self, name: str, manifest: Manifest) -> ModuleClient:
        """The pooled client of a registered module."""
        client = self._clients.get(name)
        if client is None:
            async with self._db.read_session() as session:
                row = await session.get(CatalogueModule, name)
            if row is None:
                raise NotFound(f"there is no module called {name!r} in the catalogue")
            secret = self._box().decrypt(row.secret_sealed)
            if row.kind == "http":
                client = self._guard(
                    HttpModuleClient(
                        row.url,
                        secret.encode(),
                        self._timeout,
                        manifest=manifest,
                        store_grants=self._store_grants,
                    )
                )
            elif self._functions is not None:
                client = self._functions.accounted(
                    self._guard(
                        self._functions.client(
                            cast(Engine, row.kind),
                            row.url,
                            secret,
                            timeout=self._timeout,
                            manifest=manifest,
                            store_grants=self._store_grants,
                        )
                    )
                )
            else:
                raise NotFound(f"{name} is a serverless function, and this bot runs none")
            self._clients[name] = client
        return client

    async def _forget_client(self, name: str) -> None:
        client = self._clients.pop(name, None)
        if client is not None:
            self._forget_health(name)
            await client.close()

    async def close(self) -> None:
        for name in list(self._clients):
            await self._forget_client(name)
