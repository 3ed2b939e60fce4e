"""API keys: ``wbk_<key_id>_<secret>``.

``key_id`` (12 characters) is public and finds the row; ``secret`` (32 random bytes,
url-safe base64) is shown once at creation and never stored: the table keeps only its
SHA-256. The secret is a high-entropy random value, not a human-chosen password, so
guessing it from the hash is infeasible and a fast hash is the right tool; slow password
hashes (bcrypt, argon2) exist to protect low-entropy secrets and would only make every API
request expensive.

One exception: while the Kong broker is configured (``features/kong/``), a new key is also
kept encrypted (``sealer``, the settings' SecretBox), as Kong's key-auth compares the key
itself and needs it; callers get the sealer from ``KEY_SEALER`` (``features/shared.py``) or,
outside a running process, ``features/kong/sealing.py``'s ``key_sealer(settings)``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import ColumnElement, func, select, update

from waddlebot.core.errors import Conflict, LimitReached, UserError
from waddlebot.features.identity.models import ApiKey
from waddlebot.infra.audit import write_change
from waddlebot.infra.db.engine import Database
from waddlebot.infra.db.models import User, utcnow

if TYPE_CHECKING:
    from waddlebot.infra.secretbox import SecretBox

PREFIX = "wbk_"
KEY_ID_LENGTH = 12
SECRET_BYTES = 32
_KEY_ID_ALPHABET = string.ascii_letters + string.digits  # url-safe, and never the "_" separator
_SECRET_LENGTH = len(secrets.token_urlsafe(SECRET_BYTES))  # 43
_KEY_PATTERN = re.compile(
    rf"{PREFIX}(?P<key_id>[A-Za-z0-9]{{{KEY_ID_LENGTH}}})"
    rf"_(?P<secret>[A-Za-z0-9_-]{{{_SECRET_LENGTH}}})"
)
_T = TypeVar("_T")
_LAST_USED_RESOLUTION = timedelta(minutes=5)  # last_used_at is written at most this often


@dataclass(frozen=True, slots=True)
class ApiKeyInfo:
    id: int
    key_id: str
    name: str
    scopes: tuple[str, ...]
    community_id: int | None
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
    expires_at: datetime | None = None
    kind: str = "service"  # or "user": a person's key, acting as user_id
    user_id: int | None = None
    role: str = ""  # a service account's role: "admin" (or "") or "collector"

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def expired(self, now: datetime | None = None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or utcnow())

    def allows(self, scope: str) -> bool:
        return "*" in self.scopes or scope in self.scopes


MAX_USER_KEYS = 5
SERVICE_ROLES = ("", "admin", "collector")
USER_KEY_LIFETIME = timedelta(days=365)


class KeyLimitReached(LimitReached):
    """A person has all the keys they may have. 409 over HTTP, as it has always been."""

    status = 409


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_key(plaintext: object) -> tuple[str, str] | None:
    """``(key_id, secret)`` of a well-formed key; None for anything else."""
    if not isinstance(plaintext, str):
        return None
    match = _KEY_PATTERN.fullmatch(plaintext.strip())
    return None if match is None else (match["key_id"], match["secret"])


def _new_key() -> tuple[str, str, str]:
    key_id = "".join(secrets.choice(_KEY_ID_ALPHABET) for _ in range(KEY_ID_LENGTH))
    secret = secrets.token_urlsafe(SECRET_BYTES)
    return key_id, secret, f"{PREFIX}{key_id}_{secret}"


def _scopes(scopes: str | Sequence[str]) -> str:
    parts = scopes.replace(",", " ").split() if isinstance(scopes, str) else list(scopes)
    joined = ",".join(part.strip() for part in parts if part.strip()) or "*"
    if len(joined) > 200:
        raise UserError("scopes are limited to 200 characters")
    return joined


def _info(row: ApiKey) -> ApiKeyInfo:
    return ApiKeyInfo(
        id=row.id,
        key_id=row.key_id,
        name=row.name,
        scopes=tuple(row.scopes.split(",")),
        community_id=row.community_id,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
        role=row.role,
        expires_at=row.expires_at,
        kind=row.kind,
        user_id=row.user_id,
    )


async def create_key(
    db: Database,
    name: str,
    scopes: str | Sequence[str] = "*",
    community_id: int | None = None,
    *,
    actor: str = "",
    kind: str = "service",
    user_id: int | None = None,
    role: str = "",
    expires_at: datetime | None = None,
    sealer: SecretBox | None = None,
) -> tuple[ApiKeyInfo, str]:
    """A new key; returns its info and the plaintext key, which is not stored anywhere but
    encrypted by ``sealer``, when there is one (for Kong).

    ``kind="service"`` is a service account (optionally tied to one community, with a
    ``role``); ``kind="user"`` acts as the person ``user_id``: at most
    :data:`MAX_USER_KEYS` live keys each, expiring after :data:`USER_KEY_LIFETIME` unless
    ``expires_at`` says otherwise."""
    name = name.strip()
    if not 1 <= len(name) <= 100:
        raise UserError("a key name is 1 to 100 characters")
    if kind not in ("service", "user") or (kind == "user") != (user_id is not None):
        raise UserError("a user key needs a user id, and only a user key has one")
    if role not in SERVICE_ROLES or (role and kind != "service"):
        raise UserError(
            f"a service account's role is one of: {', '.join(filter(None, SERVICE_ROLES))}"
        )
    now = utcnow()
    if kind == "user" and expires_at is None:
        expires_at = now + USER_KEY_LIFETIME
    key_id, secret, plaintext = _new_key()
    row = ApiKey(
        name=name,
        key_id=key_id,
        secret_hash=hash_secret(secret),
        scopes=_scopes(scopes),
        community_id=community_id,
        kind=kind,
        user_id=user_id,
        role=role[:16],
        expires_at=expires_at,
        key_sealed=None if sealer is None else sealer.encrypt(plaintext),
    )
    async with db.session() as session:
        if user_id is not None:
            # one person's keys are counted and added under a lock on that person
            await session.execute(update(User).where(User.id == user_id).values(id=User.id))
            live = await session.scalar(select(func.count()).where(*_live_user_key(user_id, now)))
            if (live or 0) >= MAX_USER_KEYS:
                raise KeyLimitReached(f"a person may hold at most {MAX_USER_KEYS} API keys")
            taken = await session.scalar(
                select(ApiKey.id).where(*_live_user_key(user_id, now), ApiKey.name == name)
            )
            if taken is not None:
                raise Conflict(f"you have a key named {name!r} already")
        session.add(row)
        await session.flush()
        info = _info(row)
        await write_change(
            session,
            "apikey.create",
            actor=actor,
            target=key_id,
            community_id=community_id,
            detail={"name": name, "scopes": row.scopes, "kind": kind},
        )
    return info, plaintext


async def verify_key(db: Database, plaintext: str) -> ApiKeyInfo | None:
    """The key's info when ``plaintext`` is a valid key, neither revoked nor expired; None
    otherwise (also for malformed input, which never reaches the database)."""
    parsed = parse_key(plaintext)
    if parsed is None:
        return None
    key_id, secret = parsed
    query = select(ApiKey).where(ApiKey.key_id == key_id)
    async with db.read_session() as session:
        row = await session.scalar(query)
    if row is None and db.replicas:  # perhaps too new for the replica
        async with db.session() as session:
            row = await session.scalar(query)
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(hash_secret(secret), row.secret_hash):
        return None
    now = utcnow()
    if row.expires_at is not None and row.expires_at <= now:
        return None
    if row.last_used_at is None or now - row.last_used_at > _LAST_USED_RESOLUTION:
        async with db.session() as session:
            await session.execute(
                update(ApiKey).where(ApiKey.id == row.id).values(last_used_at=now)
            )
        row.last_used_at = now
    return _info(row)


async def revoke_key(db: Database, key_id: str, *, actor: str = "") -> bool:
    """Revoke a key by its public id; False when there is no such active key."""
    async with db.session() as session:
        result = await session.execute(
            update(ApiKey)
            .where(ApiKey.key_id == key_id, ApiKey.revoked_at.is_(None))
            .values(revoked_at=utcnow())
            .returning(ApiKey.community_id)
        )
        revoked = result.first()
        if revoked is None:
            return False
        await write_change(
            session, "apikey.revoke", actor=actor, target=key_id, community_id=revoked.community_id
        )
    return True


def _live_user_key(user_id: int, now: datetime) -> tuple[ColumnElement[bool], ...]:
    return (
        ApiKey.user_id == user_id,
        ApiKey.revoked_at.is_(None),
        ApiKey.expires_at.is_(None) | (ApiKey.expires_at > now),
    )


async def user_keys(db: Database, user_id: int) -> list[ApiKeyInfo]:
    """A person's keys that still work, oldest first."""
    query = select(ApiKey).where(*_live_user_key(user_id, utcnow())).order_by(ApiKey.id)
    async with db.session() as session:
        return [_info(row) for row in (await session.scalars(query)).all()]


