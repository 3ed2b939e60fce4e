"""Portal accounts: a person may set an email and a password (argon2) and log in to a
session that lives in the cache with a TTL (the portal, src/waddlebot/portal, and the API).

A session is ``user_id:epoch``: "sign out everywhere" moves the person's epoch on, which ends
every session made before at once (no race with a sign-in elsewhere). Beside it, a small index
per person lists their sessions' expiry times, only to say how many are open.

Guessing passwords is throttled: failed logins are counted per email and per client address
(through the rate-limiter port, so the counts hold across processes on Redis), and a login
while either count is full is refused at once, without hashing anything. A success counts
for nothing. Each hash takes tens of milliseconds and 64 MiB, so a process runs at most
:data:`CONCURRENT_HASHES` at a time, and a failure is counted before the next login in line
checks the counts: a burst of simultaneous tries for one email costs at most that many hashes
beyond the limit in each process.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import secrets
import time

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from waddlebot.core.errors import WaddleError
from waddlebot.features.identity.models import Account
from waddlebot.infra import metrics
from waddlebot.infra.audit import AuditLog
from waddlebot.infra.db.engine import Database
from waddlebot.infra.db.models import User
from waddlebot.infra.ports import Cache, Limit, RateLimiter

SESSION_PREFIX = "wbs_"
MIN_PASSWORD = 10
ACCOUNT_FAILURES = Limit(5, 15 * 60)  # failed logins for one email
ADDRESS_FAILURES = Limit(20, 60)  # failed logins from one client address
CONCURRENT_HASHES = 4  # password hashes one process computes at once
_hasher = PasswordHasher()
# verifying against this when the email is unknown costs the same as a real check, so the
# answer time does not tell whether an account exists
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


class AccountError(WaddleError):
    """Something the person asking can fix about their portal login; ``field`` names the
    input it is about (``email`` or ``password``; empty: both), for a form."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


class LoginThrottled(Exception):
    """Too many failed logins for this email or from this address; try again in
    ``retry_after`` seconds (whole seconds, at least 1)."""

    def __init__(self, retry_after: float) -> None:
        self.retry_after = max(1, math.ceil(retry_after))
        super().__init__(f"too many failed logins; try again in {self.retry_after} seconds")


def _session_key(token: str) -> str:
    return "portal-session:" + hashlib.sha256(token.encode()).hexdigest()


def _epoch_key(user_id: int) -> str:
    return f"portal-epoch:{user_id}"


def _index_key(user_id: int) -> str:
    return f"portal-sessions:{user_id}"


