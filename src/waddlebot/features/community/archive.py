"""A community as one JSON document, and back: ``waddlebot community export|import``
(docs/cli.md, docs/deployment.md#backups).

The document (``format: waddlebot-community``, ``version: 2``) holds the community's own row,
the people it mentions (each with their platform accounts, never their logins), the rows
of every table in :data:`PARTS`, in the order they are restored, and its overlay media
(``media``: each uploaded image and sound with its media id, type, size and bytes in base64;
version 1 had none, and is read still). Rows keep their original ids
as references: an import gives every row a new id and rewrites the references to match, so a
community can be restored into another database or copied as a new one into the same.

What is left out, and why, is :data:`LEFT_OUT` (written into each document too): secrets
and credentials above all (API keys, platform tokens, overlay and calendar-feed tokens, portal
logins), and state that belongs to the running bot rather than to the community.
"""

from __future__ import annotations

import binascii
from base64 import b64decode, b64encode
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Table, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from waddlebot.core.errors import WaddleError
from waddlebot.features import load_models
from waddlebot.features.overlay.media import MediaLibrary, MediaRefused, is_media_id
from waddlebot.infra.db.engine import Database
from waddlebot.infra.db.models import UtcDateTime

FORMAT = "waddlebot-community"
VERSION = 2
READS = (1, 2)  # the versions an import reads
CONTENT_TYPE = "application/json"
_STAMP = "%Y%m%dT%H%M%SZ"  # an export's time in its key: exports/community-3/20250101T120000Z.json


def object_key(folder: str, community_id: int, at: datetime) -> str:
    """Where in the object store a document of ``at`` goes (``exports``, ``backups``)."""
    return f"{folder}/community-{community_id}/{at.astimezone(UTC).strftime(_STAMP)}.json"


def time_of(key: str) -> datetime | None:
    """The time in a key :func:`object_key` made; None for any other key."""
    name = key.rpartition("/")[2].removesuffix(".json")
    try:
        return datetime.strptime(name, _STAMP).replace(tzinfo=UTC)
    except ValueError:
        return None


@dataclass(frozen=True)
class Part:
    """One table of a community. ``parent``: the column that ties a row to an earlier part's
    row (``note_id`` to ``notes``) when the table has no ``community_id`` of its own; ``key``:
    the id column an import gives anew; ``refs``: columns naming another part's row (a table
    name) or a person (``users``); ``reset``: run-time state cleared on import."""

    table: str
    key: str | None = "id"
    parent: tuple[str, str] | None = None
    refs: Mapping[str, str] = field(default_factory=dict)
    reset: Mapping[str, Any] = field(default_factory=dict)


PARTS: tuple[Part, ...] = (
    Part("entities", key=None),  # a place's id is the platform's: kept as it is
    Part("memberships", key=None, refs={"user_id": "users"}),
    Part("module_settings", key=None),
    Part("community_modules"),
    Part("labels"),
    Part("custom_commands"),
    Part("counters", key=None),
    Part("aliases"),
    Part("timers", refs={"entity_id": "entities"}),
    Part("memory_counters", key=None),
    Part("quotes", refs={"said_by_user_id": "users", "added_by_user_id": "users"}),
    Part("urls", refs={"added_by_user_id": "users"}),
    Part("notes", refs={"added_by_user_id": "users"}),
    Part("note_labels", key=None, refs={"note_id": "notes"}),
    Part(
        "reminders",
        refs={"entity_id": "entities", "created_by_user_id": "users"},
        reset={"claimed_by": "", "claimed_until": None},
    ),
    Part("inventory_items", refs={"holder_user_id": "users"}),
    Part(
        "inventory_item_labels",
        key=None,
        parent=("item_id", "inventory_items"),
        refs={"item_id": "inventory_items"},
    ),
    Part(
        "inventory_checkouts",
        parent=("item_id", "inventory_items"),
        refs={"item_id": "inventory_items", "user_id": "users"},
    ),
    Part(
        "calendar_events",
        refs={"entity_id": "entities", "creator_user_id": "users"},
    ),
    Part(
        "calendar_attendees",
        key=None,
        parent=("event_id", "calendar_events"),
        refs={"event_id": "calendar_events", "user_id": "users"},
    ),
    Part("label_assignments", refs={"label_id": "labels"}),
)

# a label's target_id names a row of another part (or a person) by its id
_LABEL_TARGETS = {"user": "users", "item": "inventory_items", "event": "calendar_events"}

