"""Inventory: things a community lends out (a camera, a game key, a tent), who has each one
and since when, and who had it before.

Every change is audited and scoped to its community. Concurrency:

- a checkout is one conditional ``UPDATE ... WHERE checked_out_at IS NULL``: when two people
  ask at the same moment, the database lets exactly one update match (PostgreSQL makes the
  second wait on the row lock, then re-checks the condition); the other is told who got it;
- a check-in is the mirror image (``WHERE checked_out_at IS NOT NULL``, and the holder when
  the caller may only return their own);
- adding an item and labelling one count first, under a lock (the community's row, or the
  item's), so the limits hold against writers in other processes.

Item labels (``#camera``) are free-form tags of this table ``inventory_item_labels``, not the
user labels of features/labels/service.py: those must be defined by an admin before use, may grant
permission levels, share one namespace with capabilities like ``event-autoapprove``, and
point at their targets by a string id without a foreign key. Tags an item carries come and go
with the item (``ON DELETE CASCADE``), need no definition, and search joins them directly.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from waddlebot.core.clock import Clock, SystemClock
from waddlebot.core.errors import (
    Conflict,
    LimitReached,
    Missing,
    NotAllowed,
    Taken,
    UnknownPerson,
    WaddleError,
)
from waddlebot.features.inventory.models import InventoryCheckout, InventoryItem, InventoryItemLabel
from waddlebot.features.labels.service import LabelError
from waddlebot.features.labels.service import check_name as check_label_name
from waddlebot.infra.audit import AuditLog
from waddlebot.infra.db.engine import Database
from waddlebot.infra.db.records import escape_like, record_of
from waddlebot.infra.directory import lock_community, user_exists

MAX_NAME = 64
MAX_DESCRIPTION = 300
MAX_ITEMS = 500  # per community
MAX_LABELS = 10  # per item
HISTORY = 10  # checkouts shown by history()

State = Literal["all", "available", "out"]
STATES: tuple[State, ...] = ("all", "available", "out")


class InventoryError(WaddleError):
    """Something the person asking can fix about the inventory."""


class UnknownItem(Missing, InventoryError):
    noun = "item"


class DuplicateItem(Taken, InventoryError):
    noun = "item"


class ItemTaken(Conflict, InventoryError):
    """The item is out (someone else got it first, or it was out already)."""

    def __init__(self, name: str, holder_user_id: int | None, holder: str, since: datetime):
        super().__init__(f"{holder} has {name} already")
        self.name = name
        self.holder_user_id = holder_user_id
        self.holder = holder
        self.since = since


class NotOut(Conflict, InventoryError):
    def __init__(self, name: str) -> None:
        super().__init__(f"{name} is not checked out")
        self.name = name


class NotTheHolder(NotAllowed, InventoryError):
    """Only the holder (or a moderator) checks an item in."""

    def __init__(self, name: str, holder: str) -> None:
        super().__init__(f"{holder} has {name}; only they or a moderator can check it in")
        self.name = name
        self.holder = holder


@dataclass(frozen=True, slots=True)
class ItemInfo:
    id: int
    community_id: int
    name: str
    description: str
    labels: tuple[str, ...]
    holder_user_id: int | None
    holder_name: str
    checked_out_at: datetime | None
    created_by: str
    created_at: datetime

    @property
    def out(self) -> bool:
        return self.checked_out_at is not None


@dataclass(frozen=True, slots=True)
class CheckoutInfo:
    user_id: int | None
    user_name: str
    out_at: datetime
    out_by: str
    in_at: datetime | None
    in_by: str


def name_key(name: str) -> str:
    return " ".join(name.split()).casefold()


def check_item_name(name: str) -> str:
    """The item name with runs of whitespace made single spaces; InventoryError when it is
    empty, too long, or starts with ``#`` (which marks labels)."""
    cleaned = " ".join(name.split())
    if not cleaned:
        raise InventoryError("an item needs a name")
    if len(cleaned) > MAX_NAME:
        raise InventoryError(f"an item name is at most {MAX_NAME} characters")
    if cleaned.startswith("#"):
        raise InventoryError("an item name cannot start with # (that marks a label)")
    return cleaned


def check_item_label(label: str) -> str:
    """A label for items, without its ``#``: 1 to 32 of ``a-z 0-9 - _``, lower-cased."""
    try:
        return check_label_name(label.removeprefix("#"))
    except LabelError as exc:
        raise InventoryError(str(exc)) from exc