async def revoke_user_key(db: Database, user_id: int, name: str, *, actor: str = "") -> str | None:
    """Revoke a person's key by its name; returns its key id, None when they have no such
    key."""
    for info in await user_keys(db, user_id):
        if info.name == name.strip():
            return info.key_id if await revoke_key(db, info.key_id, actor=actor) else None
    return None


async def live_sealed_keys(db: Database) -> list[tuple[ApiKeyInfo, str | None]]:
    """Every key that works now (neither revoked nor expired), oldest first, with its sealed
    copy (None for a key made while nothing sealed them)."""
    query = (
        select(ApiKey)
        .where(
            ApiKey.revoked_at.is_(None),
            ApiKey.expires_at.is_(None) | (ApiKey.expires_at > utcnow()),
        )
        .order_by(ApiKey.id)
    )
    async with db.session() as session:
        rows = (await session.scalars(query)).all()
    return [(_info(row), row.key_sealed) for row in rows]


async def list_keys(db: Database) -> list[ApiKeyInfo]:
    """Every key, revoked ones included, oldest first."""
    async with db.session() as session:
        rows = (await session.scalars(select(ApiKey).order_by(ApiKey.id))).all()
    return [_info(row) for row in rows]


async def count_keys(
    db: Database, *, include_revoked: bool = False, kind: str | None = None
) -> int:
    """How many keys exist (active ones only, unless asked; of one kind, if given)."""
    query = select(func.count()).select_from(ApiKey)
    if kind is not None:
        query = query.where(ApiKey.kind == kind)
    if not include_revoked:
        query = query.where(ApiKey.revoked_at.is_(None))
    async with db.session() as session:
        return int(await session.scalar(query) or 0)


