"""Migrations on real SQLite and PostgreSQL, and the check that keeps them equal to the models."""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Connection, MetaData, String, inspect
from sqlalchemy.ext.asyncio import create_async_engine

from waddlebot.features import load_models
from waddlebot.infra.db import migrate

metadata = load_models()

FOUNDATION_TABLES = {
    "communities",
    "entities",
    "users",
    "identities",
    "memberships",
    "api_keys",
    "audit_log",
    "module_settings",
}
IDENTITY_TABLES = FOUNDATION_TABLES | {"labels", "label_assignments", "link_codes", "accounts"}
COMMAND_TABLES = IDENTITY_TABLES | {"custom_commands", "counters"}
ALIAS_TABLES = COMMAND_TABLES | {"aliases", "timers", "stream_states"}
TWITCH_TABLES = ALIAS_TABLES | {"platform_tokens", "twitch_subscriptions"}
MEMORY_TABLES = TWITCH_TABLES | {
    "memory_counters",
    "quotes",
    "urls",
    "notes",
    "note_labels",
    "reminders",
}
INVENTORY_TABLES = MEMORY_TABLES | {
    "inventory_items",
    "inventory_item_labels",
    "inventory_checkouts",
    "calendar_events",
    "calendar_attendees",
    "calendar_feeds",
}
OVERLAY_TABLES = INVENTORY_TABLES | {"overlay_tokens"}
SCHEDULE_TABLES = OVERLAY_TABLES | {"module_schedule_runs"}
MARKETPLACE_TABLES = SCHEDULE_TABLES | {
    "catalogue_modules",
    "catalogue_versions",
    "community_modules",
}
STORE_TABLES = MARKETPLACE_TABLES | {"module_store", "module_store_usage"}
MUSIC_TABLES = STORE_TABLES | {"music_requests", "music_queues"}
SPOTIFY_TABLES = MUSIC_TABLES | {"music_spotify_accounts"}
TABLES = SPOTIFY_TABLES | {"music_bans"}
# every revision, newest first, with the tables it leaves (each migration adds its row)
STEPS = [
    ("0016_music_requester_person", TABLES),  # a column: no new table
    ("0015_music_playback", TABLES),
    ("0014_music_spotify", SPOTIFY_TABLES),
    ("0013_music", MUSIC_TABLES),
    ("0012_api_key_sealed", STORE_TABLES),  # a column: no new table
    ("0011_module_store", STORE_TABLES),
    ("0010_marketplace", MARKETPLACE_TABLES),
    ("0009_module_schedules", SCHEDULE_TABLES),
    ("0008_overlays", OVERLAY_TABLES),
    ("0007_inventory_calendar", INVENTORY_TABLES),
    ("0006_memories", MEMORY_TABLES),
    ("0005_twitch", TWITCH_TABLES),
    ("0004_aliases_timers", ALIAS_TABLES),
    ("0003_custom_commands", COMMAND_TABLES),
    ("0002_identity_labels", IDENTITY_TABLES),
    ("0001_foundation", FOUNDATION_TABLES),
]


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest) -> Iterator[str]:
    name = "sqlite_url" if request.param == "sqlite" else "fresh_postgres_url"
    yield request.getfixturevalue(name)


async def _on(url: str, work: Any) -> Any:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(work)
    finally:
        await engine.dispose()


# SQLite's full-text search of quotes (migration 0006) is an FTS5 virtual table with shadow
# tables of its own; it has no model (PostgreSQL searches with an index instead), so the
# checks below leave it out.
SQLITE_SEARCH_TABLES = "quotes_fts"


def _searched(name: str | None) -> bool:
    return bool(name) and str(name).startswith(SQLITE_SEARCH_TABLES)


def _tables(connection: Connection) -> set[str]:
    return {name for name in inspect(connection).get_table_names() if not _searched(name)}


def _diff(target: MetaData) -> Any:
    def work(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "compare_server_default": migrate.compare_server_default,
                "include_name": lambda name, kind, _: not (kind == "table" and _searched(name)),
            },
        )
        with warnings.catch_warnings():
            # the index PostgreSQL searches quotes with; SQLite has quotes_fts instead
            warnings.filterwarnings("ignore", "autogenerate skipping .* 'ix_quotes_search'")
            return list(compare_metadata(context, target))

    return work


def test_packaged_migrations_need_no_ini() -> None:
    config = migrate.make_config()
    assert config.config_file_name is None
    location = Path(config.get_main_option("script_location") or "")
    assert (location / "env.py").is_file()
    assert (location / "script.py.mako").is_file()
    assert migrate.head_revision() == "0016_music_requester_person"


def test_upgrade_downgrade_cycle(url: str) -> None:
    assert migrate.current(url) is None
    migrate.upgrade(url)
    assert migrate.current(url) == migrate.head_revision()
    migrate.upgrade(url)  # idempotent at head
    assert migrate.current(url) == migrate.head_revision()

    migrate.downgrade(url, "base")
    assert migrate.current(url) is None
    assert asyncio.run(_on(url, _tables)) == {"alembic_version"}

    migrate.upgrade(url)
    assert migrate.current(url) == migrate.head_revision()
    assert asyncio.run(_on(url, _tables)) == TABLES | {"alembic_version"}

    for revision, tables in STEPS:  # one step back at a time
        assert migrate.current(url) == revision
        assert asyncio.run(_on(url, _tables)) == tables | {"alembic_version"}
        migrate.downgrade(url)
    assert migrate.current(url) is None


async def test_models_match_migrations(url: str) -> None:
    await migrate.upgrade_async(url)
    assert await _on(url, _diff(metadata)) == []


async def test_comparison_notices_drift(url: str) -> None:
    """The check above has teeth: a column or type the migrations lack is reported."""
    await migrate.upgrade_async(url)
    drifted = MetaData()
    for table in metadata.tables.values():
        table.to_metadata(drifted)
    drifted.tables["users"].append_column(Column("nickname", String(20)))
    drifted.tables["communities"].c.name.type = String(50)
    diffs = await _on(url, _diff(drifted))
    # table-level diffs are tuples, column-level ones come as lists of tuples
    kinds = {diff[0] if isinstance(diff, tuple) else diff[0][0] for diff in diffs}
    assert kinds == {"add_column", "modify_type"}


async def test_sync_api_works_inside_a_running_loop(url: str) -> None:
    migrate.upgrade(url)  # runs in a worker thread with its own loop
    assert await migrate.current_async(url) == migrate.head_revision()
    await migrate.downgrade_async(url, "base")
    assert migrate.current(url) is None


def test_plain_driver_urls_are_accepted(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/nested/dir/plain.db"
    migrate.upgrade(url)  # becomes sqlite+aiosqlite; the missing directories are created
    assert migrate.current(url) == migrate.head_revision()
    assert (tmp_path / "nested" / "dir" / "plain.db").is_file()
