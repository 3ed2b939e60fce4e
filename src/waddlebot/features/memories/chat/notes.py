"""``!note``: ``add <text> [#label ...]``, ``list [#label]``, ``remove`` (``del``, ``delete``)
and ``!note <n>``. The labels of a note are the ``#words`` that end the line."""

from __future__ import annotations

from waddlebot.core.variables import truncate
from waddlebot.features.memories.chat.call import (
    Call,
    Handler,
    numbered_or_subcommand,
    remove_numbered,
    split_word,
)
from waddlebot.features.memories.service import NoteInfo
from waddlebot.sdk import UsageError, joined

USAGE = "<n> | add <text> [#label ...] | list [#label] | remove <n>"
MAX_REPLY = 500
MAX_LISTED = 400


def shown(note: NoteInfo) -> str:
    """``#3 buy a new mic [gear, todo]``."""
    labels = f" [{', '.join(note.labels)}]" if note.labels else ""
    return f"#{note.number} {note.text}{labels}"


def text_and_labels(typed: str) -> tuple[str, list[str]]:
    """The note, and the ``#labels`` at the end of the line (in the order written)."""
    words = typed.split()
    labels: list[str] = []
    while words and words[-1].startswith("#") and len(words[-1]) > 1:
        labels.insert(0, words.pop())
    text = typed.strip()
    for label in reversed(labels):
        text = text.removesuffix(label).rstrip()
    return text, labels


async def note(call: Call) -> None:
    await numbered_or_subcommand(
        call,
        call.memories.notes,
        "note 3",
        _HANDLERS,
        lambda found: truncate(f"Note {shown(found)}", MAX_REPLY),
    )


async def _add(call: Call) -> None:
    text, labels = text_and_labels(call.rest)
    if not text:
        raise UsageError(f"what should the note say? {call.example('note add buy a mic #todo')}")
    added = await call.memories.notes.add(call.community_id, text, labels, author=call.author)
    labelled = f" [{', '.join(added.labels)}]" if added.labels else ""
    call.say(f"Added note #{added.number}{labelled}")


async def _list(call: Call) -> None:
    label, more = split_word(call.rest)
    if more:
        raise UsageError(f"list takes one #label at most, {call.example('note list #todo')}")
    notes = await call.memories.notes.list(call.community_id, label or None, newest_first=True)
    shown_label = f"#{label.lstrip('#').lower()}"
    if not notes:
        call.say(f"No notes labelled {shown_label}" if label else "No notes yet")
        return
    heading = f"Notes labelled {shown_label}" if label else "Notes"
    call.ctx.reply(f"{heading}, newest first: {joined([shown(n) for n in notes], MAX_LISTED)}")


async def _remove(call: Call) -> None:
    await remove_numbered(call, call.memories.notes, "note remove 3")


_HANDLERS: dict[str, Handler] = {
    "add": _add,
    "list": _list,
    "remove": _remove,
    "del": _remove,
    "delete": _remove,
}
SUBCOMMANDS = ("add", "list", "remove")
