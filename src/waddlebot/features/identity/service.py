"""Cross-platform identity: linking accounts on several platforms to one person.

The flow: ``!identity link discord alice`` on Twitch creates a one-time code, sent to alice on
Discord by private message; she types ``!verify <code>`` there, and the two accounts (and
everything written under either) belong to one user from then on.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from waddlebot.core.clock import Clock, SystemClock
from waddlebot.core.errors import WaddleError
from waddlebot.features import person_columns, person_merges
from waddlebot.features.identity import apikeys
from waddlebot.features.identity.models import Account, LinkCode
from waddlebot.features.labels.models import LabelAssignment
from waddlebot.features.labels.service import grants_key
from waddlebot.infra import keys
from waddlebot.infra.audit import AuditLog
from waddlebot.infra.changes import ChangeFeed
from waddlebot.infra.db.engine import Database
from waddlebot.infra.db.models import Identity, Membership, User
from waddlebot.infra.directory import Directory, upsert_role
from waddlebot.infra.ports import Cache
from waddlebot.infra.secretbox import SecretBox

# letters and digits that cannot be mistaken for each other (no 0/O, 1/I/L)
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8
CODE_LIFETIME = timedelta(minutes=10)
RESEND_COOLDOWN = timedelta(seconds=60)
MAX_ATTEMPTS = 5
_ROLE_RANK = {"member": 0, "moderator": 1, "admin": 2, "owner": 3}


class IdentityError(WaddleError):
    """Something the person asking can fix about linking accounts."""


@dataclass(frozen=True, slots=True)
class IdentityInfo:
    platform: str
    platform_user_id: str
    login: str
    display_name: str

    @property
    def name(self) -> str:
        return self.display_name or self.login or self.platform_user_id


@dataclass(frozen=True, slots=True)
class PendingLink:
    code: str  # plaintext, to send once; only its hash is stored
    platform: str
    platform_user_id: str


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def hash_code(code: str) -> str:
    return hashlib.sha256(code.strip().upper().encode()).hexdigest()


async def issue_code(
    session: AsyncSession,
    now: datetime,
    *,
    purpose: str,
    platform: str,
    user_id: int | None = None,
    community_id: int | None = None,
    platform_user_id: str = "",
    void_by: Sequence[InstrumentedAttribute[Any]],
) -> str:
    """A new one-time code (only its hash is stored). Unused codes of the same purpose and
    platform that agree with the new one on the ``void_by`` columns stop working."""
    values = {
        "purpose": purpose,
        "platform": platform,
        "user_id": user_id,
        "community_id": community_id,
        "platform_user_id": platform_user_id,
    }
    same = [column == values[column.key] for column in void_by]
    await session.execute(
        update(LinkCode)
        .where(
            LinkCode.purpose == purpose,
            LinkCode.platform == platform,
            LinkCode.used_at.is_(None),
            *same,
        )
        .values(used_at=now)
    )
    code = new_code()
    session.add(
        LinkCode(
            **values, code_hash=hash_code(code), created_at=now, expires_at=now + CODE_LIFETIME
        )
    )
    return code


class IdentityService:
    def __init__(
        self,
        db: Database,
        cache: Cache,
        audit: AuditLog,
        directory: Directory,
        clock: Clock | None = None,
        *,
        feed: ChangeFeed | None = None,
        sealer: SecretBox | None = None,
    ) -> None:
        self._db = db
        self._sealer = sealer  # new keys are sealed for Kong with it (apikeys.create_key)
        self._directory = directory
        self._cache = cache
        self._audit = audit
        self._clock = clock or SystemClock()
        self._feed = feed or ChangeFeed.unshared(cache)
        self._feed.watch(keys.PEOPLE_CHANGES)

    # ----- looking people up ---------------------------------------------------------------

    async def identities(self, user_id: int) -> list[IdentityInfo]:
        query = (
            select(
                Identity.platform, Identity.platform_user_id, Identity.login, Identity.display_name
            )
            .where(Identity.user_id == user_id)
            .order_by(Identity.platform, Identity.id)
        )
        async with self._db.session() as session:
            return [IdentityInfo(*row) for row in (await session.execute(query)).all()]

    async def find(self, platform: str, name: str) -> tuple[int, IdentityInfo] | None:
        """A known account on ``platform`` by login, display name or platform id (a leading
        ``@`` is ignored, case does not matter): (user id, identity)."""
        wanted = name.strip().lstrip("@")
        if not wanted:
            return None
        lowered = wanted.lower()
        query = (
            select(
                Identity.user_id,
                Identity.platform,
                Identity.platform_user_id,
                Identity.login,
                Identity.display_name,
            )
            .where(
                Identity.platform == platform,
                (Identity.platform_user_id == wanted)
                | (func.lower(Identity.login) == lowered)
                | (func.lower(Identity.display_name) == lowered),
            )
            .order_by(Identity.id)
            .limit(1)
        )
        async with self._db.session() as session:
            row = (await session.execute(query)).first()
        if row is None:
            return None
        return int(row[0]), IdentityInfo(*row[1:])

    async def person_of(self, platform: str, platform_user_id: str) -> int | None:
        """Whose the account with this platform id is (exactly that id, no names): the person
        an OAuth sign-in with it signs in."""
        query = select(Identity.user_id).where(
            Identity.platform == platform, Identity.platform_user_id == platform_user_id
        )
        async with self._db.session() as session:
            found = (await session.execute(query)).scalar_one_or_none()
        return int(found) if found is not None else None

    async def find_or_greet(self, platform: str, name: str) -> tuple[int, IdentityInfo] | None:
        """:meth:`find`, except that on the console, where a name is the account, an unknown
        name is an account too."""
        found = await self.find(platform, name)
        if found is None and platform == "console" and name.strip().lstrip("@"):
            account = name.strip().lstrip("@")
            user_id = await self._directory.ensure_identity("console", account, login=account)
            return user_id, IdentityInfo("console", account, account, "")
        return found

    async def find_user(self, platform: str, name: str) -> int | None:
        found = await self.find(platform, name)
        return found[0] if found else None

    # ----- a person's API keys ---------------------------------------------------------------

    async def create_key(
        self,
        user_id: int,
        name: str,
        scopes: str | Sequence[str] = "*",
        expires_at: datetime | None = None,
        *,
        actor: str = "",
    ) -> tuple[apikeys.ApiKeyInfo, str]:
        """A key acting as the person (``expires_at``: by default a year from now)."""
        return await apikeys.create_key(
            self._db,
            name,
            scopes,
            kind="user",
            user_id=user_id,
            expires_at=expires_at,
            actor=actor or f"user:{user_id}",
            sealer=self._sealer,
        )

    async def keys(self, user_id: int) -> list[apikeys.ApiKeyInfo]:
        return await apikeys.user_keys(self._db, user_id)

    async def revoke_key(self, user_id: int, name: str, *, actor: str = "") -> str | None:
        """The revoked key's id; None when the person has no key of that name."""
        return await apikeys.revoke_user_key(
            self._db, user_id, name, actor=actor or f"user:{user_id}"
        )

    # ----- linking -------------------------------------------------------------------------

    async def start_link(self, user_id: int, platform: str, platform_user_id: str) -> PendingLink:
        """A fresh code for linking that account to ``user_id`` (earlier codes of this user
        for that account stop working)."""
        async with self._db.session() as session:
            code = await issue_code(
                session,
                self._clock.now(),
                purpose="identity",
                platform=platform,
                user_id=user_id,
                platform_user_id=platform_user_id,
                void_by=(LinkCode.user_id, LinkCode.platform_user_id),
            )
        self._audit.record(
            "identity.link.start",
            decision="change",
            actor=str(user_id),
            target=f"{platform}:{platform_user_id}",
        )
        return PendingLink(code, platform, platform_user_id)

    async def resend(self, user_id: int) -> PendingLink:
        """A new code for this user's most recent pending link, at most once a minute."""
        now = self._clock.now()
        query = (
            select(LinkCode)
            .where(
                LinkCode.purpose == "identity",
                LinkCode.user_id == user_id,
                LinkCode.used_at.is_(None),
                LinkCode.expires_at > now,
            )
            .order_by(LinkCode.created_at.desc(), LinkCode.id.desc())
            .limit(1)
        )
        async with self._db.session() as session:
            pending = (await session.scalars(query)).first()
        if pending is None:
            raise IdentityError("there is no link waiting; start one with !identity link")
        wait = pending.created_at + RESEND_COOLDOWN - now
        if wait > timedelta(0):
            raise IdentityError(f"wait {int(wait.total_seconds()) + 1}s before asking again")
        return await self.start_link(user_id, pending.platform, pending.platform_user_id)

    async def verify(self, platform: str, platform_user_id: str, code: str) -> int:
        """Check a code typed by this account; on success link it to the user who asked and
        return that user's id. Five wrong codes void the link."""
        now = self._clock.now()
        query = (
            select(LinkCode)
            .where(
                LinkCode.purpose == "identity",
                LinkCode.platform == platform,
                LinkCode.platform_user_id == platform_user_id,
                LinkCode.used_at.is_(None),
                LinkCode.expires_at > now,
            )
            .order_by(LinkCode.created_at.desc(), LinkCode.id.desc())
            .with_for_update()
        )
        given = hash_code(code)
        refusal = ""
        keep = drop = 0
        async with self._db.session() as session:
            pending = list((await session.scalars(query)).all())
            if not pending:
                raise IdentityError("no link is waiting for you (codes last 10 minutes)")
            match = next((p for p in pending if hmac.compare_digest(p.code_hash, given)), None)
            if match is None:  # count the miss and commit it before refusing
                latest = pending[0]
                latest.attempts += 1
                left = MAX_ATTEMPTS - latest.attempts
                if left <= 0:
                    latest.used_at = now
                    refusal = "that code is wrong, and that was the last try: ask for a new code"
                else:
                    refusal = f"that code is wrong ({left} {'try' if left == 1 else 'tries'} left)"
            else:
                match.used_at = now
                assert match.user_id is not None
                keep = match.user_id
                drop = int(
                    await session.scalar(
                        select(Identity.user_id).where(
                            Identity.platform == platform,
                            Identity.platform_user_id == platform_user_id,
                        )
                    )
                    or 0
                )
                if drop and drop != keep:
                    await _merge_users(session, self._db.dialect, keep=keep, drop=drop)
        if refusal:
            raise IdentityError(refusal)
        if not drop:
            raise IdentityError("this account is unknown to WaddleBot")
        await self._forget_users([keep, drop])
        self._audit.record(
            "identity.link",
            decision="change",
            actor=f"{platform}:{platform_user_id}",
            target=str(keep),
            detail={"merged_user": drop},
        )
        return keep

    async def unlink(self, user_id: int, platform: str) -> IdentityInfo:
        """Give this user's account on ``platform`` a user of its own again."""
        async with self._db.session() as session:
            identities = list(
                (await session.scalars(select(Identity).where(Identity.user_id == user_id))).all()
            )
            target = next((i for i in identities if i.platform == platform), None)
            if target is None:
                raise IdentityError(f"you have no {platform} account linked")
            if len(identities) == 1:
                raise IdentityError("that is your only account; there is nothing to unlink")
            user = User(display_name=target.display_name or target.login or target.platform_user_id)
            session.add(user)
            await session.flush()
            target.user_id = user.id
            info = IdentityInfo(
                target.platform, target.platform_user_id, target.login, target.display_name
            )
        await self._forget_users(
            [user_id], [keys.identity_key(info.platform, info.platform_user_id)]
        )
        self._audit.record(
            "identity.unlink",
            decision="change",
            actor=str(user_id),
            target=f"{info.platform}:{info.platform_user_id}",
        )
        return info

    async def _forget_users(self, user_ids: Sequence[int], also: Sequence[str] = ()) -> None:
        """Drop what every process cached about these users' accounts and roles (and the
        keys ``also`` names)."""
        async with self._db.session() as session:
            accounts = (
                await session.execute(
                    select(Identity.platform, Identity.platform_user_id).where(
                        Identity.user_id.in_(user_ids)
                    )
                )
            ).all()
            communities = (
                await session.scalars(
                    select(Membership.community_id).where(Membership.user_id.in_(user_ids))
                )
            ).all()
            labelled = (
                await session.scalars(
                    select(LabelAssignment.community_id).where(
                        LabelAssignment.target_type == "user",
                        LabelAssignment.target_id.in_([str(u) for u in user_ids]),
                    )
                )
            ).all()
        stale = [keys.identity_key(p, u) for p, u in accounts]
        stale += [keys.role_key(c, u) for c in set(communities) for u in user_ids]
        stale += [grants_key(c) for c in set(labelled)]
        stale += also
        if stale:
            await self._feed.write(keys.PEOPLE_CHANGES, [(key, None) for key in stale], None)


