"""``waddlebot community export|import|backups``: a community as one JSON document in the
object store, a file or an S3 URL, and back (features/community/archive.py); and the
scheduled backups, listed and restored (features/community/backups.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from urllib.parse import unquote, urlsplit

import typer

from waddlebot.cli.failures import CommandFailed
from waddlebot.cli.host import print_json, read_settings
from waddlebot.settings import Settings

if TYPE_CHECKING:
    from waddlebot.features.community.archive import Restored
    from waddlebot.features.community.backups import Backup
    from waddlebot.features.overlay.media import MediaLibrary
    from waddlebot.infra.objects import ObjectStore

community_app = typer.Typer(
    help="A community's data: export, import and backups.", no_args_is_help=True
)


@community_app.command("export")
def community_export(
    community_id: Annotated[int, typer.Argument(metavar="ID", help="the community's id")],
    to: Annotated[
        str | None,
        typer.Option(
            "--to",
            metavar="URL|PATH",
            help="s3://bucket/key or a file (default: the object store, "
            "exports/community-ID/<time>.json)",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON for scripts")] = False,
) -> None:
    """Write one JSON document of a community's data (never its secrets)."""
    where, rows, files = asyncio.run(_export(read_settings(quiet=True), community_id, to))
    if as_json:
        print_json({"community_id": community_id, "url": where, "rows": rows, "media": files})
        return
    typer.echo(f"Exported community {community_id} ({rows} rows, {files} media files) to {where}")


@community_app.command("import")
def community_import(
    source: Annotated[
        str, typer.Argument(metavar="FILE|URL", help="a file, file:// or s3://bucket/key")
    ],
    as_new: Annotated[
        bool, typer.Option("--as-new", help="a new community, instead of under its own id")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="JSON for scripts")] = False,
) -> None:
    """Restore a community from an export, in one transaction."""
    _print_restored(asyncio.run(_import(read_settings(quiet=True), source, as_new)), as_json)


@community_app.command("backups")
def community_backups(
    community_id: Annotated[int, typer.Argument(metavar="ID", help="the community's id")],
    restore: Annotated[
        str | None,
        typer.Option(
            "--restore",
            metavar="NAME|latest",
            help="restore this backup (as `community import` does) instead of listing",
        ),
    ] = None,
    as_new: Annotated[
        bool, typer.Option("--as-new", help="restore as a new community, not under its own id")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="JSON for scripts")] = False,
) -> None:
    """List a community's scheduled backups (oldest first), or restore one."""
    settings = read_settings(quiet=True)
    if restore is not None:
        _print_restored(
            asyncio.run(_restore_backup(settings, community_id, restore, as_new)), as_json
        )
        return
    where, backups = asyncio.run(_backups(settings, community_id))
    if as_json:
        print_json(
            [
                {
                    "name": backup.name,
                    "taken_at": backup.taken_at.isoformat(),
                    "size": backup.size,
                    "url": url,
                }
                for backup, url in backups
            ]
        )
        return
    if not backups:
        typer.echo(
            f"No backups of community {community_id} in {where} (WADDLEBOT_BACKUPS makes them)."
        )
        return
    for backup, url in backups:
        typer.echo(
            f"{backup.name}  {backup.taken_at:%Y-%m-%d %H:%M:%S} UTC  {backup.size} bytes  {url}"
        )


def _print_restored(restored: Restored, as_json: bool) -> None:
    total = sum(restored.rows.values())
    if as_json:
        print_json(
            {
                "community_id": restored.community_id,
                "rows": restored.rows,
                "users_created": restored.users_created,
                "users_matched": restored.users_matched,
                "media": restored.media,
            }
        )
        return
    typer.echo(
        f"Imported community {restored.community_id}: {total} rows, {restored.media} media "
        f"files, {restored.users_created} people added, {restored.users_matched} already here."
    )


async def _export(settings: Settings, community_id: int, to: str | None) -> tuple[str, int, int]:
    """Where the export went, its rows and its media files."""
    from waddlebot.cli.bootstrap import open_database
    from waddlebot.features.community.archive import (
        CONTENT_TYPE,
        count_rows,
        encode,
        export_community,
    )

    db = await open_database(settings)
    library = _media_library(settings)
    try:
        document = await export_community(db, community_id, library)
    finally:
        await db.close()
        await library.close()
    data = encode(document)
    if to is not None and _s3_url(to) is None:
        path = _local_path(to)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        except OSError as exc:
            raise CommandFailed(f"cannot write {path}: {exc.strerror or exc}") from exc
        return str(path), count_rows(document), len(document["media"])
    from waddlebot.infra.objects import ObjectStoreError

    store, key = _store_for(settings, to, community_id)
    try:
        await store.put(key, data, CONTENT_TYPE)
        return store.url_of(key), count_rows(document), len(document["media"])
    except ObjectStoreError as exc:
        raise CommandFailed(str(exc)) from exc
    finally:
        await store.close()


