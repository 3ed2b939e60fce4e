"""How the web layer learns who presented a key, without knowing how keys are kept: the
identity feature provides an :class:`Authenticator` under :data:`AUTHENTICATOR` (API keys
and portal sessions); without it only ``WADDLEBOT_API_KEY`` opens the API."""

from __future__ import annotations

from typing import Protocol

from waddlebot.core.services import Key
from waddlebot.web.access import Principal


class Authenticator(Protocol):
    async def principal(self, key: str) -> Principal | None:
        """Who ``key`` (an API key or a portal session) belongs to; None when it is not
        valid."""

    def describe(self, key: str) -> str:
        """What the audit log may show of a presented key: its public id, never a secret."""


AUTHENTICATOR: Key[Authenticator] = Key("authenticator")
