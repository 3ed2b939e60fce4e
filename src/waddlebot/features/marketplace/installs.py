"""What each community does with the catalogue: install (after reviewing what a module asks
for), configure, switch on and off, upgrade and uninstall. Every change is audited and drops the
community's view in every router at once (:mod:`.views`)."""

from __future__ import annotations

import builtins
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from waddlebot.core.errors import Conflict, NotAllowed, NotFound, UserError
from waddlebot.core.manifest import NAME_PATTERN, Manifest
from waddlebot.core.module_config import validated_config
from waddlebot.features.marketplace.catalogue import Catalogue, Entry, version_key
from waddlebot.features.marketplace.config import coerced
from waddlebot.features.marketplace.models import CommunityModule
from waddlebot.features.marketplace.views import MODULE_CHANGES, CommunityViews
from waddlebot.infra.audit import audit_row, write_rows
from waddlebot.infra.changes import ChangeFeed
from waddlebot.infra.db.engine import Database
from waddlebot.router.modules import ModuleRegistry

Purge = Callable[[int, str], Awaitable[object]]
"""Deletes what a module stored for a community (``community_id``, ``module``)."""


class CommandClash(Conflict):
    """A command of the module another module has here; ``command`` is its name in the
    module (what an ``as <command>=<new name>`` renames)."""

    def __init__(self, message: str, command: str) -> None:
        super().__init__(message)
        self.command = command


class BadRename(UserError):
    """A rename the module cannot take; ``command`` is the command it was for."""

    def __init__(self, message: str, command: str) -> None:
        super().__init__(message)
        self.command = command


@dataclass(frozen=True, slots=True)
class Review:
    """What installing (or upgrading to) a version means: the commands it adds (under the
    names they get here), the events it reads and what it may do. ``new``: what it asks for
    beyond what the community granted before (all of it for an install)."""

    manifest: Manifest
    commands: tuple[str, ...]
    events: tuple[str, ...]
    permissions: tuple[str, ...]
    new: tuple[str, ...] = ()
    renames: Mapping[str, str] = field(default_factory=dict)  # its commands' names here