def check_description(description: str) -> str:
    description = " ".join(description.split())
    if len(description) > MAX_DESCRIPTION:
        raise InventoryError(f"a description is at most {MAX_DESCRIPTION} characters")
    return description


class InventoryService:
    def __init__(self, db: Database, audit: AuditLog, clock: Clock | None = None) -> None:
        self.db = db
        self.audit = audit
        self._changes = audit.changes("item")
        self.clock: Clock = clock or SystemClock()

    # ----- items --------------------------------------------------------------------------

    async def add(
        self,
        community_id: int,
        name: str,
        description: str = "",
        labels: Iterable[str] = (),
        *,
        actor: str = "",
    ) -> ItemInfo:
        name = check_item_name(name)
        description = check_description(description)
        tags = sorted({check_item_label(label) for label in labels})
        if len(tags) > MAX_LABELS:
            raise InventoryError(f"an item has at most {MAX_LABELS} labels")
        async with self.db.session() as session:
            await lock_community(session, community_id)
            if await _find(session, community_id, name) is not None:
                raise DuplicateItem(name)
            count = await session.scalar(
                select(func.count())
                .select_from(InventoryItem)
                .where(InventoryItem.community_id == community_id)
            )
            if (count or 0) >= MAX_ITEMS:
                raise LimitReached(f"this community already has {MAX_ITEMS} items (the limit)")
            row = InventoryItem(
                community_id=community_id,
                name=name,
                name_key=name_key(name),
                description=description,
                created_by=actor[:256],
                created_at=self.clock.now(),
            )
            session.add(row)
            await session.flush()
            session.add_all(InventoryItemLabel(item_id=row.id, name=tag) for tag in tags)
            info = _info(row, tags)
        self._changes.record(
            "inventory.add", actor, community_id, name, {"description": description}
        )
        return info

    async def remove(self, community_id: int, name: str, *, actor: str = "") -> ItemInfo:
        """Delete an item with its labels and history. Refused while it is checked out."""
        async with self.db.session() as session:
            row = await _get(session, community_id, name, lock=True)
            if row.checked_out_at is not None:
                raise ItemTaken(row.name, row.holder_user_id, row.holder_name, row.checked_out_at)
            info = _info(row, await _labels(session, row.id))
            await session.execute(delete(InventoryItem).where(InventoryItem.id == row.id))
        self._changes.record("inventory.remove", actor, community_id, info.name)
        return info

    async def get(self, community_id: int, name: str) -> ItemInfo | None:
        async with self.db.read_session() as session:
            row = await _find(session, community_id, name)
            return None if row is None else _info(row, await _labels(session, row.id))

    async def list(self, community_id: int, state: State = "all") -> builtins.list[ItemInfo]:
        """The community's items by name: all of them, the ones available, or the ones out."""
        query = select(InventoryItem).where(InventoryItem.community_id == community_id)
        if state == "available":
            query = query.where(InventoryItem.checked_out_at.is_(None))
        elif state == "out":
            query = query.where(InventoryItem.checked_out_at.is_not(None))
        return await self._items(query)

    async def search(self, community_id: int, words: Sequence[str]) -> builtins.list[ItemInfo]:
        """Items where every word appears in the name, the description or a label (any
        case; ``#word`` matches labels only)."""
        query = select(InventoryItem).where(InventoryItem.community_id == community_id)
        for word in words:
            labelled = select(InventoryItemLabel.item_id).where(
                InventoryItemLabel.name == word.removeprefix("#").lower()
            )
            if word.startswith("#"):
                query = query.where(InventoryItem.id.in_(labelled))
                continue
            pattern = f"%{escape_like(word.casefold())}%"
            query = query.where(
                or_(
                    InventoryItem.name_key.like(pattern, escape="\\"),
                    func.lower(InventoryItem.description).like(pattern, escape="\\"),
                    InventoryItem.id.in_(
                        select(InventoryItemLabel.item_id).where(
                            InventoryItemLabel.name.like(pattern, escape="\\")
                        )
                    ),
                )
            )
        return await self._items(query)

    async def _items(self, query: Any) -> builtins.list[ItemInfo]:
        async with self.db.read_session() as session:
            rows = list((await session.scalars(query.order_by(InventoryItem.name_key))).all())
            tags: dict[int, list[str]] = {row.id: [] for row in rows}
            if rows:
                found = await session.execute(
                    select(InventoryItemLabel.item_id, InventoryItemLabel.name)
                    .where(InventoryItemLabel.item_id.in_(tags))
                    .order_by(InventoryItemLabel.name)
                )
                for item_id, tag in found.all():
                    tags[item_id].append(tag)
            return [_info(row, tags[row.id]) for row in rows]

    # ----- lending ------------------------------------------------------------------------

    async def checkout(
        self,
        community_id: int,
        name: str,
        user_id: int | None,
        user_name: str,
        *,
        actor: str = "",
    ) -> ItemInfo:
        """Give the item to ``user_id``. :class:`ItemTaken` when it is out already, whoever
        has it (the caller tells "you have it already" from "someone else has it");
        :class:`UnknownPerson` when there is no such user (any more)."""
        now = self.clock.now()
        try:
            item_id, item = await self._check_out(
                community_id, name, user_id, user_name, now, actor
            )
        except IntegrityError as exc:  # merged away since they were named?
            if user_id is None or await user_exists(self.db, user_id):
                raise
            raise UnknownPerson(user_id) from exc
        self._changes.record(
            "inventory.checkout", actor, community_id, item, {"to": user_id, "name": user_name}
        )
        return await self._by_id(item_id)

    async def _check_out(
        self,
        community_id: int,
        name: str,
        user_id: int | None,
        user_name: str,
        now: datetime,
        actor: str,
    ) -> tuple[int, str]:
        async with self.db.session() as session:
            row = await _get(session, community_id, name)
            taken: Any = await session.execute(
                update(InventoryItem)
                .where(InventoryItem.id == row.id, InventoryItem.checked_out_at.is_(None))
                .values(holder_user_id=user_id, holder_name=user_name[:256], checked_out_at=now)
                .execution_options(synchronize_session=False)
            )
            if taken.rowcount != 1:
                holder = (
                    await session.execute(
                        select(
                            InventoryItem.holder_user_id,
                            InventoryItem.holder_name,
                            InventoryItem.checked_out_at,
                        ).where(InventoryItem.id == row.id)
                    )
                ).one()
                raise ItemTaken(row.name, holder[0], holder[1], holder[2] or now)
            session.add(
                InventoryCheckout(
                    item_id=row.id,
                    user_id=user_id,
                    user_name=user_name[:256],
                    out_at=now,
                    out_by=actor[:256],
                )
            )
            return row.id, row.name

    async def checkin(
        self,
        community_id: int,
        name: str,
        *,
        holder_user_id: int | None = None,
        actor: str = "",
    ) -> CheckoutInfo:
        """Take the item back. With ``holder_user_id``, only when that user has it (people
        return their own things; moderators pass None). Returns the lending it ends."""
        now = self.clock.now()
        async with self.db.session() as session:
            row = await _get(session, community_id, name)
            condition = [InventoryItem.id == row.id, InventoryItem.checked_out_at.is_not(None)]
            if holder_user_id is not None:
                condition.append(InventoryItem.holder_user_id == holder_user_id)
            returned = (
                await session.execute(
                    update(InventoryItem)
                    .where(*condition)
                    .values(holder_user_id=None, holder_name="", checked_out_at=None)
                    .returning(InventoryItem.id)
                    .execution_options(synchronize_session=False)
                )
            ).first()
            if returned is None:
                current = (
                    await session.execute(
                        select(InventoryItem.holder_name, InventoryItem.checked_out_at).where(
                            InventoryItem.id == row.id
                        )
                    )
                ).one()
                if current[1] is None:
                    raise NotOut(row.name)
                raise NotTheHolder(row.name, current[0])
            lending = await session.scalar(
                select(InventoryCheckout)
                .where(InventoryCheckout.item_id == row.id, InventoryCheckout.in_at.is_(None))
                .order_by(InventoryCheckout.id.desc())
                .limit(1)
            )
            await session.execute(
                update(InventoryCheckout)
                .where(InventoryCheckout.item_id == row.id, InventoryCheckout.in_at.is_(None))
                .values(in_at=now, in_by=actor[:256])
                .execution_options(synchronize_session=False)
            )
            closed = CheckoutInfo(
                user_id=lending.user_id if lending else row.holder_user_id,
                user_name=lending.user_name if lending else row.holder_name,
                out_at=lending.out_at if lending else (row.checked_out_at or now),
                out_by=lending.out_by if lending else "",
                in_at=now,
                in_by=actor[:256],
            )
            item = row.name
        self._changes.record(
            "inventory.checkin", actor, community_id, item, {"from": closed.user_id}
        )
        return closed

    async def history(
        self, community_id: int, name: str, limit: int = HISTORY
    ) -> tuple[ItemInfo, builtins.list[CheckoutInfo]]:
        """The item and its most recent lendings, newest first."""
        async with self.db.read_session() as session:
            row = await _get(session, community_id, name)
            rows = await session.scalars(
                select(InventoryCheckout)
                .where(InventoryCheckout.item_id == row.id)
                .order_by(InventoryCheckout.out_at.desc(), InventoryCheckout.id.desc())
                .limit(limit)
            )
            lendings = [
                CheckoutInfo(r.user_id, r.user_name, r.out_at, r.out_by, r.in_at, r.in_by)
                for r in rows
            ]
            return _info(row, await _labels(session, row.id)), lendings

    # ----- labels -------------------------------------------------------------------------

    async def add_label(self, community_id: int, name: str, label: str, *, actor: str = "") -> bool:
        """Label the item; False when it had that label already."""
        label = check_item_label(label)
        async with self.db.session() as session:
            row = await _get(session, community_id, name, lock=True)
            tags = await _labels(session, row.id)
            if label in tags:
                return False
            if len(tags) >= MAX_LABELS:
                raise LimitReached(f"{row.name} already has {MAX_LABELS} labels (the limit)")
            session.add(InventoryItemLabel(item_id=row.id, name=label))
            item = row.name
        self._changes.record("inventory.label.add", actor, community_id, item, {"label": label})
        return True

    async def remove_label(
        self, community_id: int, name: str, label: str, *, actor: str = ""
    ) -> bool:
        """Take a label off the item; False when it did not have it."""
        label = check_item_label(label)
        async with self.db.session() as session:
            row = await _get(session, community_id, name)
            result: Any = await session.execute(
                delete(InventoryItemLabel).where(
                    InventoryItemLabel.item_id == row.id, InventoryItemLabel.name == label
                )
            )
            item = row.name
        if not result.rowcount:
            return False
        self._changes.record("inventory.label.remove", actor, community_id, item, {"label": label})
        return True

    # ----- helpers ------------------------------------------------------------------------

    async def _by_id(self, item_id: int) -> ItemInfo:
        async with self.db.session() as session:
            row = await session.get(InventoryItem, item_id)
            if row is None:  # pragma: no cover - deleted in the instant since
                raise LookupError(f"no item {item_id}")
            return _info(row, await _labels(session, row.id))