class KeyVerifier:
    """``verify_key`` with a small in-process cache, so a busy API does not query the
    database on every request. Entries are keyed by the SHA-256 of the presented key (the
    plaintext is never kept) and live ``ttl`` seconds, which bounds how long a key revoked
    elsewhere keeps working here; an entry never outlives its key's ``expires_at``.

    Both caches are LRUs (O(1) per request). Keys that failed go in a separate, smaller one,
    so a flood of made-up keys cannot push the working keys out."""

    def __init__(
        self,
        db: Database,
        *,
        ttl: float = 30.0,
        max_entries: int = 10_000,
        max_failures: int = 1_000,
    ) -> None:
        self.db = db
        self.ttl = ttl
        self.max_entries = max_entries
        self.max_failures = max_failures
        self._cache: OrderedDict[str, tuple[float, ApiKeyInfo]] = OrderedDict()  # valid keys
        self._failures: OrderedDict[str, float] = OrderedDict()  # digest -> cached until

    async def verify(self, plaintext: str) -> ApiKeyInfo | None:
        if parse_key(plaintext) is None:
            return None
        digest = hash_secret(plaintext)
        now = time.monotonic()
        cached = self._cache.get(digest)
        if cached is not None:
            until, cached_info = cached
            if until > now and not cached_info.expired():
                self._cache.move_to_end(digest)
                return cached_info
            del self._cache[digest]
        failed_until = self._failures.get(digest)
        if failed_until is not None:
            if failed_until > now:
                self._failures.move_to_end(digest)
                return None
            del self._failures[digest]
        info = await verify_key(self.db, plaintext)
        if info is None:
            self._remember(self._failures, digest, now + self.ttl, self.max_failures)
        else:
            until = now + self.ttl
            if info.expires_at is not None:
                until = min(until, now + (info.expires_at - utcnow()).total_seconds())
            self._remember(self._cache, digest, (until, info), self.max_entries)
        return info

    def forget(self, key_id: str | None = None) -> None:
        """Drop cached results: for one key id (e.g. just revoked here), or all."""
        if key_id is None:
            self._cache.clear()
            self._failures.clear()
        else:
            for digest, (_, info) in list(self._cache.items()):
                if info.key_id == key_id:
                    del self._cache[digest]

    @staticmethod
    def _remember(lru: OrderedDict[str, _T], digest: str, value: _T, limit: int) -> None:
        lru[digest] = value
        lru.move_to_end(digest)
        while len(lru) > limit:  # the least recently used goes
            lru.popitem(last=False)