LEFT_OUT: dict[str, str] = {
    "api_keys": "secrets: make new keys with `waddlebot apikey create`",
    "platform_tokens": "secrets: connect the bot and the channels again (OAuth)",
    "overlay_tokens": "secrets: `!overlay rotate` makes a new overlay URL",
    "calendar_feeds": "secrets: `!calendar feed` makes a new feed URL",
    "accounts": "portal logins and password hashes are the person's, not the community's",
    "link_codes": "one-time codes, short-lived",
    "module_store, module_store_usage": "modules' private data, in each module's own format",
    "audit_log": "the trail stays with the database it was written in",
    "stream_states, module_schedule_runs, twitch_subscriptions": "run-time state, rebuilt",
}


class ArchiveRefused(WaddleError):
    """The document cannot be exported or restored as asked; the message says why."""


@dataclass(frozen=True)
class Restored:
    community_id: int
    rows: dict[str, int]  # table: rows restored
    users_created: int
    users_matched: int  # people already known here by one of their platform accounts
    media: int = 0  # overlay files put into the community's store


def _tables() -> dict[str, Table]:
    metadata = load_models()
    return dict(metadata.tables)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return value


async def export_community(
    db: Database, community_id: int, media: MediaLibrary | None = None
) -> dict[str, Any]:
    """The community as a document (see the module's docstring), with its overlay files
    when ``media`` is given; ArchiveRefused when there is no such community."""
    tables = _tables()
    async with db.engine.connect() as conn:
        community = tables["communities"]
        found = (
            (await conn.execute(select(community).where(community.c.id == community_id)))
            .mappings()
            .first()
        )
        if found is None:
            raise ArchiveRefused(f"there is no community {community_id}")
        exported: dict[str, list[dict[str, Any]]] = {}
        ids: dict[str, list[Any]] = {}
        people: set[int] = set()
        for part in PARTS:
            table = tables[part.table]
            where: ColumnElement[bool]
            if part.parent is not None:
                column, parent = part.parent
                where = table.c[column].in_(ids.get(parent) or [-1])
            else:
                where = table.c.community_id == community_id
            query = select(table).where(where).order_by(*table.primary_key.columns)
            rows = [dict(row) for row in (await conn.execute(query)).mappings()]
            for row in rows:
                row.pop("community_id", None)
                for column, target in part.refs.items():
                    if target == "users" and row.get(column) is not None:
                        people.add(int(row[column]))
                if part.table == "label_assignments" and row["target_type"] == "user":
                    people.add(int(row["target_id"]))
            ids[part.table] = [row[part.key] for row in rows] if part.key else []
            exported[part.table] = [{k: _plain(v) for k, v in row.items()} for row in rows]
        users = await _people(conn, tables, sorted(people))
    files = await media.everything(community_id) if media is not None else []
    return {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": datetime.now(UTC).isoformat(),
        "community": {k: _plain(v) for k, v in found.items()},
        "users": users,
        "tables": exported,
        "media": [
            {
                "media_id": file.media_id,
                "kind": file.kind,
                "content_type": file.content_type,
                "size": file.size,
                "data": b64encode(data).decode("ascii"),
            }
            for file, data in files
        ],
        "left_out": LEFT_OUT,
    }


async def _people(
    conn: AsyncConnection, tables: dict[str, Table], user_ids: list[int]
) -> list[dict[str, Any]]:
    if not user_ids:
        return []
    users, identities = tables["users"], tables["identities"]
    accounts: dict[int, list[dict[str, Any]]] = {}
    query = select(identities).where(identities.c.user_id.in_(user_ids)).order_by(identities.c.id)
    for row in (await conn.execute(query)).mappings():
        accounts.setdefault(row["user_id"], []).append(
            {
                "platform": row["platform"],
                "platform_user_id": row["platform_user_id"],
                "login": row["login"],
                "display_name": row["display_name"],
            }
        )
    query = select(users).where(users.c.id.in_(user_ids)).order_by(users.c.id)
    return [
        {
            "id": row["id"],
            "display_name": row["display_name"],
            "created_at": _plain(row["created_at"]),
            "identities": accounts.get(row["id"], []),
        }
        for row in (await conn.execute(query)).mappings()
    ]


def encode(document: dict[str, Any]) -> bytes:
    return orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)