async def _find(session: AsyncSession, community_id: int, name: str) -> InventoryItem | None:
    return await session.scalar(
        select(InventoryItem).where(
            InventoryItem.community_id == community_id,
            InventoryItem.name_key == name_key(name),
        )
    )


async def _get(
    session: AsyncSession, community_id: int, name: str, *, lock: bool = False
) -> InventoryItem:
    """The item, or :class:`UnknownItem`. ``lock`` holds its row until the transaction ends
    (PostgreSQL row lock; SQLite's write lock), for a check-then-write on it."""
    if lock:
        await session.execute(
            update(InventoryItem)
            .where(
                InventoryItem.community_id == community_id,
                InventoryItem.name_key == name_key(name),
            )
            .values(name_key=InventoryItem.name_key)
            .execution_options(synchronize_session=False)
        )
    row = await _find(session, community_id, name)
    if row is None:
        raise UnknownItem(" ".join(name.split()))
    return row


async def _labels(session: AsyncSession, item_id: int) -> builtins.list[str]:
    return list(
        await session.scalars(
            select(InventoryItemLabel.name)
            .where(InventoryItemLabel.item_id == item_id)
            .order_by(InventoryItemLabel.name)
        )
    )


def _info(row: InventoryItem, labels: Iterable[str]) -> ItemInfo:
    return record_of(ItemInfo, row, labels=tuple(labels))


__all__ = [
    "MAX_ITEMS",
    "MAX_LABELS",
    "STATES",
    "CheckoutInfo",
    "DuplicateItem",
    "InventoryError",
    "InventoryService",
    "ItemInfo",
    "ItemTaken",
    "LimitReached",
    "NotOut",
    "NotTheHolder",
    "State",
    "UnknownItem",
    "UnknownPerson",
    "check_item_label",
    "check_item_name",
]
