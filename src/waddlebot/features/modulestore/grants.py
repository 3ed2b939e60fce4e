"""Store grants: how a module served over HTTP reaches its ``ctx.store`` without a key of its
own. With each call the router sends a token (sealed by the bot's secret box: authenticated,
encrypted, dated) naming the module, the community, the channel and the caller; the store
endpoint opens it and lets the module into those buckets only, until it expires. The module's
shared secret plays no part: a module cannot mint a grant."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import structlog

from waddlebot.core.contract import ModuleRequest, StoreGrant
from waddlebot.core.errors import ConfigurationError
from waddlebot.infra.secretbox import SecretBox, SecretError
from waddlebot.sdk.store import Bucket, Scope, channel_of, person_of

log = structlog.get_logger("waddlebot.module_store")

PURPOSE = "module-store"
PATH = "/api/v1/module-store"


class GrantRefused(Exception):
    """A token that is forged, damaged, expired or for something else."""


@dataclass(frozen=True, slots=True)
class Granted:
    """What one token lets a module into."""

    module: str
    community_id: int
    channel: str
    person: str | None

    def bucket(self, scope: Scope) -> Bucket | None:
        """The bucket of ``scope``; None for a person when the call had no caller."""
        scope_id = {"community": "", "channel": self.channel, "person": self.person}[scope]
        return None if scope_id is None else Bucket(self.module, self.community_id, scope, scope_id)


class StoreGrants:
    def __init__(self, box: Callable[[], SecretBox], base_url: str, seconds: int) -> None:
        self._make_box = box  # made on first use: an embedded bot writes its key file then
        self._made: SecretBox | None = None
        self._unusable: ConfigurationError | None = None
        self._url = base_url.rstrip("/") + PATH
        self.seconds = seconds

    def _box(self) -> SecretBox:
        if self._made is None:
            self._made = self._make_box()
        return self._made

    def grant(self, module: str, request: ModuleRequest) -> StoreGrant | None:
        """The grant for one call; None when the bot has no key to seal it with (modules
        served over HTTP then work without a store, as they did before it, and it is logged
        once: ``WADDLEBOT_SECRET_KEYS`` gives them one)."""
        if self._unusable is not None:
            return None
        try:
            box = self._box()
        except ConfigurationError as exc:
            self._unusable = exc
            log.warning("modules served over HTTP get no store", reason=exc.line())
            return None
        payload = {
            "m": module,
            "c": request.community_id,
            "ch": channel_of(request),
            "p": person_of(request),
        }
        return StoreGrant(url=self._url, token=box.seal(PURPOSE, payload))

    def open(self, token: str) -> Granted:
        try:
            payload = self._box().open(PURPOSE, token, self.seconds)
            return Granted(
                module=str(payload["m"]),
                community_id=int(payload["c"]),
                channel=str(payload["ch"]),
                person=None if payload.get("p") is None else str(payload["p"]),
            )
        except (SecretError, KeyError, TypeError, ValueError) as exc:
            raise GrantRefused(str(exc) or "the token is not a store grant") from exc