def decode(data: bytes) -> dict[str, Any]:
    """The document in ``data``, its format and version checked; ArchiveRefused otherwise."""
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ArchiveRefused(f"not a community export: it is not JSON ({exc})") from exc
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ArchiveRefused(f'not a community export (no "format": "{FORMAT}")')
    version = document.get("version")
    if version not in READS:
        raise ArchiveRefused(
            f"a community export of version {version!r}; this WaddleBot reads versions "
            f"{', '.join(map(str, READS))}"
        )
    for name, kind in (("community", dict), ("users", list), ("tables", dict)):
        if not isinstance(document.get(name), kind):
            raise ArchiveRefused(f"a community export without its {name!r} part")
    unknown = set(document["tables"]) - {part.table for part in PARTS}
    if unknown:
        raise ArchiveRefused(f"a community export with unknown tables: {sorted(unknown)}")
    _media_files(document.get("media", []))
    return document


def _media_files(entries: Any) -> list[tuple[str, bytes]]:
    """The overlay files of a document as (media id, bytes); what each is and whether it
    fits is the media library's check, on import."""
    if not isinstance(entries, list):
        raise ArchiveRefused("the export's 'media' is not a list of files")
    files = []
    for entry in entries:
        media_id = entry.get("media_id") if isinstance(entry, dict) else None
        if not isinstance(media_id, str) or not is_media_id(media_id):
            raise ArchiveRefused(f"an overlay file without a media id: {media_id!r}")
        try:
            data = b64decode(entry.get("data") or "", validate=True)
        except (binascii.Error, TypeError, ValueError) as exc:
            raise ArchiveRefused(f"the overlay file {media_id!r} is not base64") from exc
        files.append((media_id, data))
    return files


def _value(table: Table, column: str, value: Any) -> Any:
    if column not in table.c:
        raise ArchiveRefused(f"the export names a column {table.name}.{column} this one lacks")
    if value is not None and isinstance(table.c[column].type, UtcDateTime):
        try:
            return datetime.fromisoformat(value)
        except (TypeError, ValueError) as exc:
            raise ArchiveRefused(f"{table.name}.{column}: {value!r} is not a time") from exc
    return value


async def import_community(
    db: Database, document: dict[str, Any], *, as_new: bool, media: MediaLibrary | None = None
) -> Restored:
    """Restore a decoded document in one transaction: under its own id (refused when that id
    is taken) or, ``as_new``, as a new community. A place (entity) belongs to one community:
    one already in another community here is refused. Its overlay files go into ``media``
    (needed when it has any) before the transaction commits: files that do not fit the
    community's quota refuse the whole import."""
    files = _media_files(document.get("media", []))
    if files and media is None:
        raise ArchiveRefused("the export holds overlay files and there is no store to put them")
    tables = _tables()
    async with db.engine.begin() as conn:
        community_id = await _restore_community(conn, tables["communities"], document, as_new)
        maps: dict[str, dict[Any, Any]] = {}
        created, matched = await _restore_people(conn, tables, document["users"], maps)
        counts: dict[str, int] = {}
        for part in PARTS:
            rows = document["tables"].get(part.table, [])
            if not isinstance(rows, list):
                raise ArchiveRefused(f"the export's {part.table!r} is not a list of rows")
            if part.table == "entities":
                await _check_places(conn, tables["entities"], rows, community_id)
            table = tables[part.table]
            mapping = maps.setdefault(part.table, {})
            for row in rows:
                values = _restored_row(table, part, row, maps, community_id)
                old = values.pop(part.key, None) if part.key else None
                statement = insert(table).values(values)
                if part.key is None:
                    await conn.execute(statement)
                    if part.table == "entities":
                        mapping[values["id"]] = values["id"]
                    continue
                new = (await conn.execute(statement.returning(table.c[part.key]))).scalar_one()
                mapping[old] = new
            counts[part.table] = len(rows)
        put = 0
        if media is not None and files:
            try:
                put = len(await media.restore(community_id, files))
            except MediaRefused as exc:
                raise ArchiveRefused(f"its overlay media: {exc}") from exc
    return Restored(community_id, counts, created, matched, put)


