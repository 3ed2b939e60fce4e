"""Connecting Twitch accounts by OAuth (the authorization code flow).

1. Someone allowed to (an admin of the community over the API, or the operator with
   ``waddlebot twitch connect``) gets a *ticket*: a sealed, 15-minute link to
   ``/collectors/twitch/oauth/start``.
2. ``start`` sends the browser to Twitch with a sealed ``state`` naming the community and a
   one-time nonce, asking for the scopes the account's purpose needs.
3. Twitch sends the browser back to ``/callback`` with a code; the state is opened (forged,
   expired or replayed states are refused), the code exchanged, the account identified by
   validating the token, and the tokens kept encrypted. A broadcaster's channel joins the
   community named in the state, so nobody can attach their channel to someone else's
   community without a ticket from it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx
import structlog

from waddlebot.collectors.twitch.auth import TwitchAuth, TwitchAuthError
from waddlebot.collectors.twitch.tokens import (
    BROADCASTER_PURPOSES,
    SCOPES,
    TokenStatus,
    TokenStore,
)
from waddlebot.collectors.twitch.translate import entity_id
from waddlebot.infra.ports import Cache
from waddlebot.infra.secretbox import SecretBox, SecretError
from waddlebot.services.audit import AuditLog
from waddlebot.services.community import CommunityService

log = structlog.get_logger("waddlebot.twitch.connect")

START_PATH = "/collectors/twitch/oauth/start"
CALLBACK_PATH = "/collectors/twitch/oauth/callback"
TICKET_SECONDS = 15 * 60
STATE_SECONDS = 10 * 60
_TICKET, _STATE = "twitch-ticket", "twitch-state"


class ConnectError(ValueError):
    """The person connecting can do something about it; the message says what."""


@dataclass(frozen=True, slots=True)
class Connected:
    status: TokenStatus
    community_id: int | None


class TwitchConnect:
    def __init__(
        self,
        *,
        box: SecretBox,
        auth: TwitchAuth,
        tokens: TokenStore,
        cache: Cache,
        community: CommunityService,
        audit: AuditLog,
        public_url: str,
    ) -> None:
        self._box = box
        self._auth = auth
        self._tokens = tokens
        self._cache = cache
        self._community = community
        self._audit = audit
        self._public = public_url.rstrip("/")

    @property
    def redirect_uri(self) -> str:
        return f"{self._public}{CALLBACK_PATH}"

    def ticket_url(self, *, purpose: str, community_id: int | None, actor: str) -> str:
        """The link that starts connecting an account (the bot's, or a broadcaster's into
        ``community_id``)."""
        if purpose not in SCOPES:
            raise ValueError(f"unknown purpose {purpose!r}; use one of {sorted(SCOPES)}")
        if purpose in BROADCASTER_PURPOSES and community_id is None:
            raise ValueError("a broadcaster connects into a community")
        ticket = self._box.seal(
            _TICKET, {"p": purpose, "c": community_id, "a": actor, "t": secrets.token_urlsafe(12)}
        )
        return f"{self._public}{START_PATH}?{urlencode({'ticket': ticket})}"

    async def authorize_url(self, ticket: str) -> str:
        """Where to send the browser for a ticket; each ticket works once, so a link that
        leaks later (a chat log, a screenshot) connects nothing."""
        try:
            grant = self._box.open(_TICKET, ticket, TICKET_SECONDS)
        except SecretError as exc:
            raise ConnectError("this link is not valid any more; ask for a new one") from exc
        if not await self._cache.add(f"twitch:ticket:{grant.get('t')}", b"1", TICKET_SECONDS):
            raise ConnectError("this link was used already; ask for a new one")
        state = self._box.seal(_STATE, {**grant, "n": secrets.token_urlsafe(16)})
        return self._auth.authorize_url(
            redirect_uri=self.redirect_uri, scopes=SCOPES[str(grant["p"])], state=state
        )

    async def complete(self, code: str, state: str) -> Connected:
        try:
            grant = self._box.open(_STATE, state, STATE_SECONDS)
        except SecretError as exc:
            raise ConnectError("this sign-in is not valid any more; start again") from exc
        if not await self._cache.add(f"twitch:oauth:{grant['n']}", b"1", STATE_SECONDS * 2):
            raise ConnectError("this sign-in was used already; start again")
        purpose, community_id, actor = str(grant["p"]), grant.get("c"), str(grant.get("a", ""))
        try:
            tokens = await self._auth.exchange_code(code, self.redirect_uri)
            who = await self._auth.validate(tokens.access_token)
        except TwitchAuthError as exc:
            log.warning("twitch oauth exchange refused", status=exc.status)
            raise ConnectError("Twitch did not accept the sign-in; start again") from exc
        except httpx.TransportError as exc:
            log.warning("twitch oauth exchange failed", error=str(exc))
            raise ConnectError("Twitch could not be reached; start again in a moment") from exc
        if who is None or not who.user_id:
            raise ConnectError("Twitch did not say whose account this is; start again")
        community = int(community_id) if community_id is not None else None
        status = await self._tokens.save(tokens, who, purpose=purpose, community_id=community)
        if purpose in BROADCASTER_PURPOSES and community is not None:
            await self._community.attach(
                community,
                entity_id(who.user_id),
                "twitch",
                channel_id=who.user_id,
                name=who.login,
                actor=actor,
            )
        self._audit.record(
            "twitch.connect",
            decision="change",
            actor=actor,
            target=f"twitch:{who.user_id}",
            community_id=community,
            detail={"purpose": purpose, "login": who.login, "missing": list(status.missing_scopes)},
        )
        return Connected(status, community)
