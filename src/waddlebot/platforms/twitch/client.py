"""Twitch's API as any part of WaddleBot reaches it: the app's auth, the stored user tokens,
and a Helix client that uses both (the collector, and features that call Helix themselves)."""

from __future__ import annotations

from dataclasses import dataclass

import httpx2

from waddlebot.core.clock import Clock
from waddlebot.core.settings import CoreSettings
from waddlebot.infra.db.engine import Database
from waddlebot.infra.secretbox import SecretBox
from waddlebot.platforms.twitch.auth import TwitchAuth
from waddlebot.platforms.twitch.helix import HelixClient
from waddlebot.platforms.twitch.settings import TwitchSettings
from waddlebot.platforms.twitch.tokens import TokenStore


class StoredTokens:
    """The token source the Helix client uses: the app token and the stored user tokens."""

    def __init__(self, auth: TwitchAuth, store: TokenStore) -> None:
        self._auth = auth
        self._store = store

    async def app_token(self, *, renew: bool = False) -> str:
        return await self._auth.app_token(renew=renew)

    async def user_token(self, account_id: str, *, renew: bool = False) -> str:
        return await self._store.access_token(account_id, renew=renew)


@dataclass(frozen=True, slots=True)
class TwitchApi:
    auth: TwitchAuth
    tokens: TokenStore
    helix: HelixClient


def twitch_api(
    settings: CoreSettings, db: Database, http: httpx2.AsyncClient, clock: Clock
) -> TwitchApi:
    twitch = settings.section(TwitchSettings)
    auth = TwitchAuth(
        http,
        base_url=twitch.twitch_auth_url,
        client_id=twitch.twitch_client_id,
        client_secret=twitch.twitch_client_secret.get_secret_value(),
        clock=clock,
    )
    tokens = TokenStore(db, SecretBox.from_settings(settings), auth, clock)
    helix = HelixClient(
        http,
        base_url=twitch.twitch_helix_url,
        client_id=twitch.twitch_client_id,
        tokens=StoredTokens(auth, tokens),
    )
    return TwitchApi(auth, tokens, helix)