async def _restore_community(
    conn: AsyncConnection, community: Table, document: dict[str, Any], as_new: bool
) -> int:
    values = {k: _value(community, k, v) for k, v in document["community"].items()}
    wanted = values.pop("id", None)
    if not as_new:
        if not isinstance(wanted, int):
            raise ArchiveRefused("the export names no community id; import it --as-new")
        taken = await conn.scalar(select(community.c.id).where(community.c.id == wanted))
        if taken is not None:
            raise ArchiveRefused(
                f"community {wanted} exists here already; import --as-new to add a copy"
            )
        values["id"] = wanted
    new_id = int(
        (
            await conn.execute(insert(community).values(values).returning(community.c.id))
        ).scalar_one()
    )
    if not as_new and conn.dialect.name == "postgresql":
        # an id given by hand does not move the sequence: the next community would collide
        await conn.execute(
            text(
                "SELECT setval(pg_get_serial_sequence('communities', 'id'), "
                "(SELECT max(id) FROM communities))"
            )
        )
    return new_id


async def _restore_people(
    conn: AsyncConnection,
    tables: dict[str, Table],
    people: list[Any],
    maps: dict[str, dict[Any, Any]],
) -> tuple[int, int]:
    """Each person is matched to one already here by any of their platform accounts, else
    made anew with them."""
    users, identities = tables["users"], tables["identities"]
    mapping = maps.setdefault("users", {})
    created = matched = 0
    for person in people:
        accounts = person.get("identities") or []
        known = None
        for account in accounts:
            known = await conn.scalar(
                select(identities.c.user_id).where(
                    identities.c.platform == account["platform"],
                    identities.c.platform_user_id == account["platform_user_id"],
                )
            )
            if known is not None:
                break
        if known is not None:
            mapping[person["id"]] = known
            matched += 1
            continue
        values = {"display_name": person.get("display_name", "")}
        if person.get("created_at"):
            values["created_at"] = _value(users, "created_at", person["created_at"])
        new = (await conn.execute(insert(users).values(values).returning(users.c.id))).scalar_one()
        for account in accounts:
            await conn.execute(
                insert(identities).values(
                    user_id=new,
                    platform=account["platform"],
                    platform_user_id=account["platform_user_id"],
                    login=account.get("login", ""),
                    display_name=account.get("display_name", ""),
                )
            )
        mapping[person["id"]] = new
        created += 1
    return created, matched


async def _check_places(
    conn: AsyncConnection, entities: Table, rows: list[Any], community_id: int
) -> None:
    ids = [row.get("id") for row in rows if isinstance(row, dict)]
    if not ids:
        return
    query = select(entities.c.id, entities.c.community_id).where(entities.c.id.in_(ids))
    owned = (await conn.execute(query)).first()
    if owned is not None:
        raise ArchiveRefused(
            f"the place {owned.id} belongs to community {owned.community_id} here, and a "
            "place is in one community only; unlink it there first, or import into another "
            "database"
        )


def _restored_row(
    table: Table,
    part: Part,
    row: Any,
    maps: dict[str, dict[Any, Any]],
    community_id: int,
) -> dict[str, Any]:
    if not isinstance(row, dict):
        raise ArchiveRefused(f"a row of {part.table!r} is not an object")
    values = {k: _value(table, k, v) for k, v in row.items()}
    values.update(part.reset)
    for column, target in part.refs.items():
        values[column] = _mapped(part.table, column, values.get(column), maps.get(target, {}))
    if part.table == "label_assignments":
        named = _LABEL_TARGETS.get(values.get("target_type", ""))
        if named is not None:
            key = _int(values["target_id"])
            values["target_id"] = str(_mapped(part.table, "target_id", key, maps[named]))
        elif values.get("target_type") == "community":
            values["target_id"] = str(community_id)
    if "community_id" in table.c:
        values["community_id"] = community_id
    return values


def _mapped(table: str, column: str, old: Any, mapping: dict[Any, Any]) -> Any:
    if old is None:
        return None
    if old not in mapping:
        raise ArchiveRefused(f"{table}.{column} names {old!r}, which is not in the export")
    return mapping[old]


def _int(value: Any) -> Any:
    try:
        return int(value)
    except (TypeError, ValueError):
        return value


def count_rows(document: dict[str, Any]) -> int:
    return sum(len(rows) for rows in document["tables"].values())


__all__ = [
    "CONTENT_TYPE",
    "FORMAT",
    "LEFT_OUT",
    "PARTS",
    "READS",
    "VERSION",
    "ArchiveRefused",
    "Part",
    "Restored",
    "count_rows",
    "decode",
    "encode",
    "export_community",
    "import_community",
    "object_key",
    "time_of",
]
