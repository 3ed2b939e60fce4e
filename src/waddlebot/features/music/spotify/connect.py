"""Connecting a streamer's Spotify account to their community, by OAuth (authorization code),
through the same one-time tickets as the platforms (:mod:`waddlebot.platforms.oauth_tickets`):
an admin gets a link (``!sr spotify connect`` in a private message, or the API), the link's
start page sends the browser to Spotify's consent page of the community's own app with a
sealed ``state`` naming the community, and on the way back the code is exchanged with that
same app's credentials and the tokens kept sealed."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

import httpx2
import structlog

from waddlebot.features.music.spotify.accounts import NO_APP, SpotifyStore
from waddlebot.features.music.spotify.client import SpotifyAccounts, SpotifyError
from waddlebot.infra.audit import AuditLog
from waddlebot.infra.ports import Cache
from waddlebot.infra.secretbox import SecretBox
from waddlebot.platforms.oauth_tickets import ConnectError, OAuthTickets

log = structlog.get_logger("waddlebot.music.spotify")

OAUTH_PATH = "/api/v1/music/spotify/oauth/"
START_PATH = f"{OAUTH_PATH}start"
CALLBACK_PATH = f"{OAUTH_PATH}callback"


class SpotifyConnect:
    def __init__(
        self,
        *,
        box: Callable[[], SecretBox],
        cache: Cache,
        store: SpotifyStore,
        accounts: SpotifyAccounts,
        http: httpx2.AsyncClient,
        api_url: str,
        audit: AuditLog,
        public_url: str,
    ) -> None:
        self._box = box
        self._cache = cache
        self._store = store
        self._accounts = accounts
        self._http = http
        self._me = f"{api_url.rstrip('/')}/v1/me"
        self._audit = audit
        self._public = public_url.rstrip("/")

    @property
    def _tickets(self) -> OAuthTickets:
        return OAuthTickets(self._box(), self._cache, "spotify")

    @property
    def redirect_uri(self) -> str:
        """What the streamer registers as their Spotify app's redirect URI."""
        return f"{self._public}{CALLBACK_PATH}"

    async def ticket_url(self, community_id: int, *, actor: str) -> str:
        """The link that connects a Spotify account into ``community_id`` (valid 15
        minutes, once); a :class:`ConnectError` when the community has no app yet."""
        if await self._store.app(community_id) is None:
            raise ConnectError(NO_APP)
        ticket = self._tickets.ticket({"c": community_id, "a": actor})
        return f"{self._public}{START_PATH}?{urlencode({'ticket': ticket})}"

    async def authorize_url(self, ticket: str, browser: str) -> str:
        state, grant = self._tickets.state_for(ticket, browser)
        app = await self._store.app(int(grant["c"]))
        if app is None:
            raise ConnectError("this community has no Spotify app any more; add it again")
        return self._accounts.authorize_url(
            app.client_id, redirect_uri=self.redirect_uri, state=state
        )

    async def complete(self, code: str, state: str, browser: str) -> str:
        """Connect the account; its display name."""
        grant = await self._tickets.redeem(state, browser)
        community_id, actor = int(grant["c"]), str(grant.get("a", ""))
        app = await self._store.app(community_id)
        if app is None:
            raise ConnectError("this community has no Spotify app any more; add it again")
        try:
            tokens = await self._accounts.exchange_code(app, code, self.redirect_uri)
            me = await self._http.get(
                self._me, headers={"Authorization": f"Bearer {tokens.access_token}"}
            )
        except SpotifyError as exc:
            log.warning("spotify code exchange refused", status=exc.status, reason=exc.reason)
            raise ConnectError(
                "Spotify did not accept the sign-in (check the app's client id, secret and "
                "redirect URI); start again"
            ) from exc
        except httpx2.TransportError as exc:
            log.warning("spotify code exchange failed", error=type(exc).__name__)
            raise ConnectError("Spotify could not be reached; start again in a moment") from exc
        profile = me.json() if me.status_code == 200 else {}
        account_id = str(profile.get("id", ""))
        name = str(profile.get("display_name") or account_id)
        await self._store.save_grant(community_id, tokens, account_id=account_id, account_name=name)
        self._audit.record(
            "music.spotify.connect",
            decision="change",
            actor=actor,
            target=f"spotify:{account_id}",
            community_id=community_id,
            detail={"account": name},
        )
        return name
