"""Who and where: entities and their communities, users and their platform identities,
and members' roles.

Every "get or create" here is safe against concurrent callers in other processes: creation
relies on primary-key and unique constraints, and the loser of a race catches the
``IntegrityError`` and re-reads the winner's row from the primary.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from waddlebot.core.errors import UnknownCommunity
from waddlebot.core.parser import check_prefix
from waddlebot.infra.db.engine import Database
from waddlebot.infra.db.models import ROLES, Community, Entity, Identity, Membership, User


@dataclass(frozen=True, slots=True)
class ResolvedEntity:
    entity_id: str
    community_id: int
    prefix: str
    created: bool  # True when this call created the entity (and its community)


class Directory:
    def __init__(self, db: Database, *, default_prefix: str = "!") -> None:
        self.db = db
        self.default_prefix = check_prefix(default_prefix)

    # ----- entities and communities -------------------------------------------------------

    async def resolve_entity(
        self,
        entity_id: str,
        platform: str,
        *,
        server_id: str = "",
        channel_id: str = "",
        name: str = "",
    ) -> ResolvedEntity:
        """The community an entity belongs to. A new entity joins the community of its server
        (another channel of the same Discord guild or Slack workspace seen before, or the
        workspace an install bound), else gets a new community (named ``name``, or the
        entity id), created together with it in one transaction."""
        async with self.db.read_session() as session:
            found = await _entity_row(session, entity_id)
        if found is None:
            try:
                async with self.db.session() as session:
                    await lock_server(session, self.db.dialect, platform, server_id)
                    joined = await _server_community(session, platform, server_id)
                    if joined is None:
                        community = Community(
                            name=(name or entity_id)[:200], prefix=self.default_prefix
                        )
                        session.add(community)
                        await session.flush()
                        joined = (community.id, community.prefix)
                    session.add(
                        Entity(
                            id=entity_id,
                            community_id=joined[0],
                            platform=platform,
                            server_id=server_id,
                            channel_id=channel_id,
                            name=name[:200],
                        )
                    )
                    await session.flush()
                    return ResolvedEntity(entity_id, joined[0], joined[1], True)
            except IntegrityError:
                pass  # created meanwhile (by another process, or seen late by a replica)
            async with self.db.session() as session:
                found = await _entity_row(session, entity_id)
            if found is None:  # pragma: no cover - the conflicting row was deleted again
                raise LookupError(f"entity {entity_id!r} could not be created or found")
        community_id, prefix = found
        return ResolvedEntity(entity_id, community_id, prefix, False)

    async def get_prefix(self, community_id: int) -> str:
        """The community's command prefix; LookupError for an unknown community."""
        query = select(Community.prefix).where(Community.id == community_id)
        async with self.db.read_session() as session:
            prefix = await session.scalar(query)
        if prefix is None:  # perhaps just created and not replicated yet
            async with self.db.session() as session:
                prefix = await session.scalar(query)
        if prefix is None:
            raise UnknownCommunity(community_id)
        return prefix

    async def community_exists(self, community_id: int) -> bool:
        """Whether there is such a community (asked of the primary when a replica says no:
        it may have just been created)."""
        query = select(Community.id).where(Community.id == community_id)
        async with self.db.read_session() as session:
            if await session.scalar(query) is not None:
                return True
        async with self.db.session() as session:
            return await session.scalar(query) is not None

    async def entity_ids(self, community_id: int) -> list[str]:
        """The places (entities) of a community."""
        async with self.db.session() as session:
            rows = await session.scalars(
                select(Entity.id).where(Entity.community_id == community_id).order_by(Entity.id)
            )
            return list(rows)

    async def set_prefix(self, community_id: int, prefix: str) -> None:
        prefix = check_prefix(prefix)
        async with self.db.session() as session:
            result: Any = await session.execute(
                update(Community).where(Community.id == community_id).values(prefix=prefix)
            )
            if result.rowcount == 0:
                raise UnknownCommunity(community_id)

    # ----- users and identities -----------------------------------------------------------

    async def ensure_identity(
        self, platform: str, platform_user_id: str, login: str = "", display_name: str = ""
    ) -> int:
        """The user id behind a platform account, creating user and identity on first sight.

        A changed login or display name is written back (only when it differs; an empty
        value means "unknown" and never overwrites a known one)."""
        query = select(Identity.id, Identity.user_id, Identity.login, Identity.display_name).where(
            Identity.platform == platform, Identity.platform_user_id == platform_user_id
        )
        async with self.db.read_session() as session:
            row = (await session.execute(query)).first()
        if row is None:
            try:
                async with self.db.session() as session:
                    user = User(display_name=(display_name or login or platform_user_id)[:256])
                    session.add(user)
                    await session.flush()
                    session.add(
                        Identity(
                            user_id=user.id,
                            platform=platform,
                            platform_user_id=platform_user_id,
                            login=login[:128],
                            display_name=display_name[:256],
                        )
                    )
                    await session.flush()
                    return user.id
            except IntegrityError:
                pass  # another caller created this identity first
            async with self.db.session() as session:
                row = (await session.execute(query)).one()
        identity_id, user_id, known_login, known_display_name = row
        changes = {}
        if login and login[:128] != known_login:
            changes["login"] = login[:128]
        if display_name and display_name[:256] != known_display_name:
            changes["display_name"] = display_name[:256]
        if changes:
            async with self.db.session() as session:
                await session.execute(
                    update(Identity).where(Identity.id == identity_id).values(**changes)
                )
        return int(user_id)

    # ----- memberships --------------------------------------------------------------------

    async def member_role(self, community_id: int, user_id: int) -> str | None:
        """The user's role in the community; None when not a member. May lag a replica."""
        async with self.db.read_session() as session:
            return await session.scalar(
                select(Membership.role).where(
                    Membership.community_id == community_id, Membership.user_id == user_id
                )
            )

    async def communities_of(
        self, user_id: int, roles: Sequence[str]
    ) -> list[tuple[int, str, str]]:
        """The communities where the user holds one of ``roles``: (id, name, role), by name."""
        async with self.db.read_session() as session:
            rows = await session.execute(
                select(Community.id, Community.name, Membership.role)
                .join(Membership, Membership.community_id == Community.id)
                .where(Membership.user_id == user_id, Membership.role.in_(list(roles)))
                .order_by(Community.name, Community.id)
            )
            return [(int(i), str(n), str(r)) for i, n, r in rows]

    async def set_role(self, community_id: int, user_id: int, role: str) -> None:
        """Give the user this role in the community (making them a member if needed)."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; use one of: {', '.join(ROLES)}")
        async with self.db.session() as session:
            await upsert_role(session, self.db.dialect, community_id, user_id, role)

    async def has_owner(self, community_id: int) -> bool:
        async with self.db.read_session() as session:
            return bool(await session.scalar(select(_has_owner(community_id))))

    async def ensure_owner(self, community_id: int, user_id: int) -> bool:
        """Make the user the owner when the community has no owner yet; True when this call
        did. Used when a place's platform owner (e.g. the Twitch broadcaster) first speaks."""
        async with self.db.read_session() as session:
            if await session.scalar(select(_has_owner(community_id))):
                return False
        async with self.db.session() as session:
            await lock_community(session, community_id)
            if await session.scalar(select(_has_owner(community_id))):
                return False
            await upsert_role(session, self.db.dialect, community_id, user_id, "owner")
            return True


