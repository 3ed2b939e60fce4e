"""Labels: short names a community defines and applies to users (and to the community itself,
items, events and memories). A label may grant a permission level, and its name doubles as a
capability that modules check (``has_label(..., "event-autoapprove")``).

Assignments may expire; an expired one counts for nothing (every read and every limit ignores
it) until ``purge_expired()`` deletes it.

Limits (labels per user, on the community, per item, and labels defined) hold under concurrent
writers in other processes: every write transaction first touches the community's row, which
takes a row lock on PostgreSQL and the database write lock on SQLite until commit, so the count
and the insert after it cannot interleave with another writer's for the same community.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import ColumnElement, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from waddlebot.core.clock import Clock, SystemClock
from waddlebot.core.errors import LimitReached, Missing, Taken, UnknownCommunity, WaddleError
from waddlebot.core.permissions import Level
from waddlebot.features.labels.models import LABEL_TARGETS, Label, LabelAssignment
from waddlebot.infra.audit import AuditLog
from waddlebot.infra.changes import ChangeFeed
from waddlebot.infra.db.engine import Database
from waddlebot.infra.db.models import Community
from waddlebot.infra.directory import lock_community
from waddlebot.infra.ports import Cache

NAME_PATTERN = re.compile(r"^[a-z0-9_-]{1,32}$")
COLOUR_PATTERN = re.compile(r"^#[0-9a-f]{6}$")
MAX_DESCRIPTION = 200
MAX_TARGET_ID = 64
BULK_LIMIT = 1000

DEFAULT_LIMITS: dict[str, int] = {
    "per_user": 5,
    "per_community": 5,
    "per_item": 10,
    "definitions": 100,
}
_LIMIT_OF_TARGET = {
    "user": "per_user",
    "community": "per_community",
    "item": "per_item",
    "event": "per_item",
    "memory": "per_item",
}


class LabelError(WaddleError):
    """Something the person asking can fix about labels."""


class InvalidLabel(LabelError):
    """A malformed name, colour, description, level, target or expiry."""


class UnknownLabel(Missing, LabelError):
    noun = "label"


class DuplicateLabel(Taken, LabelError):
    noun = "label"


class LabelLimitReached(LimitReached, LabelError):
    """A target (or the community's definitions, ``target_type == ""``) is full."""

    def __init__(self, target_type: str, target_id: str, limit: int) -> None:
        if not target_type:
            message = f"this community already has {limit} labels defined (the limit here)"
        elif target_type == "community":
            message = f"the community already has {limit} labels (the limit here)"
        else:
            message = f"{target_type} {target_id} already has {limit} labels (the limit here)"
        super().__init__(message)
        self.target_type = target_type
        self.target_id = target_id
        self.limit = limit


class LabelLevelRefused(LabelError):
    """The label grants a level that is not below the actor's own (no escalation). A user
    error (422 over HTTP, as it has always been), not a kind of ``NotAllowed``."""

    def __init__(self, name: str, grants_level: int) -> None:
        super().__init__(
            f"{name} grants {level_name(grants_level)}; only someone above that level may "
            "hand it out or take it away"
        )
        self.name = name
        self.grants_level = grants_level


class TooManyTargets(LabelError):
    def __init__(self, count: int) -> None:
        super().__init__(f"at most {BULK_LIMIT} targets at once, not {count}")
        self.count = count


@dataclass(frozen=True, slots=True)
class LabelInfo:
    id: int
    community_id: int
    name: str
    colour: str
    description: str
    grants_level: int | None


@dataclass(frozen=True, slots=True)
class AssignmentInfo:
    label: LabelInfo
    target_type: str
    target_id: str
    assigned_by: str
    created_at: datetime
    expires_at: datetime | None


def level_name(level: int) -> str:
    """``vip`` for 300; the number for a value that is not a level."""
    try:
        return Level(level).label
    except ValueError:
        return str(level)


def check_name(name: str) -> str:
    """The label name, lower-cased; InvalidLabel when it is not 1-32 of ``a-z 0-9 - _``."""
    normal = name.strip().lower()
    if not NAME_PATTERN.fullmatch(normal):
        raise InvalidLabel(
            f"{name!r} is not a label name: use 1 to 32 lower case letters, digits, - or _"
        )
    return normal


def check_colour(colour: str) -> str:
    normal = colour.strip().lower()
    if normal and not COLOUR_PATTERN.fullmatch(normal):
        raise InvalidLabel(f"{colour!r} is not a colour: write it as #rrggbb, e.g. #1e90ff")
    return normal


def check_level(level: int | None) -> int | None:
    if level is None:
        return None
    if level not in {int(known) for known in Level}:
        choices = ", ".join(f"{known.label} ({int(known)})" for known in Level)
        raise InvalidLabel(f"{level!r} is not a permission level; use one of: {choices}")
    return int(level)


def check_target(target_type: str, target_id: str) -> tuple[str, str]:
    if target_type not in LABEL_TARGETS:
        raise InvalidLabel(
            f"labels apply to {', '.join(LABEL_TARGETS)}, not to {target_type!r} targets"
        )
    target_id = str(target_id).strip()
    if not target_id or len(target_id) > MAX_TARGET_ID:
        raise InvalidLabel(f"a target id is 1 to {MAX_TARGET_ID} characters, not {target_id!r}")
    return target_type, target_id


def limits_from_settings(settings: Mapping[str, Any] | None) -> dict[str, int]:
    """The label limits of a community: ``settings["labels"]``, defaults for what is absent or
    not a whole number of at least 0."""
    limits = dict(DEFAULT_LIMITS)
    configured = (settings or {}).get("labels")
    if isinstance(configured, Mapping):
        for key in limits:
            value = configured.get(key)
            if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                limits[key] = value
    return limits


def _info(label: Label) -> LabelInfo:
    return LabelInfo(
        label.id,
        label.community_id,
        label.name,
        label.colour,
        label.description,
        label.grants_level,
    )


GRANTS_TTL = 300.0
GRANT_CHANGES = "label_grants"  # every process hears of them (infra/changes.py)


def grants_key(community_id: int) -> str:
    """Cache key of a community's label-granted levels."""
    return f"label-grants:{community_id}"


class LabelService:
    def __init__(
        self,
        db: Database,
        audit: AuditLog,
        clock: Clock | None = None,
        *,
        cache: Cache | None = None,
        feed: ChangeFeed | None = None,
    ) -> None:
        self.db = db
        self.audit = audit
        self.clock: Clock = clock or SystemClock()
        # the router asks for level grants on every batch: keep each community's grants in
        # the cache, dropped (in every process) on every change and kept no longer than the
        # next expiry
        self._cache = cache
        self._feed = feed or (ChangeFeed.unshared(cache) if cache is not None else None)
        if self._feed is not None:
            self._feed.watch(GRANT_CHANGES)

    async def _forget_grants(self, *community_ids: int) -> None:
        if self._feed is not None and community_ids:
            stale = [(grants_key(c), None) for c in community_ids]
            await self._feed.write(GRANT_CHANGES, stale, None)

    # ----- definitions --------------------------------------------------------------------

    async def create(
        self,
        community_id: int,
        name: str,
        *,
        colour: str = "",
        description: str = "",
        grants_level: int | None = None,
        actor: str = "",
        actor_level: int | None = None,
    ) -> LabelInfo:
        """Define a label. With ``actor_level``, a label granting a level not below it is
        refused (LabelLevelRefused)."""
        name = check_name(name)
        colour = check_colour(colour)
        description = " ".join(description.split())
        if len(description) > MAX_DESCRIPTION:
            raise InvalidLabel(f"a description is at most {MAX_DESCRIPTION} characters")
        grants_level = check_level(grants_level)
        _check_actor_level(name, grants_level, actor_level)
        async with self.db.session() as session:
            limits = await _lock_community(session, community_id)
            taken = await session.scalar(
                select(Label.id).where(Label.community_id == community_id, Label.name == name)
            )
            if taken is not None:
                raise DuplicateLabel(name)
            defined = await session.scalar(
                select(func.count()).select_from(Label).where(Label.community_id == community_id)
            )
            if (defined or 0) >= limits["definitions"]:
                raise LabelLimitReached("", "", limits["definitions"])
            label = Label(
                community_id=community_id,
                name=name,
                colour=colour,
                description=description,
                grants_level=grants_level,
                created_at=self.clock.now(),
            )
            session.add(label)
            await session.flush()
            info = _info(label)
        self.audit.record(
            "label.create",
            decision="change",
            actor=actor,
            target=f"label:{name}",
            community_id=community_id,
            detail={"colour": colour, "description": description, "grants_level": grants_level},
        )
        return info

    async def delete(
        self, community_id: int, name: str, actor: str = "", *, actor_level: int | None = None
    ) -> int:
        """Delete a label and every assignment of it; returns how many (unexpired) targets
        had it. With ``actor_level``, a label granting a level not below it is refused."""
        name = check_name(name)
        now = self.clock.now()
        async with self.db.session() as session:
            await _lock_community(session, community_id)
            label = await _label(session, community_id, name)
            _check_actor_level(name, label.grants_level, actor_level)
            had = await session.scalar(
                select(func.count())
                .select_from(LabelAssignment)
                .where(LabelAssignment.label_id == label.id, _unexpired(now))
            )
            await session.execute(
                delete(LabelAssignment).where(LabelAssignment.label_id == label.id)
            )
            await session.execute(delete(Label).where(Label.id == label.id))
        await self._forget_grants(community_id)
        self.audit.record(
            "label.delete",
            decision="change",
            actor=actor,
            target=f"label:{name}",
            community_id=community_id,
            detail={"grants_level": label.grants_level, "assignments": had or 0},
        )
        return int(had or 0)

    async def limits(self, community_id: int) -> dict[str, int]:
        query = select(Community.settings).where(Community.id == community_id)
        async with self.db.session() as session:
            settings = await session.scalar(query)
        if settings is None:
            raise UnknownCommunity(community_id)
        return limits_from_settings(settings)

    async def set_limits(
        self, community_id: int, changes: Mapping[str, int], actor: str = ""
    ) -> dict[str, int]:
        """Change some of the community's label limits; returns all of them."""
        unknown = set(changes) - set(DEFAULT_LIMITS)
        if unknown or any(v < 0 for v in changes.values()):
            raise InvalidLabel(
                f"limits are whole numbers of at least 0 for {', '.join(DEFAULT_LIMITS)}"
            )
        async with self.db.session() as session:
            settings = await lock_community(session, community_id)
            limits = {**limits_from_settings(settings), **changes}
            await session.execute(
                update(Community)
                .where(Community.id == community_id)
                .values(settings={**settings, "labels": limits})
            )
        self.audit.record(
            "label.limits",
            decision="change",
            actor=actor,
            community_id=community_id,
            detail=dict(changes),
        )
        return limits

    async def list(self, community_id: int) -> builtins.list[LabelInfo]:
        """The community's labels by name. May lag a replica."""
        async with self.db.read_session() as session:
            rows = await session.scalars(
                select(Label).where(Label.community_id == community_id).order_by(Label.name)
            )
            return [_info(label) for label in rows]

    async def get(self, community_id: int, name: str) -> LabelInfo:
        """One label; UnknownLabel when the community has none of that name."""
        name = check_name(name)
        async with self.db.read_session() as session:
            label = await session.scalar(
                select(Label).where(Label.community_id == community_id, Label.name == name)
            )
        if label is None:
            raise UnknownLabel(name)
        return _info(label)

    # ----- assignments --------------------------------------------------------------------

    async def apply(
        self,
        community_id: int,
        name: str,
        target_type: str,
        target_id: str,
        *,
        actor: str = "",
        expires_at: datetime | None = None,
        actor_level: int | None = None,
    ) -> AssignmentInfo:
        """Apply a label to a target (until ``expires_at``, or for good). Re-applying one the
        target has updates its expiry. Raises LabelLimitReached when the target is full, and
        with ``actor_level`` LabelLevelRefused for a label granting a level not below it."""
        name = check_name(name)
        target_type, target_id = check_target(target_type, target_id)
        now = self.clock.now()
        _check_expiry(expires_at, now)
        async with self.db.session() as session:
            limits = await _lock_community(session, community_id)
            label = await _label(session, community_id, name)
            _check_actor_level(name, label.grants_level, actor_level)
            existing = await session.scalar(
                select(LabelAssignment).where(
                    LabelAssignment.label_id == label.id,
                    LabelAssignment.target_type == target_type,
                    LabelAssignment.target_id == target_id,
                )
            )
            live = existing is not None and _is_live(existing.expires_at, now)
            if not live:
                held = await session.scalar(
                    select(func.count())
                    .select_from(LabelAssignment)
                    .where(
                        LabelAssignment.community_id == community_id,
                        LabelAssignment.target_type == target_type,
                        LabelAssignment.target_id == target_id,
                        _unexpired(now),
                    )
                )
                limit = limits[_LIMIT_OF_TARGET[target_type]]
                if (held or 0) >= limit:
                    raise LabelLimitReached(target_type, target_id, limit)
            if existing is None:
                existing = LabelAssignment(
                    label_id=label.id,
                    community_id=community_id,
                    target_type=target_type,
                    target_id=target_id,
                    assigned_by=actor[:256],
                    created_at=now,
                    expires_at=expires_at,
                )
                session.add(existing)
            elif live:
                existing.expires_at = expires_at
            else:  # an expired leftover: it counts as a new assignment
                existing.assigned_by = actor[:256]
                existing.created_at = now
                existing.expires_at = expires_at
            await session.flush()
            assignment = AssignmentInfo(
                _info(label),
                target_type,
                target_id,
                existing.assigned_by,
                existing.created_at,
                existing.expires_at,
            )
        await self._forget_grants(community_id)
        self.audit.record(
            "label.apply",
            decision="change",
            actor=actor,
            target=f"{target_type}:{target_id}",
            community_id=community_id,
            detail={
                "label": name,
                "expires_at": expires_at.isoformat() if expires_at else None,
                "renewed": live,
            },
        )
        return assignment

    async def remove(
        self,
        community_id: int,
        name: str,
        target_type: str,
        target_id: str,
        actor: str = "",
        *,
        actor_level: int | None = None,
    ) -> bool:
        """Take a label off a target; False when the target did not have it (an expired
        assignment counts as not having it, and is deleted all the same)."""
        name = check_name(name)
        target_type, target_id = check_target(target_type, target_id)
        now = self.clock.now()
        async with self.db.session() as session:
            await _lock_community(session, community_id)
            label = await _label(session, community_id, name)
            _check_actor_level(name, label.grants_level, actor_level)
            expires = (
                await session.execute(
                    delete(LabelAssignment)
                    .where(
                        LabelAssignment.label_id == label.id,
                        LabelAssignment.target_type == target_type,
                        LabelAssignment.target_id == target_id,
                    )
                    .returning(LabelAssignment.expires_at)
                )
            ).all()
        removed = any(_is_live(row[0], now) for row in expires)
        if removed:
            await self._forget_grants(community_id)
            self.audit.record(
                "label.remove",
                decision="change",
                actor=actor,
                target=f"{target_type}:{target_id}",
                community_id=community_id,
                detail={"label": name},
            )
        return removed

    async def bulk_apply(
        self,
        community_id: int,
        name: str,
        target_type: str,
        target_ids: Sequence[str],
        *,
        actor: str = "",
        expires_at: datetime | None = None,
        actor_level: int | None = None,
    ) -> int:
        """Apply a label to up to 1,000 targets in one transaction, all or nothing: when any
        target would exceed its limit nothing is applied and LabelLimitReached names the first
        such target. Targets that have the label already get the new expiry. Returns how many
        targets did not have the label before."""
        name = check_name(name)
        if isinstance(target_ids, str):
            raise InvalidLabel("target_ids is a list of target ids, not one string")
        if len(target_ids) > BULK_LIMIT:
            raise TooManyTargets(len(target_ids))
        wanted: dict[str, None] = {}  # distinct, in the order given
        for raw in target_ids:
            wanted[check_target(target_type, raw)[1]] = None
        targets = builtins.list(wanted)
        now = self.clock.now()
        _check_expiry(expires_at, now)
        async with self.db.session() as session:
            limits = await _lock_community(session, community_id)
            label = await _label(session, community_id, name)
            _check_actor_level(name, label.grants_level, actor_level)
            if not targets:
                return 0
            existing = {
                row.target_id: row.expires_at
                for row in (
                    await session.execute(
                        select(LabelAssignment.target_id, LabelAssignment.expires_at).where(
                            LabelAssignment.label_id == label.id,
                            LabelAssignment.target_type == target_type,
                            LabelAssignment.target_id.in_(targets),
                        )
                    )
                )
            }
            fresh = [t for t in targets if t not in existing or not _is_live(existing[t], now)]
            held: dict[str, int] = {}
            if fresh:
                counted = await session.execute(
                    select(LabelAssignment.target_id, func.count())
                    .where(
                        LabelAssignment.community_id == community_id,
                        LabelAssignment.target_type == target_type,
                        LabelAssignment.target_id.in_(fresh),
                        _unexpired(now),
                    )
                    .group_by(LabelAssignment.target_id)
                )
                held = {target: int(number) for target, number in counted}
            limit = limits[_LIMIT_OF_TARGET[target_type]]
            for target in fresh:
                if held.get(target, 0) >= limit:
                    raise LabelLimitReached(target_type, target, limit)
            renewed = [t for t in targets if t not in fresh]
            if renewed:
                await session.execute(
                    update(LabelAssignment)
                    .where(
                        LabelAssignment.label_id == label.id,
                        LabelAssignment.target_type == target_type,
                        LabelAssignment.target_id.in_(renewed),
                    )
                    .values(expires_at=expires_at)
                    .execution_options(synchronize_session=False)
                )
            leftovers = [t for t in fresh if t in existing]  # expired: start over
            if leftovers:
                await session.execute(
                    update(LabelAssignment)
                    .where(
                        LabelAssignment.label_id == label.id,
                        LabelAssignment.target_type == target_type,
                        LabelAssignment.target_id.in_(leftovers),
                    )
                    .values(assigned_by=actor[:256], created_at=now, expires_at=expires_at)
                    .execution_options(synchronize_session=False)
                )
            new = [t for t in fresh if t not in existing]
            if new:
                await session.execute(
                    insert(LabelAssignment),
                    [
                        {
                            "label_id": label.id,
                            "community_id": community_id,
                            "target_type": target_type,
                            "target_id": target,
                            "assigned_by": actor[:256],
                            "created_at": now,
                            "expires_at": expires_at,
                        }
                        for target in new
                    ],
                )
        await self._forget_grants(community_id)
        self.audit.record(
            "label.bulk_apply",
            decision="change",
            actor=actor,
            target=f"label:{name}",
            community_id=community_id,
            detail={
                "label": name,
                "target_type": target_type,
                "targets": targets,
                "added": len(fresh),
                "renewed": len(renewed),
                "expires_at": expires_at.isoformat() if expires_at else None,
            },
        )
        return len(fresh)

    # ----- reads --------------------------------------------------------------------------

    async def labels_of(
        self, community_id: int, target_type: str, target_id: str
    ) -> builtins.list[AssignmentInfo]:
        """The target's unexpired labels, by name (one join). May lag a replica."""
        target_type, target_id = check_target(target_type, target_id)
        query = (
            select(Label, LabelAssignment)
            .join(LabelAssignment, LabelAssignment.label_id == Label.id)
            .where(
                LabelAssignment.community_id == community_id,
                LabelAssignment.target_type == target_type,
                LabelAssignment.target_id == target_id,
                _unexpired(self.clock.now()),
            )
            .order_by(Label.name)
        )
        async with self.db.read_session() as session:
            rows = (await session.execute(query)).all()
        return [
            AssignmentInfo(
                _info(label),
                assignment.target_type,
                assignment.target_id,
                assignment.assigned_by,
                assignment.created_at,
                assignment.expires_at,
            )
            for label, assignment in rows
        ]

    async def granted_level(self, community_id: int, user_id: int) -> int | None:
        """The highest level the user's unexpired labels grant here; None when none does.
        May lag a replica."""
        query = (
            select(func.max(Label.grants_level))
            .join(LabelAssignment, LabelAssignment.label_id == Label.id)
            .where(
                LabelAssignment.community_id == community_id,
                LabelAssignment.target_type == "user",
                LabelAssignment.target_id == str(user_id),
                _unexpired(self.clock.now()),
            )
        )
        async with self.db.read_session() as session:
            level = await session.scalar(query)
        return None if level is None else int(level)

    async def granted_levels(
        self, pairs: Collection[tuple[int, int]]
    ) -> dict[tuple[int, int], int]:
        """:meth:`granted_level` for many (community id, user id) pairs at once (the router
        asks once per batch); pairs whose labels grant nothing are left out."""
        if not pairs:
            return {}
        communities = sorted({community for community, _ in pairs})
        grants = await self._community_grants(communities)
        found = {(c, u): grants[c][u] for c, u in pairs if u in grants.get(c, {})}
        return found

    async def _community_grants(self, communities: builtins.list[int]) -> dict[int, dict[int, int]]:
        """Per community: user id → the highest level their unexpired labels grant."""
        grants: dict[int, dict[int, int]] = {}
        missing = communities
        if self._cache is not None:
            cached = await self._cache.get_many([grants_key(c) for c in communities])
            missing = builtins.list[int]()
            for community, raw in zip(communities, cached, strict=True):
                if raw is None:
                    missing.append(community)
                else:
                    grants[community] = {int(u): level for u, level in orjson.loads(raw).items()}
        if not missing:
            return grants
        now = self.clock.now()
        query = (
            select(
                LabelAssignment.community_id,
                LabelAssignment.target_id,
                func.max(Label.grants_level),
                func.min(LabelAssignment.expires_at),
            )
            .join(Label, Label.id == LabelAssignment.label_id)
            .where(
                LabelAssignment.community_id.in_(missing),
                LabelAssignment.target_type == "user",
                Label.grants_level.is_not(None),
                _unexpired(now),
            )
            .group_by(LabelAssignment.community_id, LabelAssignment.target_id)
        )
        async with self.db.session() as session:  # the primary: a grant applies at once
            rows = (await session.execute(query)).all()
        loaded: dict[int, dict[int, int]] = {c: {} for c in missing}
        next_expiry: dict[int, float] = {c: GRANTS_TTL for c in missing}
        for community, user, level, expires in rows:
            if level is None or not str(user).isdigit():
                continue
            loaded[community][int(user)] = int(level)
            if expires is not None:
                left = max((expires - now).total_seconds(), 0.001)
                next_expiry[community] = min(next_expiry[community], left)
        grants.update(loaded)
        if self._cache is not None:
            for community, users in loaded.items():
                await self._cache.set(
                    grants_key(community),
                    orjson.dumps({str(u): level for u, level in users.items()}),
                    next_expiry[community],
                )
        return grants

    async def has_label(
        self, community_id: int, target_type: str, target_id: str, name: str
    ) -> bool:
        """Whether the target has this label (unexpired). May lag a replica."""
        target_type, target_id = check_target(target_type, target_id)
        name = check_name(name)
        query = select(
            select(LabelAssignment.id)
            .join(Label, Label.id == LabelAssignment.label_id)
            .where(
                Label.community_id == community_id,
                Label.name == name,
                LabelAssignment.target_type == target_type,
                LabelAssignment.target_id == target_id,
                _unexpired(self.clock.now()),
            )
            .exists()
        )
        async with self.db.read_session() as session:
            return bool(await session.scalar(query))

    # ----- housekeeping -------------------------------------------------------------------

    async def purge_expired(self) -> int:
        """Delete every expired assignment, in all communities; returns how many."""
        async with self.db.session() as session:
            result: Any = await session.execute(
                delete(LabelAssignment)
                .where(LabelAssignment.expires_at <= self.clock.now())
                .execution_options(synchronize_session=False)
            )
            purged = int(result.rowcount or 0)
        if purged:
            self.audit.record("label.purge", decision="change", detail={"assignments": purged})
        return purged


def _unexpired(now: datetime) -> ColumnElement[bool]:
    return or_(LabelAssignment.expires_at.is_(None), LabelAssignment.expires_at > now)


def _is_live(expires_at: datetime | None, now: datetime) -> bool:
    return expires_at is None or expires_at > now


def _check_expiry(expires_at: datetime | None, now: datetime) -> None:
    if expires_at is None:
        return
    if expires_at.tzinfo is None:
        raise InvalidLabel("an expiry must be an aware datetime (UTC)")
    if expires_at <= now:
        raise InvalidLabel("that expiry is already in the past")


def _check_actor_level(name: str, grants_level: int | None, actor_level: int | None) -> None:
    if grants_level is not None and actor_level is not None and actor_level <= grants_level:
        raise LabelLevelRefused(name, grants_level)


async def _lock_community(session: AsyncSession, community_id: int) -> dict[str, int]:
    """Serialise this community's label writers and return its label limits."""
    return limits_from_settings(await lock_community(session, community_id))


async def _label(session: AsyncSession, community_id: int, name: str) -> Label:
    label = await session.scalar(
        select(Label).where(Label.community_id == community_id, Label.name == name)
    )
    if label is None:
        raise UnknownLabel(name)
    return label


__all__ = [
    "BULK_LIMIT",
    "DEFAULT_LIMITS",
    "AssignmentInfo",
    "DuplicateLabel",
    "InvalidLabel",
    "LabelError",
    "LabelInfo",
    "LabelLevelRefused",
    "LabelLimitReached",
    "LabelService",
    "TooManyTargets",
    "UnknownLabel",
    "check_name",
    "level_name",
    "limits_from_settings",
]
