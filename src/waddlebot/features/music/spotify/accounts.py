"""Each community's Spotify app and connected account in the database, its secrets sealed;
and the access tokens the Web API calls carry, refreshed into the same row a minute before
they expire (or at once when Spotify refused one early)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from waddlebot.core.clock import Clock, SystemClock
from waddlebot.core.errors import WaddleError
from waddlebot.features.music.spotify.client import App, Grant, SpotifyAccounts, SpotifyError
from waddlebot.features.music.spotify.models import SpotifyAccount
from waddlebot.infra.db.engine import Database
from waddlebot.infra.secretbox import SecretBox

REFRESH_MARGIN = timedelta(seconds=60)


class NotConnected(WaddleError):
    """The community has no Spotify app, or its streamer has not connected (or revoked) the
    account; the message says which, for chat."""


NO_APP = "Spotify isn't set up here: an admin adds the community's Spotify app first."
NOT_CONNECTED = "Spotify isn't connected here yet: an admin types !sr spotify connect."
REVOKED = "Spotify refused the streamer's sign-in: an admin types !sr spotify connect again."


@dataclass(frozen=True, slots=True)
class SpotifyStatus:
    """What the API shows of a community's Spotify (never a secret)."""

    client_id: str
    connected: bool
    account_id: str
    account_name: str
    scopes: tuple[str, ...]


class SpotifyStore:
    def __init__(
        self, db: Database, box: Callable[[], SecretBox], clock: Clock | None = None
    ) -> None:
        self._db = db
        self._made_box = box  # made on first use: a process that never connects needs no key
        self.clock = clock or SystemClock()

    @property
    def _box(self) -> SecretBox:
        return self._made_box()

    async def set_app(self, community_id: int, app: App) -> None:
        """Keep the streamer's app; another app than before forgets the connected account
        (its tokens belong to the old app)."""
        sealed = self._box.encrypt(app.client_secret)
        async with self._db.session() as session:
            row = await session.get(SpotifyAccount, community_id)
            if row is None:
                session.add(
                    SpotifyAccount(
                        community_id=community_id,
                        client_id=app.client_id,
                        client_secret_sealed=sealed,
                        account_id="",
                        account_name="",
                        scopes="",
                    )
                )
                return
            if row.client_id != app.client_id:
                _forget_account(row)
            row.client_id, row.client_secret_sealed = app.client_id, sealed

    async def app(self, community_id: int) -> App | None:
        async with self._db.read_session() as session:
            row = await session.get(SpotifyAccount, community_id)
            if row is None:
                return None
            return App(row.client_id, self._box.decrypt(row.client_secret_sealed))

    async def status(self, community_id: int) -> SpotifyStatus | None:
        async with self._db.read_session() as session:
            row = await session.get(SpotifyAccount, community_id)
        if row is None:
            return None
        return SpotifyStatus(
            client_id=row.client_id,
            connected=row.refresh_token_sealed is not None,
            account_id=row.account_id,
            account_name=row.account_name,
            scopes=tuple(row.scopes.split()),
        )

    async def connected(self) -> list[int]:
        """The communities with a connected account."""
        async with self._db.read_session() as session:
            found = await session.scalars(
                select(SpotifyAccount.community_id).where(
                    SpotifyAccount.refresh_token_sealed.is_not(None)
                )
            )
            return list(found)

    async def save_grant(
        self, community_id: int, grant: Grant, *, account_id: str = "", account_name: str = ""
    ) -> None:
        async with self._db.session() as session:
            row = await session.get(SpotifyAccount, community_id)
            if row is None:
                raise NotConnected(NO_APP)
            row.access_token_sealed = self._box.encrypt(grant.access_token)
            row.expires_at = self.clock.now() + timedelta(seconds=grant.expires_in)
            if grant.refresh_token:
                row.refresh_token_sealed = self._box.encrypt(grant.refresh_token)
            if grant.scope:
                row.scopes = grant.scope[:256]
            if account_id:
                row.account_id, row.account_name = account_id[:128], account_name[:128]

    async def disconnect(self, community_id: int) -> bool:
        async with self._db.session() as session:
            row = await session.get(SpotifyAccount, community_id)
            if row is None or row.refresh_token_sealed is None:
                return False
            _forget_account(row)
            return True

    async def tokens_of(self, community_id: int) -> tuple[App, str, str, datetime | None]:
        """The app, refresh token, access token ('' when none) and its expiry."""
        async with self._db.read_session() as session:
            row = await session.get(SpotifyAccount, community_id)
        if row is None:
            raise NotConnected(NO_APP)
        if row.refresh_token_sealed is None:
            raise NotConnected(NOT_CONNECTED)
        access = self._box.decrypt(row.access_token_sealed) if row.access_token_sealed else ""
        app = App(row.client_id, self._box.decrypt(row.client_secret_sealed))
        return app, self._box.decrypt(row.refresh_token_sealed), access, row.expires_at


def _forget_account(row: SpotifyAccount) -> None:
    row.refresh_token_sealed = row.access_token_sealed = None
    row.expires_at = None
    row.account_id = row.account_name = row.scopes = ""


class SpotifyTokens:
    """The access token of a community's account for the Web API (the client's
    :class:`~waddlebot.features.music.spotify.client.Tokens`)."""

    def __init__(self, store: SpotifyStore, accounts: SpotifyAccounts) -> None:
        self._store = store
        self._accounts = accounts
        self._locks: dict[int, asyncio.Lock] = {}

    async def access_token(self, community_id: int, *, stale: str = "") -> str:
        async with self._locks.setdefault(community_id, asyncio.Lock()):
            app, refresh, access, expires = await self._store.tokens_of(community_id)
            fresh = expires is not None and expires - REFRESH_MARGIN > self._store.clock.now()
            if access and access != stale and fresh:
                return access
            try:
                grant = await self._accounts.refresh(app, refresh)
            except SpotifyError as exc:
                if exc.status in (400, 401):  # revoked, or the app's secret changed
                    raise NotConnected(REVOKED) from exc
                raise
            await self._store.save_grant(community_id, grant)
            return grant.access_token
