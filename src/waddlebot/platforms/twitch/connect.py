"""Connecting Twitch accounts by OAuth (the authorization code flow), through one-time
tickets (:mod:`waddlebot.platforms.oauth_tickets`): an admin of the community over the API,
or the operator with ``waddlebot twitch connect``, gets a link to
``/collectors/twitch/oauth/start``, which sends the browser to Twitch asking for the scopes
the account's purpose needs. On the way back the code is exchanged, the account identified by
validating the token, and the tokens kept encrypted; a broadcaster's channel joins the
community the ticket named.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

import httpx2
import structlog

from waddlebot.infra.audit import AuditLog
from waddlebot.infra.ports import Cache
from waddlebot.infra.secretbox import SecretBox
from waddlebot.platforms.oauth_tickets import ConnectError, OAuthTickets
from waddlebot.platforms.platform import Communities
from waddlebot.platforms.twitch.auth import TwitchAuth, TwitchAuthError
from waddlebot.platforms.twitch.tokens import (
    BROADCASTER_PURPOSES,
    SCOPES,
    TokenStatus,
    TokenStore,
)
from waddlebot.platforms.twitch.translate import entity_id

log = structlog.get_logger("waddlebot.twitch.connect")

START_PATH = "/collectors/twitch/oauth/start"
CALLBACK_PATH = "/collectors/twitch/oauth/callback"


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
        community: Communities,
        audit: AuditLog,
        public_url: str,
    ) -> None:
        self._tickets = OAuthTickets(box, cache, "twitch")
        self._auth = auth
        self._tokens = tokens
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
        ticket = self._tickets.ticket({"p": purpose, "c": community_id, "a": actor})
        return f"{self._public}{START_PATH}?{urlencode({'ticket': ticket})}"

    async def authorize_url(self, ticket: str, browser: str) -> str:
        """Where to send the browser for a ticket (``browser``: the secret its cookie keeps).
        A ticket connects once, so a link that leaks later (a chat log, a screenshot)
        connects nothing."""
        state, grant = self._tickets.state_for(ticket, browser)
        return self._auth.authorize_url(
            redirect_uri=self.redirect_uri, scopes=SCOPES[str(grant["p"])], state=state
        )

    async def complete(self, code: str, state: str, browser: str) -> Connected:
        grant = await self._tickets.redeem(state, browser)
        purpose, community_id, actor = str(grant["p"]), grant.get("c"), str(grant.get("a", ""))
        try:
            tokens = await self._auth.exchange_code(code, self.redirect_uri)
            who = await self._auth.validate(tokens.access_token)
        except TwitchAuthError as exc:
            log.warning("twitch oauth exchange refused", status=exc.status)
            raise ConnectError("Twitch did not accept the sign-in; start again") from exc
        except httpx2.TransportError as exc:
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