async def _backups(settings: Settings, community_id: int) -> tuple[str, list[tuple[Backup, str]]]:
    """Where the store is, and the community's backups in it with their URLs."""
    from waddlebot.features.community.backups import list_backups
    from waddlebot.infra.objects import ObjectStoreError, build_object_store

    store = build_object_store(settings)
    try:
        found = await list_backups(store, community_id)
        return store.location, [(backup, store.url_of(backup.key)) for backup in found]
    except ObjectStoreError as exc:
        raise CommandFailed(str(exc)) from exc
    finally:
        await store.close()


async def _restore_backup(
    settings: Settings, community_id: int, name: str, as_new: bool
) -> Restored:
    from waddlebot.features.community.backups import list_backups
    from waddlebot.infra.objects import ObjectNotFound, ObjectStoreError, build_object_store

    store = build_object_store(settings)
    try:
        found = await list_backups(store, community_id)
        wanted = name.removesuffix(".json")
        chosen = found[-1:] if wanted == "latest" else [b for b in found if b.name == wanted]
        if not chosen:
            raise CommandFailed(
                f"there is no backup {name!r} of community {community_id}: "
                f"`waddlebot community backups {community_id}` lists them"
            )
        data = (await store.get(chosen[0].key)).data
    except ObjectNotFound as exc:
        raise CommandFailed(f"the backup {name!r} is gone from the store") from exc
    except ObjectStoreError as exc:
        raise CommandFailed(str(exc)) from exc
    finally:
        await store.close()
    return await _restore(settings, data, as_new)


async def _import(settings: Settings, source: str, as_new: bool) -> Restored:
    from waddlebot.infra.objects import ObjectNotFound, ObjectStoreError

    s3 = _s3_url(source)
    if s3 is None:
        path = _local_path(source)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CommandFailed(f"cannot read {path}: {exc.strerror or exc}") from exc
    else:
        store, key = _store_for(settings, source, 0)
        try:
            data = (await store.get(key)).data
        except ObjectNotFound as exc:
            raise CommandFailed(f"there is no {source}") from exc
        except ObjectStoreError as exc:
            raise CommandFailed(str(exc)) from exc
        finally:
            await store.close()
    return await _restore(settings, data, as_new)


async def _restore(settings: Settings, data: bytes, as_new: bool) -> Restored:
    """An export's bytes restored: ``community import`` and ``community backups --restore``."""
    from waddlebot.cli.bootstrap import open_database
    from waddlebot.features.community.archive import decode, import_community

    document = decode(data)
    db = await open_database(settings)
    library = _media_library(settings)
    try:
        return await import_community(db, document, as_new=as_new, media=library)
    finally:
        await db.close()
        await library.close()


def _media_library(settings: Settings) -> MediaLibrary:
    """The overlay files of the configured object store, for an export or an import."""
    from waddlebot.features.overlay.media import MediaLibrary
    from waddlebot.features.overlay.settings import OverlaySettings
    from waddlebot.infra.objects import build_object_store

    return MediaLibrary(build_object_store(settings), settings.section(OverlaySettings))


def _s3_url(text: str) -> tuple[str, str] | None:
    """(bucket, key) of ``s3://bucket/key``; None for anything else."""
    parts = urlsplit(text)
    if parts.scheme != "s3":
        return None
    key = parts.path.lstrip("/")
    if not parts.netloc or not key:
        raise CommandFailed(f"{text!r}: an S3 URL is s3://bucket/key")
    return parts.netloc, key


def _local_path(text: str) -> Path:
    parts = urlsplit(text)
    if parts.scheme == "file":
        return Path(unquote(parts.path))
    if parts.scheme and len(parts.scheme) > 1:  # not a Windows drive letter
        raise CommandFailed(f"{text!r}: give a file, a file:// URL or s3://bucket/key")
    return Path(text)


def _store_for(settings: Settings, url: str | None, community_id: int) -> tuple[ObjectStore, str]:
    """The object store and key an export goes to (or an import comes from)."""
    from waddlebot.features.community.archive import object_key
    from waddlebot.infra.objects import InvalidKey, build_object_store, check_key
    from waddlebot.infra.objects_s3 import S3ObjectStore

    if url is None:
        return build_object_store(settings), object_key("exports", community_id, datetime.now(UTC))
    bucket, key = _s3_url(url) or ("", "")
    try:
        check_key(key)
    except InvalidKey as exc:
        raise CommandFailed(f"{url!r}: {exc}") from exc
    store = S3ObjectStore(
        bucket,
        region=settings.object_store_region or None,
        endpoint_url=settings.object_store_endpoint_url or None,
    )
    return store, key
