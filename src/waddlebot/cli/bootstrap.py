"""First-run chores and API-key commands for the CLI."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from waddlebot.features.identity import apikeys
from waddlebot.features.kong.sealing import key_sealer
from waddlebot.infra.db.engine import Database
from waddlebot.infra.db.migrate import current_async, upgrade
from waddlebot.infra.db.problems import database_reached, schema_problem
from waddlebot.settings import Settings

if TYPE_CHECKING:
    from waddlebot.features.marketplace.catalogue import Catalogue, Entry
    from waddlebot.serverless import Engine

log = structlog.get_logger("waddlebot.bootstrap")


def key_file(settings: Settings) -> Path:
    return Path(settings.data_dir) / "api-key"


async def open_database(settings: Settings) -> Database:
    """The database, migrated on start or checked to be at the newest migration."""
    with database_reached(settings.database_url):
        if settings.migrate_on_start:
            await asyncio.to_thread(upgrade, settings.database_url)
        elif (problem := schema_problem(await current_async(settings.database_url))) is not None:
            raise problem
    return Database.from_settings(settings)


async def ensure_api_key(settings: Settings) -> None:
    """On a first start with no key at all, create one and write it to ``<data_dir>/api-key``
    (readable by this user only), so ``waddlebot chat --url`` works out of the box."""
    if settings.api_key.get_secret_value():
        return
    db = await open_database(settings)
    try:
        if await apikeys.count_keys(db, kind="service"):
            return
        _, plaintext = await apikeys.create_key(db, "local", sealer=key_sealer(settings))
    finally:
        await db.close()
    path = key_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # the mode above only applies to a new file, not an existing one
    with os.fdopen(fd, "w") as handle:
        handle.write(plaintext + "\n")
    log.info("created the first API key", path=str(path))


async def create_key(
    settings: Settings, name: str, community_id: int | None = None, role: str = "admin"
) -> str:
    db = await open_database(settings)
    try:
        _, plaintext = await apikeys.create_key(
            db,
            name,
            community_id=community_id,
            role=role,
            actor="cli",
            sealer=key_sealer(settings),
        )
    finally:
        await db.close()
    return plaintext


async def list_keys(settings: Settings) -> list[apikeys.ApiKeyInfo]:
    db = await open_database(settings)
    try:
        return await apikeys.list_keys(db)
    finally:
        await db.close()


def key_summary(key: apikeys.ApiKeyInfo) -> dict[str, Any]:
    """A key as ``apikey list --json`` shows it (never its secret, which is not kept)."""
    status = "revoked" if key.revoked else "expired" if key.expired() else "active"
    return {
        "key_id": key.key_id,
        "name": key.name,
        "status": status,
        "kind": key.kind,
        "role": key.role or ("admin" if key.kind == "service" else ""),
        "community_id": key.community_id,
        "user_id": key.user_id,
        "scopes": list(key.scopes),
        "created_at": key.created_at,
        "last_used_at": key.last_used_at,
        "expires_at": key.expires_at,
        "revoked_at": key.revoked_at,
    }


async def revoke_key(settings: Settings, key_id: str) -> bool:
    db = await open_database(settings)
    try:
        return await apikeys.revoke_key(db, key_id)
    finally:
        await db.close()


async def register_module(settings: Settings, url: str, secret: str) -> dict[str, object]:
    """Add the HTTP module served at ``url`` (or its new version) to the catalogue, as
    ``POST /api/v1/marketplace/catalogue`` does; what the catalogue now says of it."""
    return await _registered(
        settings, lambda catalogue: catalogue.register(url, secret, actor="cli")
    )


async def register_function(
    settings: Settings, engine: Engine, target: str, api_key: str
) -> dict[str, object]:
    """Add a serverless function (or its new version) to the catalogue, as
    ``POST /api/v1/marketplace/catalogue/functions`` does."""
    return await _registered(
        settings,
        lambda catalogue: catalogue.register_function(engine, target, api_key, actor="cli"),
    )


async def _registered(
    settings: Settings, register: Callable[[Catalogue], Awaitable[Entry]]
) -> dict[str, object]:
    from waddlebot.features.shared import CATALOGUE
    from waddlebot.runtime import Runtime

    runtime = await Runtime.start(settings, services=())
    try:
        entry = await register(runtime.need(CATALOGUE))
    finally:
        await runtime.stop()
    return {
        "name": entry.name,
        "kind": entry.kind,
        "version": entry.manifest.version,
        "versions": list(entry.versions),
    }
