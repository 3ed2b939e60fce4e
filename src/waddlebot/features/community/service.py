"""Communities seen from chat: what a community is made of, its name, the places (entities) it
spans, and the roles people hold in it.

Places join a community with a one-time code: the owner of the community asks for a code for
a platform (``!community link twitch``), gets it by private message, and the owner of a place
on that platform types ``!community join <code>`` there. Both owners agree that way: one gives
the code, the other moves their place. A place that leaves a community (by joining another, or
with ``!community unlink``) never takes data along and never deletes any: the community it left
keeps everything, even when it has no places left.

Every change here rewrites what the router caches (``entity:<id>`` for a moved place,
``role:<community>:<user>`` for a changed role) so the next event sees it at once. The cache is
written with the new value rather than deleted: a refill from a read replica could still see
the old one.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

import orjson
from sqlalchemy import case, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from waddlebot.core.clock import Clock, SystemClock
from waddlebot.core.errors import NotAllowed, NotFound, UnknownCommunity, WaddleError
from waddlebot.core.events import PLATFORMS
from waddlebot.core.permissions import Level
from waddlebot.features.identity.models import LinkCode
from waddlebot.features.identity.service import hash_code, issue_code
from waddlebot.infra import keys
from waddlebot.infra.audit import AuditLog
from waddlebot.infra.changes import ChangeFeed
from waddlebot.infra.codec import dumps_compact
from waddlebot.infra.db.engine import Database
from waddlebot.infra.db.models import Community, Entity, Membership, User
from waddlebot.infra.db.records import escape_like
from waddlebot.infra.directory import (
    Directory,
    lock_community,
    lock_server,
    upsert_role,
)
from waddlebot.infra.ports import Cache

MAX_NAME = 200
ROLE_LEVELS = "role_levels"  # in a community's settings: {"discord:<guild>": {role id: level}}
TIMEZONE = "timezone"  # in a community's settings: an IANA zone name; UTC when absent
CACHE_TTL = 300.0  # as long as the router keeps what it looked up itself
GRANTABLE_ROLES = ("admin", "moderator")
_ROLE_ORDER = {"owner": 0, "admin": 1, "moderator": 2}


class CommunityError(WaddleError):
    """Something the person asking can fix about the community."""


class RoleRefused(NotAllowed, CommunityError):
    """The actor's level is too low for this role change."""


class OwnerUnchanged(NotAllowed, CommunityError):
    """The owner's role is not changed by the role commands."""


@dataclass(frozen=True, slots=True)
class CommunityInfo:
    id: int
    name: str
    prefix: str
    entities: list[str]
    owners: list[str]  # display names
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PlaceInfo:
    """A place of a community: a Twitch channel, a Discord channel of a server, a Slack
    workspace or channel, the console."""

    id: str  # the entity id, what !community unlink takes
    platform: str
    server_id: str
    channel_id: str
    name: str


@dataclass(frozen=True, slots=True)
class RoleChange:
    """The outcome of :meth:`CommunityService.set_role` / ``remove_role``."""

    previous: str | None  # the role before (None: not a member)
    role: str  # the role now

    @property
    def changed(self) -> bool:
        return (self.previous or "member") != self.role


@dataclass(frozen=True, slots=True)
class Member:
    user_id: int
    name: str  # display name
    role: str  # owner, admin, moderator or member


def clean_name(name: str) -> str:
    """A community name: runs of whitespace made single spaces, 1 to 200 characters."""
    cleaned = " ".join(name.split())
    if not cleaned:
        raise CommunityError("a community name cannot be empty")
    if len(cleaned) > MAX_NAME:
        raise CommunityError(f"a community name is at most {MAX_NAME} characters")
    return cleaned


