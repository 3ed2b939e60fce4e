"""One-time links into a platform's OAuth flow, bound to what they were made for.

1. Someone allowed to (an admin over the API, the operator on the command line) gets a
   *ticket*: a sealed, 15-minute link to the collector's ``/oauth/start``.
2. ``start`` makes a sealed ``state`` with a one-time nonce and a secret it also keeps in a
   cookie of the browser, and sends the browser to the platform with it.
3. The platform sends the browser back with a code and the state; the state is opened (a
   forged, expired, replayed one, or one from another browser, is refused), the ticket is
   spent, and the state gives back what the ticket named (the community, who asked), so
   nobody attaches an account to a community without a ticket from it.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from waddlebot.infra.ports import Cache
from waddlebot.infra.secretbox import SecretBox, SecretError

TICKET_SECONDS = 15 * 60
STATE_SECONDS = 10 * 60


class ConnectError(ValueError):
    """The person connecting can do something about it; the message says what."""


class OAuthTickets:
    def __init__(self, box: SecretBox, cache: Cache, namespace: str) -> None:
        self._box = box
        self._cache = cache
        self._namespace = namespace

    def ticket(self, grant: dict[str, Any]) -> str:
        return self._box.seal(
            f"{self._namespace}-ticket", {**grant, "t": secrets.token_urlsafe(12)}
        )

    def state_for(self, ticket: str, browser: str) -> tuple[str, dict[str, Any]]:
        """The state to send the platform for a ticket, bound to the browser that asked
        (``browser``: a secret the start page kept in a cookie), and the ticket's grant."""
        try:
            grant = self._box.open(f"{self._namespace}-ticket", ticket, TICKET_SECONDS)
        except SecretError as exc:
            raise ConnectError("this link is not valid any more; ask for a new one") from exc
        state = self._box.seal(
            f"{self._namespace}-state",
            {**grant, "n": secrets.token_urlsafe(16), "b": browser},
        )
        return state, grant

    async def redeem(self, state: str, browser: str) -> dict[str, Any]:
        """The grant of the ticket the state was made from. Each sign-in and each ticket
        works once (spent here, not when the link is opened: chat apps open pasted links to
        preview them), and only in the browser that started it (so nobody can send someone
        else's browser back here with their own sign-in)."""
        try:
            grant = self._box.open(f"{self._namespace}-state", state, STATE_SECONDS)
        except SecretError as exc:
            raise ConnectError("this sign-in is not valid any more; start again") from exc
        if not hmac.compare_digest(str(grant.get("b", "")), browser):
            raise ConnectError("this sign-in was started in another browser; start again")
        used = f"{self._namespace}:oauth:{grant.get('n')}"
        if not await self._cache.add(used, b"1", STATE_SECONDS * 2):
            raise ConnectError("this sign-in was used already; start again")
        spent = f"{self._namespace}:ticket:{grant.get('t')}"
        if not await self._cache.add(spent, b"1", TICKET_SECONDS):
            raise ConnectError("this link was used already; ask for a new one")
        return grant