async def _merge_users(session: AsyncSession, dialect: str, *, keep: int, drop: int) -> None:
    """Move everything of user ``drop`` to user ``keep`` and delete ``drop``: the person
    columns every feature declares (see features/feature.py), then the merges of their own."""
    for column in person_columns():
        await session.execute(
            update(column.class_).where(column == drop).values({column.key: keep})
        )
    for merge in person_merges():
        await merge.run(session, dialect, keep=keep, drop=drop)
    await session.execute(delete(User).where(User.id == drop))


async def merge_memberships(session: AsyncSession, dialect: str, *, keep: int, drop: int) -> None:
    """A community both belong to keeps the higher of the two roles."""
    rows = (
        await session.execute(
            select(Membership.community_id, Membership.role).where(Membership.user_id == drop)
        )
    ).all()
    for community_id, role in rows:
        current = await session.scalar(
            select(Membership.role).where(
                Membership.community_id == community_id, Membership.user_id == keep
            )
        )
        if current is None or _ROLE_RANK[role] > _ROLE_RANK[current]:
            await upsert_role(session, dialect, community_id, keep, role)
    await session.execute(delete(Membership).where(Membership.user_id == drop))


async def merge_accounts(session: AsyncSession, dialect: str, *, keep: int, drop: int) -> None:
    """The dropped user's login moves over only if the kept user has none."""
    has_account = await session.scalar(select(Account.user_id).where(Account.user_id == keep))
    if has_account is None:
        await session.execute(update(Account).where(Account.user_id == drop).values(user_id=keep))