class CommunityService:
    def __init__(
        self,
        db: Database,
        directory: Directory,
        cache: Cache,
        audit: AuditLog,
        clock: Clock | None = None,
        *,
        feed: ChangeFeed | None = None,
    ) -> None:
        self._db = db
        self._directory = directory
        self._cache = cache
        self._audit = audit
        self._clock = clock or SystemClock()
        self._feed = feed or ChangeFeed.unshared(cache)
        for kind in (keys.ENTITY_CHANGES, keys.ROLE_CHANGES, keys.ROLE_LEVEL_CHANGES):
            self._feed.watch(kind)

    @property
    def clock(self) -> Clock:
        return self._clock

    # ----- what a community is ------------------------------------------------------------

    async def info(self, community_id: int) -> CommunityInfo:
        async with self._db.session() as session:
            community = await session.get(Community, community_id)
            if community is None:
                raise UnknownCommunity(community_id)
            entities = await session.scalars(
                select(Entity.id).where(Entity.community_id == community_id).order_by(Entity.id)
            )
            owners = await session.scalars(
                select(User.display_name)
                .join(Membership, Membership.user_id == User.id)
                .where(Membership.community_id == community_id, Membership.role == "owner")
                .order_by(Membership.created_at, User.id)
            )
            return CommunityInfo(
                id=community.id,
                name=community.name,
                prefix=community.prefix,
                entities=list(entities),
                owners=list(owners),
                created_at=community.created_at,
            )

    async def rename(self, community_id: int, name: str, actor: str) -> str:
        """Rename the community; returns the name as stored (whitespace tidied)."""
        new = clean_name(name)
        async with self._db.session() as session:
            old = await session.scalar(select(Community.name).where(Community.id == community_id))
            if old is None:
                raise UnknownCommunity(community_id)
            await session.execute(
                update(Community).where(Community.id == community_id).values(name=new)
            )
        self._audit.change("community.rename", actor, new, community_id, {"old": old})
        return new

    # ----- time zone ----------------------------------------------------------------------

    async def timezone(self, community_id: int) -> ZoneInfo:
        """The community's time zone (``settings["timezone"]``), UTC when unset or unknown.
        Dates people type (events, reminders) are read in it."""
        async with self._db.read_session() as session:
            settings = await session.scalar(
                select(Community.settings).where(Community.id == community_id)
            )
        name = (settings or {}).get(TIMEZONE)
        try:
            return find_zone(name) if isinstance(name, str) else ZoneInfo("UTC")
        except CommunityError:
            return ZoneInfo("UTC")

    async def set_timezone(self, community_id: int, name: str, actor: str) -> ZoneInfo:
        """Set the community's time zone from an IANA name (any case: ``europe/berlin``)."""
        zone = find_zone(name)
        async with self._db.session() as session:
            settings = await lock_community(session, community_id)
            old = settings.get(TIMEZONE, "UTC")
            await session.execute(  # the column of the same name is kept in step
                update(Community)
                .where(Community.id == community_id)
                .values(settings={**settings, TIMEZONE: zone.key}, timezone=zone.key)
            )
        self._audit.change("community.timezone", actor, zone.key, community_id, {"old": old})
        return zone

    # ----- platform roles mapped to levels ------------------------------------------------

    async def set_role_level(
        self, community_id: int, server: str, role_id: str, level: int | None, actor: str
    ) -> None:
        """Let a platform role (a Discord role of the server ``discord:<guild>``) give a
        level in this community; ``None`` takes the mapping away."""
        async with self._db.session() as session:
            await lock_community(session, community_id)
            row = await session.get(Community, community_id)
            if row is None:
                raise UnknownCommunity(community_id)
            settings = dict(row.settings or {})
            mapped = {k: dict(v) for k, v in (settings.get(ROLE_LEVELS) or {}).items()}
            levels = mapped.setdefault(server, {})
            if level is None:
                levels.pop(role_id, None)
            else:
                levels[role_id] = int(level)
            row.settings = {**settings, ROLE_LEVELS: mapped}  # a new dict: JSON is replaced
        given = orjson.dumps(await self._role_levels(server))
        await self._feed.write(
            keys.ROLE_LEVEL_CHANGES, [(_role_levels_key(server), given)], CACHE_TTL
        )
        self._audit.change(
            "community.role_level",
            actor,
            f"{server}:role:{role_id}",
            community_id,
            {"level": level},
        )

    async def role_levels(self, server: str) -> dict[str, int]:
        """The levels the roles of a server (``discord:<guild>``) give, as the communities
        its places belong to mapped them (the highest when two mapped one role)."""
        cached = await self._cache.get(_role_levels_key(server))
        if cached is not None:
            return {str(k): int(v) for k, v in orjson.loads(cached).items()}
        found = await self._role_levels(server)
        await self._cache.add(_role_levels_key(server), orjson.dumps(found), CACHE_TTL)
        return found

    async def _role_levels(self, server: str) -> dict[str, int]:
        platform, _, server_id = server.partition(":")
        async with self._db.read_session() as session:
            rows = await session.scalars(
                select(Community.settings)
                .join(Entity, Entity.community_id == Community.id)
                .where(Entity.platform == platform, Entity.server_id == server_id)
                .distinct()
            )
            merged: dict[str, int] = {}
            for settings in rows:
                for role_id, level in (
                    (settings or {}).get(ROLE_LEVELS, {}).get(server) or {}
                ).items():
                    merged[role_id] = max(int(level), merged.get(role_id, 0))
        return merged

    # ----- places: link codes, join, unlink -----------------------------------------------

    async def start_link(self, community_id: int, platform: str, actor_user_id: int) -> str:
        """A one-time code (10 minutes) that moves a place on ``platform`` into this community
        when its owner types ``!community join <code>`` there. Only its hash is stored; an
        earlier code of this community for that platform stops working."""
        if platform not in PLATFORMS:
            raise CommunityError(f"the platform is one of {', '.join(PLATFORMS)}")
        async with self._db.session() as session:
            if await session.get(Community, community_id) is None:
                raise UnknownCommunity(community_id)
            code = await issue_code(
                session,
                self._clock.now(),
                purpose="community",
                platform=platform,
                user_id=actor_user_id,
                community_id=community_id,
                void_by=(LinkCode.community_id,),
            )
        self._audit.change("community.link.start", str(actor_user_id), platform, community_id)
        return code

    async def join(self, code: str, entity_id: str, platform: str, actor: str) -> tuple[int, int]:
        """Move the place ``entity_id`` (on ``platform``) into the community of ``code``;
        returns (that community, the one the place came from). The code is spent only when
        the move happens."""
        now = self._clock.now()
        given = hash_code(code)
        async with self._db.session() as session:
            candidates = (
                await session.scalars(
                    select(LinkCode).where(
                        LinkCode.purpose == "community", LinkCode.code_hash == given
                    )
                )
            ).all()
            found = next((c for c in candidates if hmac.compare_digest(c.code_hash, given)), None)
            if found is None or found.community_id is None:
                raise CommunityError("that code is wrong")
            if found.used_at is not None:
                raise CommunityError("that code was used already; ask for a new one")
            if found.expires_at <= now:
                raise CommunityError(
                    "that code has expired (codes last 10 minutes); ask for a new one"
                )
            if found.platform != platform:
                raise CommunityError(
                    f"that code is for adding a {found.platform} place; type it there"
                )
            target = found.community_id
            previous = await session.scalar(
                select(Entity.community_id).where(Entity.id == entity_id).with_for_update()
            )
            if previous is None:
                raise NotFound(f"no entity {entity_id!r}")
            if previous == target:
                raise CommunityError("this place belongs to that community already")
            spent: Any = await session.execute(
                update(LinkCode)
                .where(LinkCode.id == found.id, LinkCode.used_at.is_(None))
                .values(used_at=now)
            )
            if spent.rowcount != 1:  # someone else used it a moment ago
                raise CommunityError("that code was used already; ask for a new one")
            moved: Any = await session.execute(
                update(Entity)
                .where(Entity.id == entity_id, Entity.community_id == previous)
                .values(community_id=target)
            )
            if moved.rowcount != 1:  # pragma: no cover - the row is locked above
                raise CommunityError("this place just moved; try again")
            cached = await _cache_value(session, target)
        sides = ((target, {"from": previous}), (previous, {"to": target}))
        await self._moved("community.join", actor, entity_id, cached, sides)
        return target, previous

    async def attach(
        self,
        community_id: int,
        entity_id: str,
        platform: str,
        *,
        server_id: str = "",
        channel_id: str = "",
        name: str = "",
        actor: str,
    ) -> int | None:
        """Put a place into a community when its owner proved who they are on the platform
        (connecting a Twitch channel by OAuth, installing into a Slack workspace, say):
        created there, or moved from the community it was in (which keeps its data). With a
        ``server_id`` the server's other places move along, and its new ones follow. Returns
        the previous community."""
        async with self._db.session() as session:
            await lock_server(session, self._db.dialect, platform, server_id)
            await lock_community(session, community_id)
            previous = await session.scalar(
                select(Entity.community_id).where(Entity.id == entity_id).with_for_update()
            )
            if previous is None:
                session.add(
                    Entity(
                        id=entity_id,
                        community_id=community_id,
                        platform=platform,
                        server_id=server_id,
                        channel_id=channel_id,
                        name=name[:200],
                    )
                )
            moved = [entity_id]
            if server_id:
                moved += (
                    await session.scalars(
                        select(Entity.id).where(
                            Entity.platform == platform,
                            Entity.server_id == server_id,
                            Entity.id != entity_id,
                        )
                    )
                ).all()
            await session.execute(
                update(Entity).where(Entity.id.in_(moved)).values(community_id=community_id)
            )
            await session.flush()
            cached = await _cache_value(session, community_id)
        await self._feed.write(
            keys.ENTITY_CHANGES, [(keys.entity_key(e), cached) for e in moved], CACHE_TTL
        )
        if previous != community_id:
            self._audit.change(
                "community.attach", actor, entity_id, community_id, {"from": previous}
            )
        return previous

    async def places(self, community_id: int) -> list[PlaceInfo]:
        query = (
            select(Entity.id, Entity.platform, Entity.server_id, Entity.channel_id, Entity.name)
            .where(Entity.community_id == community_id)
            .order_by(Entity.platform, Entity.name, Entity.id)
        )
        async with self._db.read_session() as session:
            return [PlaceInfo(*row) for row in (await session.execute(query)).all()]

    async def unlink(self, community_id: int, entity_id: str, actor: str) -> int:
        """Move a place out of the community into a new community of its own (named after the
        place, with the same prefix, and no owner until the place's platform owner speaks);
        returns the new community's id. The community keeps all its data."""
        async with self._db.session() as session:
            await lock_community(session, community_id)
            places = list(
                (
                    await session.scalars(
                        select(Entity)
                        .where(Entity.community_id == community_id)
                        .order_by(Entity.id)
                        .with_for_update()
                    )
                ).all()
            )
            place = next((p for p in places if p.id == entity_id), None)
            if place is None:
                raise CommunityError(f"{entity_id} is not a place of this community")
            if len(places) == 1:
                raise CommunityError(
                    "that is the community's only place; there is nothing to unlink it from"
                )
            prefix = await session.scalar(
                select(Community.prefix).where(Community.id == community_id)
            )
            fresh = Community(name=(place.name or place.id)[:MAX_NAME], prefix=prefix or "!")
            session.add(fresh)
            await session.flush()
            place.community_id = fresh.id
            new_id, new_prefix = fresh.id, fresh.prefix
        fresh_entry = dumps_compact([new_id, new_prefix, False])
        sides = ((community_id, {"to": new_id}), (new_id, {"from": community_id}))
        await self._moved("community.unlink", actor, entity_id, fresh_entry, sides)
        return new_id

    async def entity_of(self, community_id: int, given: str) -> str | None:
        """The id of a place of this community as someone typed it: exactly, or (when only one
        place fits) with other capitals."""
        places = await self._directory.entity_ids(community_id)
        if given in places:
            return given
        fitting = [p for p in places if p.lower() == given.lower()]
        return fitting[0] if len(fitting) == 1 else None

    # ----- roles -------------------------------------------------------------------------

    async def role_of(self, community_id: int, user_id: int) -> str | None:
        """The user's role (None when not a member), read from the primary."""
        async with self._db.session() as session:
            return await _role(session, community_id, user_id)

    async def set_role(
        self,
        community_id: int,
        user_id: int,
        role: str,
        actor: str,
        *,
        actor_level: int | None = None,
    ) -> RoleChange:
        """Make the user an ``admin`` or ``moderator`` of the community. The owner role is
        neither given nor taken here. With ``actor_level``: only admins and up change roles,
        and only the owner gives, takes or changes the admin role (RoleRefused)."""
        if role not in GRANTABLE_ROLES:
            if role == "owner":
                raise CommunityError("nobody can be made owner this way; ownership is separate")
            raise CommunityError(f"the role is one of {', '.join(GRANTABLE_ROLES)}")
        async with self._db.session() as session:
            await lock_community(session, community_id)
            previous = await _role(session, community_id, user_id)
            _check_change(previous, role, actor_level)
            if previous != role:
                await upsert_role(session, self._db.dialect, community_id, user_id, role)
        change = RoleChange(previous, role)
        if change.changed:
            await self._after_role_change(community_id, user_id, change, "role.add", actor)
        return change

    async def remove_role(
        self, community_id: int, user_id: int, actor: str, *, actor_level: int | None = None
    ) -> RoleChange:
        """Take the user's admin or moderator role (they stay a member). Same rules as
        :meth:`set_role`; nothing changes for someone without a role."""
        async with self._db.session() as session:
            await lock_community(session, community_id)
            previous = await _role(session, community_id, user_id)
            if previous in (None, "member"):
                return RoleChange(previous, previous or "member")
            _check_change(previous, "member", actor_level)
            await upsert_role(session, self._db.dialect, community_id, user_id, "member")
        change = RoleChange(previous, "member")
        await self._after_role_change(community_id, user_id, change, "role.remove", actor)
        return change

    async def roles(self, community_id: int) -> list[tuple[str, str]]:
        """(display name, role) of the owner(s), admins and moderators: by rank, then name."""
        async with self._db.session() as session:
            rows = (
                await session.execute(
                    select(User.display_name, Membership.role)
                    .join(Membership, Membership.user_id == User.id)
                    .where(
                        Membership.community_id == community_id,
                        Membership.role.in_(tuple(_ROLE_ORDER)),
                    )
                )
            ).all()
        found = [(str(name), str(role)) for name, role in rows]
        return sorted(found, key=lambda item: (_ROLE_ORDER[item[1]], item[0].lower()))

    async def members(
        self, community_id: int, *, search: str = "", offset: int = 0, limit: int = 25
    ) -> tuple[list[Member], int]:
        """A page of the community's members (owner first, then admins, moderators, members;
        by name), whose display name contains ``search`` in any case, and how many match."""
        where = [Membership.community_id == community_id]
        if search:
            pattern = f"%{escape_like(search.casefold())}%"
            where.append(func.lower(User.display_name).like(pattern, escape="\\"))
        rank = case(_ROLE_ORDER, value=Membership.role, else_=len(_ROLE_ORDER))
        async with self._db.session() as session:
            total = await session.scalar(
                select(func.count()).select_from(Membership).join(User).where(*where)
            )
            rows = (
                await session.execute(
                    select(Membership.user_id, User.display_name, Membership.role)
                    .join(User, User.id == Membership.user_id)
                    .where(*where)
                    .order_by(rank, func.lower(User.display_name), Membership.user_id)
                    .offset(offset)
                    .limit(limit)
                )
            ).all()
        return [Member(int(u), str(n), str(r)) for u, n, r in rows], int(total or 0)

    async def _moved(
        self,
        action: str,
        actor: str,
        entity_id: str,
        entry: bytes,
        sides: tuple[tuple[int, dict[str, Any]], ...],
    ) -> None:
        """A place moved between communities: its cached entry is replaced, and the move is
        audited in each of the ``sides`` (a community, and what the log says there)."""
        await self._feed.write(
            keys.ENTITY_CHANGES, [(keys.entity_key(entity_id), entry)], CACHE_TTL
        )
        for community_id, detail in sides:
            self._audit.change(action, actor, entity_id, community_id, detail)

    async def _after_role_change(
        self, community_id: int, user_id: int, change: RoleChange, action: str, actor: str
    ) -> None:
        role = [(keys.role_key(community_id, user_id), change.role.encode())]
        await self._feed.write(keys.ROLE_CHANGES, role, CACHE_TTL)
        self._audit.record(
            action,
            decision="change",
            actor=actor,
            target=str(user_id),
            community_id=community_id,
            detail={"role": change.role, "previous": change.previous or ""},
        )


