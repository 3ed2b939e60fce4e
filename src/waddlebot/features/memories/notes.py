"""Notes: short texts a community keeps, each with up to 10 labels (``#todo``, ``#gear``).

A note's labels live in ``note_labels``, not in the community's labels (features/labels/service.py):
those are defined by admins before use, may grant permission levels, and are counted against
per-target limits; a note's labels are made by writing them and mean nothing but "find this
note again". A label is 1 to 32 of ``a-z``, ``0-9``, ``-`` and ``_``, starting with a letter or
digit; capitals are made lower case.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from waddlebot.features.memories.common import (
    Author,
    MemoriesError,
    NumberedService,
    check_add,
    check_text,
)
from waddlebot.features.memories.models import Note, NoteLabel
from waddlebot.infra.db.models import utcnow

MAX_TEXT = 400
MAX_LABELS = 10  # per note
MAX_NOTES = 1000  # per community
LABEL_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


@dataclass(frozen=True, slots=True)
class NoteInfo:
    number: int
    text: str
    labels: tuple[str, ...]  # sorted
    added_by: str
    added_by_user_id: int | None
    created_at: datetime
    updated_at: datetime


def check_label(typed: str) -> str:
    """A label as stored (lower case, without ``#``); MemoriesError when malformed."""
    label = typed.strip().removeprefix("#").lower()
    if not LABEL_PATTERN.fullmatch(label):
        raise MemoriesError(
            f"{typed.strip()!r} is not a label: use 1 to 32 letters, digits, - or _ after the #"
        )
    return label


def check_labels(typed: Iterable[str]) -> tuple[str, ...]:
    """Labels as stored, each once, in order; MemoriesError for a malformed one or too many."""
    labels = tuple(dict.fromkeys(check_label(label) for label in typed))
    if len(labels) > MAX_LABELS:
        raise MemoriesError(f"a note has at most {MAX_LABELS} labels (this one has {len(labels)})")
    return labels


def _info(row: Note, labels: Iterable[str]) -> NoteInfo:
    return NoteInfo(
        number=row.number,
        text=row.text,
        labels=tuple(sorted(labels)),
        added_by=row.added_by,
        added_by_user_id=row.added_by_user_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class NoteService(NumberedService[NoteInfo]):
    model = Note
    kind = noun = "note"
    plural = "notes"
    limit = MAX_NOTES

    async def _shown(self, session: AsyncSession, rows: Sequence[Note]) -> builtins.list[NoteInfo]:
        labels = await _labels(session, [row.id for row in rows])
        return [_info(row, labels[row.id]) for row in rows]

    async def add(
        self, community_id: int, text: str, labels: Sequence[str] = (), *, author: Author
    ) -> NoteInfo:
        check_add(author, "notes")
        text = check_text(text, "a note", MAX_TEXT)
        wanted = check_labels(labels)
        async with self.db.session() as session:
            number = await self._next_number(session, community_id)
            row = Note(
                community_id=community_id,
                number=number,
                text=text,
                added_by=author.name[:256],
                added_by_user_id=author.user_id,
            )
            session.add(row)
            await session.flush()
            session.add_all(
                NoteLabel(note_id=row.id, label=label, community_id=community_id)
                for label in wanted
            )
            await session.flush()
            info = _info(row, wanted)
        self._audit(
            "note.add", author, community_id, number, {"text": text, "labels": list(info.labels)}
        )
        return info

    async def list(
        self,
        community_id: int,
        label: str | None = None,
        *,
        newest_first: bool = False,
        limit: int = 100,
        offset: int = 0,
    ) -> builtins.list[NoteInfo]:
        """The community's notes (only those with ``label``, when given)."""
        where = Note.community_id == community_id
        if label is not None:
            where &= Note.id.in_(
                select(NoteLabel.note_id).where(
                    NoteLabel.community_id == community_id,
                    NoteLabel.label == check_label(label),
                )
            )
        return await self._page(where, newest_first=newest_first, limit=limit, offset=offset)

    async def edit(
        self,
        community_id: int,
        number: int,
        *,
        author: Author,
        text: str | None = None,
        labels: Sequence[str] | None = None,
    ) -> NoteInfo:
        """Change a note's text, its labels (all of them: the ones given replace the ones it
        had), or both. NotFound, NotAllowed."""
        changes: dict[str, Any] = {}
        if text is not None:
            changes["text"] = check_text(text, "a note", MAX_TEXT)
        if labels is not None:
            changes["labels"] = list(check_labels(labels))
        async with self.db.session() as session:
            row = await self._to_change(session, community_id, number, author, "edit")
            if "text" in changes:
                row.text = changes["text"]
            if "labels" in changes:
                row.updated_at = utcnow()  # the row itself may not change
                await session.execute(delete(NoteLabel).where(NoteLabel.note_id == row.id))
                session.add_all(
                    NoteLabel(note_id=row.id, label=label, community_id=community_id)
                    for label in changes["labels"]
                )
            await session.flush()
            (info,) = await self._shown(session, [row])
        self._audit("note.edit", author, community_id, number, changes)
        return info

    async def remove(self, community_id: int, number: int, *, author: Author) -> None:
        """NotFound, NotAllowed."""
        await self._remove(community_id, number, author)
        self._audit("note.remove", author, community_id, number)


async def _labels(session: AsyncSession, note_ids: Sequence[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {note_id: [] for note_id in note_ids}
    if note_ids:
        rows = await session.execute(
            select(NoteLabel.note_id, NoteLabel.label).where(NoteLabel.note_id.in_(note_ids))
        )
        for note_id, label in rows.all():
            found[note_id].append(label)
    return found