class AccountService:
    def __init__(
        self,
        db: Database,
        cache: Cache,
        audit: AuditLog,
        ratelimiter: RateLimiter,
        *,
        session_ttl: float = 43_200,
    ) -> None:
        self._db = db
        self._cache = cache
        self._audit = audit
        self._ratelimiter = ratelimiter
        self._session_ttl = session_ttl
        self._hashing = asyncio.Semaphore(CONCURRENT_HASHES)

    @property
    def session_ttl(self) -> float:
        return self._session_ttl

    async def set_login(self, user_id: int, email: str, password: str) -> None:
        email = email.strip().lower()
        if "@" not in email or len(email) > 254:
            raise AccountError("give a valid email address", "email")
        if len(password) < MIN_PASSWORD:
            raise AccountError(f"a password has at least {MIN_PASSWORD} characters", "password")
        async with self._hashing:
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
            raise AccountError("that email belongs to another account", "email") from exc
        self._audit.record("account.set", decision="change", actor=f"user:{user_id}")

    async def login(self, email: str, password: str, address: str = "unknown") -> str:
        """A new session token; AccountError with the same message whatever was wrong, or
        LoginThrottled after too many failures for the email or from ``address``."""
        email = email.strip().lower()
        counts = (
            ("account", ACCOUNT_FAILURES, hashlib.sha256(email.encode()).hexdigest()),
            ("address", ADDRESS_FAILURES, address),
        )
        await self._throttle(counts)
        async with self._hashing:
            await self._throttle(counts)  # failures counted while this one waited its turn
            query = select(Account.user_id, Account.password_hash).where(Account.email == email)
            async with self._db.session() as session:
                row = (await session.execute(query)).first()
            stored = row[1] if row else _DUMMY_HASH
            try:
                await asyncio.to_thread(_hasher.verify, stored, password)
            except (VerificationError, InvalidHashError):
                row = None
                for scope, limit, key in counts:  # before the next one in line checks them
                    await self._ratelimiter.hit(limit, f"login-{scope}", key)
        if row is None:
            self._audit.record("account.login", decision="deny", actor=email[:200])
            raise AccountError("wrong email or password")
        self._audit.record("account.login", decision="allow", actor=f"user:{row[0]}")
        return await self.start_session(row[0])

    async def start_session(self, user_id: int) -> str:
        """A new session token for ``user_id`` (a password login, a one-time sign-in link)."""
        token = SESSION_PREFIX + secrets.token_urlsafe(32)
        epoch = await self._epoch(user_id)
        await self._cache.set(_session_key(token), f"{user_id}:{epoch}".encode(), self._session_ttl)
        await self._index(user_id, add=_session_key(token))
        return token

    async def _epoch(self, user_id: int) -> int:
        raw = await self._cache.get(_epoch_key(user_id))
        return int(raw) if raw is not None else 0

    async def _index(self, user_id: int, add: str = "") -> dict[str, float]:
        """The person's open sessions (key: expiry time), pruned; with ``add`` added. Only for
        counting: a lost update here miscounts, it never keeps a session alive."""
        raw = await self._cache.get(_index_key(user_id))
        now = time.time()
        try:
            listed = {k: float(v) for k, v in json.loads(raw or b"{}").items() if float(v) > now}
        except (ValueError, TypeError, AttributeError):
            listed = {}
        if add:
            listed[add] = now + self._session_ttl
            await self._cache.set(
                _index_key(user_id), json.dumps(listed).encode(), self._session_ttl
            )
        return listed

    async def session_count(self, user_id: int) -> int:
        """How many sessions the person has open (the portal's account page)."""
        listed = await self._index(user_id)
        alive = await self._cache.get_many(list(listed)) if listed else []
        epoch = str(await self._epoch(user_id))
        return sum(1 for raw in alive if raw is not None and raw.decode().endswith(":" + epoch))

    async def sign_out_everywhere(self, user_id: int, actor: str) -> None:
        """End every session of the person, this one included."""
        await self._cache.incr(_epoch_key(user_id))
        await self._cache.delete(_index_key(user_id))
        self._audit.record("account.logout_everywhere", decision="change", actor=actor)

    async def _throttle(self, counts: tuple[tuple[str, Limit, str], ...]) -> None:
        waits = {
            scope: await self._ratelimiter.reset_in(limit, f"login-{scope}", key)
            for scope, limit, key in counts
        }
        scope, wait = max(waits.items(), key=lambda item: item[1])
        if wait > 0:
            metrics.LOGINS_THROTTLED.labels(scope).inc()
            raise LoginThrottled(wait)

    async def session_user(self, token: str) -> int | None:
        if not token.startswith(SESSION_PREFIX):
            return None
        raw = await self._cache.get(_session_key(token))
        if raw is None:
            return None
        user, _, epoch = raw.decode().partition(":")
        user_id = int(user)
        if int(epoch or 0) != await self._epoch(user_id):  # signed out everywhere since
            await self.logout(token)
            return None
        async with self._db.session() as session:  # gone when merged into another person
            exists = await session.scalar(select(User.id).where(User.id == user_id))
        if exists is None:
            await self.logout(token)
            return None
        return user_id

    async def logout(self, token: str) -> None:
        await self._cache.delete(_session_key(token))
