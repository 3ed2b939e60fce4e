"""Who presented a key: the identity feature's :class:`~waddlebot.web.auth.Authenticator`,
over its API keys and portal sessions."""

from __future__ import annotations

from waddlebot.features.identity.accounts import SESSION_PREFIX, AccountService
from waddlebot.features.identity.apikeys import KeyVerifier, parse_key
from waddlebot.web.access import Principal


class KeyAuthenticator:
    def __init__(self, keys: KeyVerifier, accounts: AccountService) -> None:
        self._keys = keys
        self._accounts = accounts

    async def principal(self, key: str) -> Principal | None:
        if key.startswith(SESSION_PREFIX):  # a portal session
            user_id = await self._accounts.session_user(key)
            if user_id is None:
                return None
            return Principal(kind="user", name="portal session", user_id=user_id)
        info = await self._keys.verify(key)
        if info is None:
            return None
        return Principal(
            kind="user" if info.kind == "user" else "service",
            name=info.name,
            user_id=info.user_id,
            community_id=info.community_id,
            key_id=info.key_id,
            role=info.role,
            read_only=not info.allows("write"),
        )

    def describe(self, key: str) -> str:
        if key.startswith(SESSION_PREFIX):
            return "session"
        parsed = parse_key(key)
        return f"key:{parsed[0]}" if parsed else "malformed"
