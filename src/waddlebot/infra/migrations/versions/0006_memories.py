"""Memories: quotes, URLs, notes and reminders.

Quotes are searched by full text: PostgreSQL with a GIN index on their ``tsvector``, SQLite
with the FTS5 table ``quotes_fts``, kept in step with ``quotes`` by triggers. The FTS5 table
indexes ``quotes`` by rowid (``quotes.id``): a later migration that rebuilds ``quotes`` on
SQLite (batch mode) must keep the ids and create the triggers again.

Revision ID: 0006_memories
Revises: 0005_twitch
Create Date: 2026-11-27 17:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.schema import SchemaItem

revision: str = "0006_memories"
down_revision: str | Sequence[str] | None = "0005_twitch"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE_SEARCH = (
    "CREATE VIRTUAL TABLE quotes_fts USING fts5(text, content='quotes', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 0')",
    "CREATE TRIGGER quotes_fts_insert AFTER INSERT ON quotes BEGIN "
    "INSERT INTO quotes_fts(rowid, text) VALUES (new.id, new.text); END",
    "CREATE TRIGGER quotes_fts_delete AFTER DELETE ON quotes BEGIN "
    "INSERT INTO quotes_fts(quotes_fts, rowid, text) VALUES ('delete', old.id, old.text); END",
    "CREATE TRIGGER quotes_fts_update AFTER UPDATE OF text ON quotes BEGIN "
    "INSERT INTO quotes_fts(quotes_fts, rowid, text) VALUES ('delete', old.id, old.text); "
    "INSERT INTO quotes_fts(rowid, text) VALUES (new.id, new.text); END",
)
SQLITE_SEARCH_DROP = (
    "DROP TRIGGER IF EXISTS quotes_fts_update",
    "DROP TRIGGER IF EXISTS quotes_fts_delete",
    "DROP TRIGGER IF EXISTS quotes_fts_insert",
    "DROP TABLE IF EXISTS quotes_fts",
)


def _text(name: str, length: int, default: str | None = None) -> sa.Column[object]:
    return sa.Column(name, sa.String(length), server_default=default, nullable=False)


def _number(name: str, default: str | None = None) -> sa.Column[object]:
    return sa.Column(name, sa.Integer(), server_default=default, nullable=False)


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(
        name,
        sa.DateTime(timezone=True),
        server_default=None if nullable else sa.func.now(),
        nullable=nullable,
    )


def _fk(table: str, column: str, target: str, ondelete: str = "CASCADE") -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}", ondelete=ondelete
    )


def _user(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.Integer(), nullable=True)


def _numbered(table: str) -> list[SchemaItem]:
    """What quotes, URLs, notes and reminders share: an id, a community and its number."""
    return [
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        _number("number"),
        _fk(table, "community_id", "communities"),
        sa.PrimaryKeyConstraint("id", name=f"pk_{table}"),
        sa.UniqueConstraint("community_id", "number", name=f"uq_{table}_community_id_number"),
    ]


def upgrade() -> None:
    op.create_table(
        "memory_counters",
        sa.Column("community_id", sa.Integer(), nullable=False),
        _text("kind", 16),
        _number("last_number", "0"),
        _fk("memory_counters", "community_id", "communities"),
        sa.PrimaryKeyConstraint("community_id", "kind", name="pk_memory_counters"),
        sa.CheckConstraint(
            "kind IN ('quote', 'url', 'note', 'reminder')", name="ck_memory_counters_kind"
        ),
    )
    op.create_table(
        "quotes",
        *_numbered("quotes"),
        _text("text", 400),
        _text("said_by", 256, ""),
        _user("said_by_user_id"),
        _text("added_by", 256, ""),
        _user("added_by_user_id"),
        _text("platform", 16, ""),
        _text("entity_id", 256, ""),
        _text("game", 200, ""),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        _fk("quotes", "said_by_user_id", "users", "SET NULL"),
        _fk("quotes", "added_by_user_id", "users", "SET NULL"),
    )
    op.create_index(
        "ix_quotes_community_id_said_by_user_id", "quotes", ["community_id", "said_by_user_id"]
    )
    op.create_table(
        "urls",
        *_numbered("urls"),
        _text("url", 500),
        _text("title", 150, ""),
        _text("added_by", 256, ""),
        _user("added_by_user_id"),
        _timestamp("created_at"),
        _fk("urls", "added_by_user_id", "users", "SET NULL"),
    )
    op.create_table(
        "notes",
        *_numbered("notes"),
        _text("text", 400),
        _text("added_by", 256, ""),
        _user("added_by_user_id"),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        _fk("notes", "added_by_user_id", "users", "SET NULL"),
    )
    op.create_table(
        "note_labels",
        sa.Column("note_id", sa.Integer(), nullable=False),
        _text("label", 32),
        sa.Column("community_id", sa.Integer(), nullable=False),
        _fk("note_labels", "note_id", "notes"),
        _fk("note_labels", "community_id", "communities"),
        sa.PrimaryKeyConstraint("note_id", "label", name="pk_note_labels"),
    )
    op.create_index("ix_note_labels_community_id_label", "note_labels", ["community_id", "label"])
    op.create_table(
        "reminders",
        *_numbered("reminders"),
        _text("entity_id", 256),
        _text("platform", 16),
        _text("channel_id", 128, ""),
        _text("to_user", 128, ""),
        _text("text", 300),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        _text("repeat", 8, "once"),
        sa.Column("weekday", sa.Integer(), nullable=True),
        _text("time_of_day", 5, ""),
        _text("timezone", 64, "UTC"),
        _text("created_by", 256, ""),
        _user("created_by_user_id"),
        _text("claimed_by", 64, ""),
        _timestamp("claimed_until", nullable=True),
        _number("runs", "0"),
        _timestamp("last_run_at", nullable=True),
        _timestamp("created_at"),
        _fk("reminders", "entity_id", "entities"),
        _fk("reminders", "created_by_user_id", "users", "SET NULL"),
        sa.CheckConstraint("repeat IN ('once', 'daily', 'weekly')", name="ck_reminders_repeat"),
    )
    op.create_index("ix_reminders_due_at", "reminders", ["due_at"])
    op.create_index("ix_reminders_created_by_user_id", "reminders", ["created_by_user_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.create_index(
            "ix_quotes_search",
            "quotes",
            [sa.text("to_tsvector('simple'::regconfig, text)")],
            postgresql_using="gin",
        )
    else:
        for statement in SQLITE_SEARCH:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_quotes_search", table_name="quotes")
    else:
        for statement in SQLITE_SEARCH_DROP:
            op.execute(statement)
    op.drop_index("ix_reminders_created_by_user_id", table_name="reminders")
    op.drop_index("ix_reminders_due_at", table_name="reminders")
    op.drop_table("reminders")
    op.drop_index("ix_note_labels_community_id_label", table_name="note_labels")
    op.drop_table("note_labels")
    op.drop_table("notes")
    op.drop_table("urls")
    op.drop_index("ix_quotes_community_id_said_by_user_id", table_name="quotes")
    op.drop_table("quotes")
    op.drop_table("memory_counters")
