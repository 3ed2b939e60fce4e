"""A catalogue module as one community installed it: its calls carry the community's settings
for it, and what it answers beyond what the admin granted is dropped (and logged)."""

from __future__ import annotations

from collections.abc import Collection

import structlog

from waddlebot.core.contract import ActionKind, ModuleRequest, ModuleResponse, Visibility
from waddlebot.core.manifest import Manifest, Permission
from waddlebot.infra import metrics
from waddlebot.router.modules import ModuleClient, WrappedClient

log = structlog.get_logger("waddlebot.marketplace")


class GrantedClient(WrappedClient):
    """A :class:`ModuleClient` limited to ``grants`` (:class:`Permission` values), with the
    manifest of the version the community installed (the pooled client it wraps is shared by
    communities at other versions)."""

    def __init__(
        self,
        client: ModuleClient,
        grants: Collection[str],
        community_id: int,
        manifest: Manifest,
    ) -> None:
        super().__init__(client)
        self._grants = frozenset(grants)
        self._community_id = community_id
        self._manifest = manifest

    @property
    def manifest(self) -> Manifest:
        return self._manifest

    @property
    def grants(self) -> frozenset[str]:
        return self._grants

    async def call(self, request: ModuleRequest) -> ModuleResponse:
        return self.limited(await self._client.call(request))

    def limited(self, response: ModuleResponse) -> ModuleResponse:
        """``response`` without what the module was not granted."""
        grants = self._grants
        replies = [
            reply
            for reply in response.replies
            if _needed(reply.visibility is Visibility.DIRECT) in grants
        ]
        overlay = response.overlay if Permission.OVERLAY in grants else []
        actions = [
            action
            for action in response.actions
            if action.type is not ActionKind.WHISPER or Permission.CHAT_WHISPER in grants
        ]
        dropped = (
            len(response.replies)
            - len(replies)
            + len(response.overlay)
            - len(overlay)
            + len(response.actions)
            - len(actions)
        )
        if not dropped:
            return response
        log.warning(
            "module answer beyond its grants dropped",
            module=self.name,
            community_id=self._community_id,
            dropped=dropped,
            grants=sorted(grants),
        )
        metrics.MODULE_ERRORS.labels(self.name, "not_granted").inc(dropped)
        return response.model_copy(
            update={"replies": replies, "overlay": overlay, "actions": actions}
        )

    async def close(self) -> None:
        return None  # the catalogue owns the pooled client


def _needed(direct: bool) -> Permission:
    return Permission.CHAT_WHISPER if direct else Permission.CHAT_SEND
