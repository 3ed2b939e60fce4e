"""One-time sign-in links for the portal: ``!portal`` in chat makes one and the bot sends it by
private message. The token is kept hashed in the cache for :data:`LINK_SECONDS`; opening the
link only shows who it signs in (:meth:`SignInLinks.holder`), and the POST that follows spends
it (:meth:`SignInLinks.redeem`), once, even with two processes racing for it."""

from __future__ import annotations

import hashlib
import secrets

from waddlebot.infra.ports import Cache

LINK_PREFIX = "wbl_"
LINK_SECONDS = 600


def _key(token: str, what: str = "portal-link") -> str:
    return f"{what}:" + hashlib.sha256(token.encode()).hexdigest()


class SignInLinks:
    def __init__(self, cache: Cache, *, seconds: float = LINK_SECONDS) -> None:
        self._cache = cache
        self._seconds = seconds

    async def issue(self, user_id: int) -> str:
        """A new link token for ``user_id``; only its hash is kept."""
        token = LINK_PREFIX + secrets.token_urlsafe(32)
        await self._cache.set(_key(token), str(user_id).encode(), self._seconds)
        return token

    async def holder(self, token: str) -> int | None:
        """Whom the link signs in, while it is unspent and fresh; None otherwise."""
        if not token.startswith(LINK_PREFIX) or len(token) > 100:
            return None
        raw = await self._cache.get(_key(token))
        return int(raw) if raw is not None else None

    async def redeem(self, token: str) -> int | None:
        """Spend the link: its person the first time, None ever after (or when unknown)."""
        user_id = await self.holder(token)
        if user_id is None:
            return None
        # whoever adds the marker first spends it; the others find it taken
        if not await self._cache.add(_key(token, "portal-link-spent"), b"1", self._seconds):
            return None
        await self._cache.delete(_key(token))
        return user_id