@lru_cache(maxsize=1)
def _zone_names() -> dict[str, str]:
    return {name.lower(): name for name in available_timezones()}


def find_zone(name: str) -> ZoneInfo:
    """The IANA time zone of that name, in any case; CommunityError when there is none."""
    wanted = name.strip()
    key = _zone_names().get(wanted.lower())
    if key is None:
        raise CommunityError(
            f"{wanted!r} is not a time zone; use an IANA name like Europe/Berlin, "
            "America/New_York or UTC"
        )
    return ZoneInfo(key)


def _check_change(previous: str | None, new: str, actor_level: int | None) -> None:
    if previous == "owner":
        raise OwnerUnchanged("the owner's role does not change this way; ownership is separate")
    if actor_level is None:
        return
    if actor_level < Level.ADMIN:
        raise RoleRefused("only admins and the owner can change roles")
    if "admin" in (previous, new) and previous != new and actor_level < Level.OWNER:
        raise RoleRefused("only the owner can make or unmake admins")


def assignable(previous: str | None, actor_level: int | None) -> tuple[str, ...]:
    """The roles (``member`` for none) someone acting at ``actor_level`` may give a person
    whose role is ``previous``, the one they have first: what :meth:`CommunityService.set_role`
    and ``remove_role`` would accept, for a form to offer no more. Empty: no change at all."""
    current = previous or "member"
    changes = []
    for role in ("member", *reversed(GRANTABLE_ROLES)):
        try:
            _check_change(previous, role, actor_level)
        except CommunityError:
            continue
        if role != current:
            changes.append(role)
    return (current, *changes) if changes else ()


async def _role(session: AsyncSession, community_id: int, user_id: int) -> str | None:
    return await session.scalar(
        select(Membership.role).where(
            Membership.community_id == community_id, Membership.user_id == user_id
        )
    )


def _role_levels_key(server: str) -> str:
    return f"role_levels:{server}"


async def _cache_value(session: AsyncSession, community_id: int) -> bytes:
    """What the router caches for a place of this community: [id, prefix, has_owner]."""
    prefix = await session.scalar(select(Community.prefix).where(Community.id == community_id))
    if prefix is None:
        raise UnknownCommunity(community_id)
    has_owner = bool(
        await session.scalar(
            select(
                exists().where(Membership.community_id == community_id, Membership.role == "owner")
            )
        )
    )
    return dumps_compact([community_id, prefix, has_owner])


__all__ = [
    "GRANTABLE_ROLES",
    "CommunityError",
    "CommunityInfo",
    "CommunityService",
    "RoleChange",
    "RoleRefused",
    "clean_name",
    "find_zone",
]
