"""The secret in a community's overlay URLs (``/overlay/<token>/<kind>``).

One token per community, 192 random bits. It is found by its SHA-256, and kept encrypted with
the secret box only so that ``!overlay url`` can show it again; it is never logged. Rotating
it retires the old one at once: page loads and WebSocket connects look the hash up in the
database every time (there is no cache to go stale), and the pages still open with the old
one are closed through the broadcast channel.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from waddlebot.features.overlay.models import OverlayToken
from waddlebot.infra.audit import audit_row, write_rows
from waddlebot.infra.db.engine import Database
from waddlebot.infra.db.models import utcnow
from waddlebot.infra.secretbox import SecretBox, SecretError
from waddlebot.router.overlays import OverlayPublisher

TOKEN_BYTES = 24  # secrets.token_urlsafe(24): 32 characters
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{32,128}")
AUDIT_TARGET = "overlay"


class TokenError(Exception):
    """The token cannot be made or shown (no secret key configured, or a key that changed);
    the message says what to do."""


@dataclass(frozen=True, slots=True)
class TokenMatch:
    community_id: int
    token_hash: str


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class OverlayTokens:
    def __init__(
        self, db: Database, publisher: OverlayPublisher, box: Callable[[], SecretBox]
    ) -> None:
        self._db = db
        self._publisher = publisher
        self._box_factory = box
        self._box: SecretBox | None = None

    async def current(self, community_id: int, *, actor: str, session_id: str = "") -> str:
        """The community's token, made (and audited) the first time it is asked for."""
        async with self._db.session() as session:
            sealed = await session.scalar(
                select(OverlayToken.token_sealed).where(OverlayToken.community_id == community_id)
            )
        if sealed is not None:
            return self._open(sealed)
        try:
            return await self._issue(community_id, actor=actor, session_id=session_id)
        except IntegrityError:  # made by someone else a moment ago
            return await self.current(community_id, actor=actor, session_id=session_id)

    async def rotate(self, community_id: int, *, actor: str, session_id: str = "") -> str:
        """A new token; the old one stops working now, and its open pages are closed."""
        return await self._issue(community_id, actor=actor, session_id=session_id, rotate=True)

    async def find(self, token: str) -> TokenMatch | None:
        """The community a token from a URL belongs to; None for anything else."""
        if not _TOKEN_SHAPE.fullmatch(token):
            return None
        digest = hash_token(token)
        async with self._db.session() as session:  # the primary: a rotation counts at once
            community_id = await session.scalar(
                select(OverlayToken.community_id).where(OverlayToken.token_hash == digest)
            )
        return None if community_id is None else TokenMatch(community_id, digest)

    async def _issue(
        self, community_id: int, *, actor: str, session_id: str, rotate: bool = False
    ) -> str:
        token = secrets.token_urlsafe(TOKEN_BYTES)
        digest, sealed = hash_token(token), self._seal(token)
        retired = ""
        async with self._db.session() as session:
            row = await session.get(OverlayToken, community_id, with_for_update=True)
            if row is not None and not rotate:  # made by someone else a moment ago
                return self._open(row.token_sealed)
            if row is None:
                session.add(
                    OverlayToken(
                        community_id=community_id,
                        token_hash=digest,
                        token_sealed=sealed,
                        created_by=actor,
                    )
                )
                audit = _audit("overlay.token.create", community_id, actor, session_id)
            else:
                retired = row.token_hash
                row.token_hash, row.token_sealed = digest, sealed
                row.created_by, row.created_at = actor, utcnow()
                audit = _audit("overlay.token.rotate", community_id, actor, session_id)
            await session.flush()  # a concurrent first token surfaces here, before the audit
            await write_rows(session, [audit])
        if retired:
            await self._publisher.revoke(community_id, retired)
        return token

    def _seal(self, token: str) -> str:
        return self._secret_box().encrypt(token)

    def _open(self, sealed: str) -> str:
        try:
            return self._secret_box().decrypt(sealed)
        except SecretError as exc:
            raise TokenError(
                "the overlay token was encrypted with a secret key that is no longer "
                "configured; make a new one with !overlay rotate"
            ) from exc

    def _secret_box(self) -> SecretBox:
        if self._box is None:
            try:
                self._box = self._box_factory()
            except ValueError as exc:
                raise TokenError(
                    "overlay URLs are kept encrypted, and no secret key is configured: set "
                    "WADDLEBOT_SECRET_KEYS (make one with `waddlebot secret-key`)"
                ) from exc
        return self._box


def _audit(action: str, community_id: int, actor: str, session_id: str) -> dict[str, Any]:
    """The audit row of a token change, written in the same transaction as the change."""
    return audit_row(
        action,
        decision="change",
        actor=actor,
        target=AUDIT_TARGET,
        community_id=community_id,
        session_id=session_id,
    )


def overlay_url(base_url: str, token: str, kind: str) -> str:
    return f"{base_url}/overlay/{token}/{kind}"
