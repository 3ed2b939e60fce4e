"""Re-encrypting every stored secret with the newest key (``waddlebot secret-key rotate``).

The columns are found, not listed: every column declared with ``info=SEALED``
(``infra/db/models.py``) in the metadata handed in (the whole schema,
``features.load_models()``). Each row is re-encrypted with a conditional update (only if its
sealed values are still those that were read), in a transaction of its own, so a process
writing a new token at the same moment (a Twitch refresh, a new Slack install) never loses it:
the row is read again and its new values looked at. Values already under the newest key are
left alone, so a second run changes nothing, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Column, MetaData, Table, select, update

from waddlebot.infra.db.engine import Database
from waddlebot.infra.secretbox import SecretBox, SecretError

PAGE = 200
ATTEMPTS = 5  # a row someone keeps rewriting is read again this often before it is left


@dataclass(slots=True)
class TableRotation:
    """What a rotation did to one table's rows."""

    table: str
    rotated: int = 0  # rows re-encrypted with the newest key
    current: int = 0  # rows whose values were under the newest key already (or empty)
    unreadable: list[str] = field(default_factory=list)  # keys of rows no configured key opens
    busy: list[str] = field(default_factory=list)  # keys of rows rewritten under us every time


def sealed_columns(metadata: MetaData) -> dict[Table, list[Column[str]]]:
    """Every table holding sealed values, with those columns, by table name."""
    found: dict[Table, list[Column[str]]] = {}
    for table in sorted(metadata.tables.values(), key=lambda t: t.name):
        columns = [column for column in table.columns if column.info.get("sealed")]
        if columns:
            found[table] = columns
    return found


async def rotate_secrets(db: Database, box: SecretBox, metadata: MetaData) -> list[TableRotation]:
    return [
        await _rotate_table(db, box, table, columns)
        for table, columns in sealed_columns(metadata).items()
    ]


async def _rotate_table(
    db: Database, box: SecretBox, table: Table, columns: list[Column[str]]
) -> TableRotation:
    [key] = table.primary_key.columns  # every sealed table has a one-column key (a test says)
    report = TableRotation(table.name)
    last = None
    while True:
        query = select(key, *columns).order_by(key).limit(PAGE)
        if last is not None:
            query = query.where(key > last)
        async with db.session() as session:  # the primary: a replica may lag behind
            rows = (await session.execute(query)).all()
        for row in rows:
            await _rotate_row(db, box, table, key, columns, row[0], tuple(row[1:]), report)
        if len(rows) < PAGE:
            return report
        last = rows[-1][0]


async def _rotate_row(
    db: Database,
    box: SecretBox,
    table: Table,
    key: Column[object],
    columns: list[Column[str]],
    row_key: object,
    values: tuple[str, ...],
    report: TableRotation,
) -> None:
    for _ in range(ATTEMPTS):
        try:
            fresh = tuple(v if not v or box.is_current(v) else box.rotate(v) for v in values)
        except SecretError:
            report.unreadable.append(str(row_key))
            return
        if fresh == values:
            report.current += 1
            return
        unchanged = [column == value for column, value in zip(columns, values, strict=True)]
        async with db.session() as session:
            done = await session.execute(
                update(table)
                .where(key == row_key, *unchanged)
                .values(dict(zip((c.name for c in columns), fresh, strict=True)))
            )
            if done.rowcount == 1:  # type: ignore[attr-defined]
                report.rotated += 1
                return
            # written (or deleted) by someone else since it was read: look at it again
            again = (await session.execute(select(*columns).where(key == row_key))).first()
        if again is None:
            return
        values = tuple(again)
    report.busy.append(str(row_key))