async def user_exists(db: Database, user_id: int) -> bool:
    """Whether there is such a user (on the primary: a merge may have just removed them)."""
    async with db.session() as session:
        return await session.scalar(select(User.id).where(User.id == user_id)) is not None


async def lock_community(session: AsyncSession, community_id: int) -> dict[str, Any]:
    """Serialise the writers of one community and return its settings.

    Touching the community's row takes a row lock on PostgreSQL and the database write lock
    on SQLite, held until the transaction ends: another writer's check-then-write for the
    same community waits here, and then sees this one's rows. LookupError when there is no
    such community."""
    settings = await session.scalar(
        update(Community)
        .where(Community.id == community_id)
        .values(prefix=Community.prefix)
        .returning(Community.settings)
        .execution_options(synchronize_session=False)
    )
    if settings is None:
        raise UnknownCommunity(community_id)
    return dict(settings)


async def upsert_role(
    session: AsyncSession, dialect: str, community_id: int, user_id: int, role: str
) -> None:
    """Give a user a role in a community, making them a member if needed.

    INSERT .. ON CONFLICT (PostgreSQL and SQLite alike): atomic, and unlike catching an
    IntegrityError it leaves the surrounding transaction usable on PostgreSQL."""
    insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(Membership).values(community_id=community_id, user_id=user_id, role=role)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[Membership.community_id, Membership.user_id],
            set_={"role": statement.excluded.role},
        )
    )


def _has_owner(community_id: int) -> Any:
    return exists().where(Membership.community_id == community_id, Membership.role == "owner")


async def lock_server(session: AsyncSession, dialect: str, platform: str, server_id: str) -> None:
    """Hold the server (a guild, a workspace) for this transaction, so two of its new places
    seen at once, or a place seen while the server is being installed elsewhere, end up in
    one community (PostgreSQL; SQLite writes one transaction at a time)."""
    if server_id and dialect == "postgresql":
        await session.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
            {"key": f"server:{platform}:{server_id}"},
        )


async def _server_community(
    session: AsyncSession, platform: str, server_id: str
) -> tuple[int, str] | None:
    """The community of the server's places, if one of them is known already."""
    if not server_id:
        return None
    row = (
        await session.execute(
            select(Community.id, Community.prefix)
            .join(Entity, Entity.community_id == Community.id)
            .where(Entity.platform == platform, Entity.server_id == server_id)
            .order_by(Entity.created_at, Entity.id)
            .limit(1)
        )
    ).first()
    return None if row is None else (row[0], row[1])


async def _entity_row(session: AsyncSession, entity_id: str) -> tuple[int, str] | None:
    row = (
        await session.execute(
            select(Community.id, Community.prefix)
            .join(Entity, Entity.community_id == Community.id)
            .where(Entity.id == entity_id)
        )
    ).first()
    return None if row is None else (row[0], row[1])
