"""Portal accounts: a person may set an email and a password (argon2) and log in to a
session that lives in the cache with a TTL. The portal pages come later; this is their API."""

from __future__ import annotations

import asyncio
import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from waddlebot.infra.db.engine import Database
from waddlebot.infra.db.models import Account, User
from waddlebot.infra.ports import Cache
from waddlebot.services.audit import AuditLog

SESSION_PREFIX = "wbs_"
MIN_PASSWORD = 10
_hasher = PasswordHasher()
# verifying against this when the email is unknown costs the same as a real check, so the
# answer time does not tell whether an account exists
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


class AccountError(ValueError):
    """The message is meant for the person."""


def _session_key(token: str) -> str:
    return "portal-session:" + hashlib.sha256(token.encode()).hexdigest()


class AccountService:
    def __init__(
        self, db: Database, cache: Cache, audit: AuditLog, *, session_ttl: float = 43_200
    ) -> None:
        self._db = db
        self._cache = cache
        self._audit = audit
        self._session_ttl = session_ttl

    @property
    def session_ttl(self) -> float:
        return self._session_ttl

    async def set_login(self, user_id: int, email: str, password: str) -> None:
        email = email.strip().lower()
        if "@" not in email or len(email) > 254:
            raise AccountError("give a valid email address")
        if len(password) < MIN_PASSWORD:
            raise AccountError(f"a password has at least {MIN_PASSWORD} characters")
        digest = await asyncio.to_thread(_hasher.hash, password)
        insert = postgresql.insert if self._db.dialect == "postgresql" else sqlite.insert
        statement = insert(Account).values(user_id=user_id, email=email, password_hash=digest)
        try:
            async with self._db.session() as session:
                await session.execute(
                    statement.on_conflict_do_update(
                        index_elements=[Account.user_id],
                        set_={"email": email, "password_hash": digest},
                    )
                )
        except IntegrityError as exc:
            raise AccountError("that email belongs to another account") from exc
        self._audit.record("account.set", decision="change", actor=f"user:{user_id}")

    async def login(self, email: str, password: str) -> str:
        """A new session token, or AccountError with the same message whatever was wrong."""
        query = select(Account.user_id, Account.password_hash).where(
            Account.email == email.strip().lower()
        )
        async with self._db.session() as session:
            row = (await session.execute(query)).first()
        stored = row[1] if row else _DUMMY_HASH
        try:
            await asyncio.to_thread(_hasher.verify, stored, password)
        except (VerificationError, InvalidHashError):
            row = None
        if row is None:
            self._audit.record("account.login", decision="deny", actor=email[:200])
            raise AccountError("wrong email or password")
        token = SESSION_PREFIX + secrets.token_urlsafe(32)
        await self._cache.set(_session_key(token), str(row[0]).encode(), self._session_ttl)
        self._audit.record("account.login", decision="allow", actor=f"user:{row[0]}")
        return token

    async def session_user(self, token: str) -> int | None:
        if not token.startswith(SESSION_PREFIX):
            return None
        raw = await self._cache.get(_session_key(token))
        if raw is None:
            return None
        user_id = int(raw)
        async with self._db.session() as session:  # gone when merged into another person
            exists = await session.scalar(select(User.id).where(User.id == user_id))
        if exists is None:
            await self.logout(token)
            return None
        return user_id

    async def logout(self, token: str) -> None:
        await self._cache.delete(_session_key(token))