@dataclass(frozen=True, slots=True)
class Installed:
    """A module as a community has it."""

    entry: Entry
    enabled: bool
    version: str
    installed: bool  # a registered module installed here; WaddleBot's own always are
    config: Mapping[str, Any] = field(default_factory=dict)
    grants: tuple[str, ...] = ()
    renames: Mapping[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.entry.name


class Installs:
    def __init__(
        self,
        db: Database,
        catalogue: Catalogue,
        views: CommunityViews,
        registry: ModuleRegistry,
        feed: ChangeFeed,
    ) -> None:
        self._db = db
        self._catalogue = catalogue
        self._views = views
        self._registry = registry
        self._feed = feed
        self._purges: list[Purge] = []

    def on_purge(self, purge: Purge) -> None:
        """Have ``purge`` called when a community uninstalls a module with ``--purge``."""
        self._purges.append(purge)

    # -- reading --------------------------------------------------------------------------

    async def list(self, community_id: int) -> builtins.list[Installed]:
        """Every module on or installed in the community, switched-off ones included."""
        rows = await self._rows(community_id)
        found = []
        for entry in await self._catalogue.entries():
            row = rows.get(entry.name)
            if entry.installable and row is None:
                continue
            found.append(_installed(entry, row))
        return found

    async def get(self, community_id: int, name: str) -> Installed:
        entry = await self._catalogue.get(name)
        row = (await self._rows(community_id)).get(entry.name)
        if entry.installable and row is None:
            raise NotFound(f"{entry.name} is not installed here")
        return _installed(entry, row)

    async def manifest_here(self, installed: Installed) -> Manifest:
        """The manifest of the version the community runs: the catalogue's newest until an
        upgrade is pending, then the one installed (what its commands and asks still are)."""
        entry = installed.entry
        if not entry.installable or installed.version == entry.manifest.version:
            return entry.manifest
        return await self._catalogue.manifest(entry.name, installed.version)

    async def review(
        self, community_id: int, name: str, renames: Mapping[str, str] | None = None
    ) -> Review:
        """What installing ``name`` would add; refused when it cannot be installed here."""
        entry = await self._installable(name)
        rows = await self._rows(community_id)
        if entry.name in rows:
            raise Conflict(f"{entry.name} is installed here already")
        renames = _checked_renames(entry.manifest, renames or {})
        await self._refuse_clashes(entry.manifest, renames, rows)
        return _review(entry.manifest, renames, granted=())

    # -- changing -------------------------------------------------------------------------

    async def install(
        self,
        community_id: int,
        name: str,
        *,
        actor: str,
        renames: Mapping[str, str] | None = None,
    ) -> Installed:
        """Install the latest version, granting what its review shows (the caller showed
        it and the admin confirmed)."""
        review = await self.review(community_id, name, renames)
        manifest = review.manifest
        row = CommunityModule(
            community_id=community_id,
            module=manifest.name,
            version=manifest.version,
            grants=list(review.permissions),
            events=list(review.events),
            renames=dict(review.renames),
            config={},
            installed_by=actor,
        )
        async with self._db.session() as session:
            session.add(row)
            await self._audited(session, "marketplace.install", community_id, actor, manifest.name)
        await self._changed(community_id)
        return await self.get(community_id, manifest.name)

    async def upgrade_review(self, community_id: int, name: str) -> Review:
        """What moving to the latest version would add (``new`` empty: nothing to confirm)."""
        installed = await self.get(community_id, name)
        entry = installed.entry
        if not entry.installable:
            raise UserError(f"{entry.name} is part of the bot and always at its version")
        if version_key(entry.manifest.version) <= version_key(installed.version):
            raise Conflict(f"{entry.name} is at its latest version ({installed.version}) here")
        rows = await self._rows(community_id)
        row = rows[entry.name]
        # a command the new version no longer has takes its rename with it
        names = _command_names(entry.manifest)
        renames = {old: new for old, new in row.renames.items() if old in names}
        await self._refuse_clashes(entry.manifest, renames, rows, leaving=entry.name)
        return _review(entry.manifest, renames, granted=(*row.grants, *row.events))

    async def upgrade(self, community_id: int, name: str, *, actor: str) -> Installed:
        """Move to the latest version, granting what it asks for (the admin confirmed
        anything new the review showed)."""
        review = await self.upgrade_review(community_id, name)
        async with self._db.session() as session:
            row = await self._row(session, community_id, review.manifest.name)
            row.version = review.manifest.version
            row.grants, row.events = list(review.permissions), list(review.events)
            row.renames = dict(review.renames)
            await self._audited(
                session, "marketplace.upgrade", community_id, actor, row.module, version=row.version
            )
        await self._changed(community_id)
        return await self.get(community_id, name)

    async def set_enabled(
        self, community_id: int, name: str, enabled: bool, *, actor: str
    ) -> Installed:
        entry = await self._catalogue.get(name)
        if not entry.optional:
            raise NotAllowed(f"{entry.name} is part of the bot's core and always on")
        async with self._db.session() as session:
            row = await self._row(session, community_id, entry.name, create=not entry.installable)
            row.enabled = enabled
            if enabled:
                await self._audited(session, "marketplace.enable", community_id, actor, row.module)
            else:
                await self._audited(session, "marketplace.disable", community_id, actor, row.module)
        await self._changed(community_id)
        return await self.get(community_id, entry.name)

    async def configure(
        self, community_id: int, name: str, values: Mapping[str, Any], *, actor: str
    ) -> Installed:
        """Set settings of the module here (typed chat words are coerced by its
        ``config_schema``); the whole result must fit the schema."""
        entry = await self._catalogue.get(name)
        schema = entry.manifest.config_schema
        if not schema:
            raise UserError(f"{entry.name} has no settings")
        async with self._db.session() as session:
            row = await self._row(session, community_id, entry.name, create=not entry.installable)
            config = {**row.config, **{k: coerced(schema, k, v) for k, v in values.items()}}
            validated_config(schema, config)  # the defaults stay the module's, not stored
            row.config = config
            await self._audited(
                session, "marketplace.config", community_id, actor, entry.name, keys=sorted(values)
            )
        await self._changed(community_id)
        return await self.get(community_id, entry.name)

    async def uninstall(self, community_id: int, name: str, *, actor: str, purge: bool) -> None:
        """Remove a registered module from the community; what it stored stays unless
        ``purge``."""
        entry = await self._catalogue.get(name)
        if not entry.installable:
            raise NotAllowed(f"{entry.name} is part of the bot; switch it off with disable instead")
        async with self._db.session() as session:
            row = await self._row(session, community_id, entry.name)
            await session.delete(row)
            await self._audited(
                session, "marketplace.uninstall", community_id, actor, entry.name, purge=purge
            )
        if purge:
            for purged in self._purges:
                await purged(community_id, entry.name)
        await self._changed(community_id)

    # -- helpers --------------------------------------------------------------------------

    async def _installable(self, name: str) -> Entry:
        entry = await self._catalogue.get(name)
        if not entry.installable:
            raise Conflict(f"{entry.name} is part of the bot and always installed; enable it")
        if entry.schema_errors:
            raise UserError(
                f"{entry.name} {entry.manifest.version} has an invalid config_schema "
                f"({entry.schema_errors}); its author must fix it"
            )
        return entry

    async def _refuse_clashes(
        self,
        manifest: Manifest,
        renames: Mapping[str, str],
        rows: Mapping[str, CommunityModule],
        *,
        leaving: str = "",
    ) -> None:
        """Refuse a command another module has here, naming both and how to rename."""
        taken: dict[tuple[bool, str], str] = {}
        for route in self._registry.routes():
            for alias in (route.spec.name, *route.spec.aliases):
                taken[(route.spec.serverless, alias)] = route.module
        for other, row in rows.items():
            if other == leaving or other == manifest.name:
                continue
            try:
                theirs = await self._catalogue.manifest(other, row.version)
            except NotFound:
                continue
            for spec in theirs.commands:
                for alias in (spec.name, *spec.aliases):
                    taken[(spec.serverless, row.renames.get(alias, alias))] = other
        for spec in manifest.commands:
            for alias in (spec.name, *spec.aliases):
                here = renames.get(alias, alias)
                owner = taken.get((spec.serverless, here))
                if owner is not None:
                    shown = f"{'#' if spec.serverless else '!'}{here}"
                    raise CommandClash(
                        f"{shown} of {manifest.name} clashes with {shown} of {owner}; install "
                        f"it with as {alias}=<new name>",
                        alias,
                    )

    async def _rows(self, community_id: int) -> dict[str, CommunityModule]:
        async with self._db.read_session() as session:
            found = await session.scalars(
                select(CommunityModule).where(CommunityModule.community_id == community_id)
            )
            return {row.module: row for row in found}

    async def _row(
        self, session: Any, community_id: int, name: str, *, create: bool = False
    ) -> CommunityModule:
        row = await session.scalar(
            select(CommunityModule).where(
                CommunityModule.community_id == community_id, CommunityModule.module == name
            )
        )
        if row is None:
            if not create:
                raise NotFound(f"{name} is not installed here")
            row = CommunityModule(
                community_id=community_id,
                module=name,
                enabled=True,
                grants=[],
                events=[],
                renames={},
                config={},
            )
            session.add(row)
        return row

    async def _audited(
        self, session: Any, action: str, community_id: int, actor: str, name: str, **detail: Any
    ) -> None:
        await session.flush()
        await write_rows(
            session,
            [
                audit_row(
                    action,
                    decision="allow",
                    actor=actor,
                    target=name,
                    community_id=community_id,
                    detail=detail or None,
                )
            ],
        )

    async def _changed(self, community_id: int) -> None:
        self._views.forget(community_id)
        await self._feed.publish(MODULE_CHANGES, str(community_id))


def _installed(entry: Entry, row: CommunityModule | None) -> Installed:
    if row is None:
        return Installed(entry, enabled=True, version=entry.manifest.version, installed=True)
    return Installed(
        entry,
        enabled=row.enabled,
        version=row.version or entry.manifest.version,
        installed=True,
        config=row.config,
        grants=tuple(row.grants),
        renames=row.renames,
    )


def _command_names(manifest: Manifest) -> set[str]:
    return {alias for spec in manifest.commands for alias in (spec.name, *spec.aliases)}


def _checked_renames(manifest: Manifest, renames: Mapping[str, str]) -> dict[str, str]:
    names = _command_names(manifest)
    checked = {}
    for old, new in renames.items():
        if old not in names:
            raise BadRename(f"{manifest.name} has no command {old!r} to rename", old)
        if not re.fullmatch(NAME_PATTERN, new):
            raise BadRename(f"{new!r} cannot be a command name (a-z, 0-9, _ and -)", old)
        checked[old] = new
    return checked


def commands_here(manifest: Manifest, renames: Mapping[str, str]) -> tuple[str, ...]:
    """The module's commands as a community calls them (``!name``, ``#name``, renamed)."""
    return tuple(
        f"{'#' if spec.serverless else '!'}{renames.get(spec.name, spec.name)}"
        for spec in manifest.commands
    )


def _review(manifest: Manifest, renames: Mapping[str, str], *, granted: tuple[str, ...]) -> Review:
    commands = commands_here(manifest, renames)
    events = tuple(str(event) for event in manifest.events)
    permissions = tuple(str(p) for p in manifest.permissions)
    new = tuple(p for p in (*permissions, *events) if p not in granted)
    return Review(manifest, commands, events, permissions, new, renames)
