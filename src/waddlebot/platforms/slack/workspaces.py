"""The workspaces the bot is installed in, and a Web API client for each.

A workspace installed through OAuth keeps its bot token encrypted at rest (a
``platform_tokens`` row: ``account_id`` is the team, ``login`` the bot's user id there). A
single-workspace setup needs no install: ``WADDLEBOT_SLACK_BOT_TOKEN``, whose team and bot
user ``auth.test`` tells.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import structlog
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import Select, select

from waddlebot.infra.changes import ChangeFeed
from waddlebot.infra.db import Database
from waddlebot.infra.db.models import PlatformToken
from waddlebot.infra.secretbox import SecretBox
from waddlebot.infra.single_flight import SingleFlight

log = structlog.get_logger("waddlebot.slack.workspaces")

PLATFORM = "slack"
REMEMBER_SECONDS = 60.0  # a revoked install stops being used within a minute everywhere
WORKSPACE_CHANGES = "slack_workspaces"  # an install, heard by every process (infra/changes.py)
RATE_LIMIT_RETRIES = 5  # each waits out the 429's Retry-After


@dataclass(frozen=True, slots=True)
class Workspace:
    team_id: str
    bot_user_id: str
    client: AsyncWebClient
    community_id: int | None = None


def web_client(token: str, api_url: str) -> AsyncWebClient:
    """slack-sdk's client, waiting out 429s (``Retry-After``) and retrying lost connections."""
    return AsyncWebClient(
        token=token,
        base_url=api_url,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncRateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES),
        ],
    )


class Workspaces:
    """``feed`` tells every process of a new install at once, so the one sending replies
    does not go on taking the workspace for one it is not installed in for a minute."""

    def __init__(
        self,
        db: Database,
        box: SecretBox,
        *,
        api_url: str,
        single_token: str = "",
        feed: ChangeFeed | None = None,
    ) -> None:
        self._db = db
        self._box = box
        self._api_url = api_url
        self._single_token = single_token
        self._single: Workspace | None = None
        self._known: dict[str, tuple[float, Workspace | None]] = {}
        self._looking: SingleFlight[str, Workspace | None] = SingleFlight()
        self._feed = feed
        if feed is not None:
            feed.watch(WORKSPACE_CHANGES, self._forget)

    async def _forget(self, team_id: str) -> None:
        self._known.pop(team_id, None)
        self._looking.forget(team_id)

    async def save(
        self,
        *,
        team_id: str,
        bot_user_id: str,
        bot_token: str,
        scopes: Sequence[str],
        community_id: int | None,
    ) -> None:
        """Keep (or replace) a workspace's install."""
        async with self._db.session() as session:
            row = await session.scalar(_row(team_id))
            if row is None:
                row = PlatformToken(platform=PLATFORM, account_id=team_id, purpose="bot")
                session.add(row)
            row.login = bot_user_id
            row.access_token = self._box.encrypt(bot_token)
            row.scopes = list(scopes)
            row.community_id = community_id
            row.status = "ok"
        await self._forget(team_id)
        if self._feed is not None:
            await self._feed.publish(WORKSPACE_CHANGES, team_id)
        log.info("slack workspace installed", team=team_id, community_id=community_id)

    async def get(self, team_id: str) -> Workspace | None:
        """The workspace's client, or None when the bot is not installed there."""
        now = time.monotonic()
        found = self._known.get(team_id)
        if found is not None and found[0] > now:
            return found[1]
        # a burst of events from the workspace waits for one lookup (and Slack for one
        # auth.test, which it rate limits), not one each
        workspace = await self._looking.run(team_id, lambda: self._look_up(team_id))
        self._known[team_id] = (now + REMEMBER_SECONDS, workspace)
        return workspace

    async def _look_up(self, team_id: str) -> Workspace | None:
        return await self._installed(team_id) or await self._single_for(team_id)

    async def _installed(self, team_id: str) -> Workspace | None:
        async with self._db.read_session() as session:
            row = await session.scalar(_row(team_id))
        if row is None or row.status != "ok":
            return None
        token = self._box.decrypt(row.access_token)
        return Workspace(team_id, row.login, web_client(token, self._api_url), row.community_id)

    async def _single_for(self, team_id: str) -> Workspace | None:
        single = await self.single()
        return single if single is not None and single.team_id == team_id else None

    async def single(self) -> Workspace | None:
        """The workspace of ``WADDLEBOT_SLACK_BOT_TOKEN``, if one is set."""
        if self._single is None and self._single_token:
            client = web_client(self._single_token, self._api_url)
            who = await client.auth_test()
            self._single = Workspace(str(who["team_id"]), str(who["user_id"]), client)
        return self._single


def _row(team_id: str) -> Select[PlatformToken]:
    return select(PlatformToken).where(
        PlatformToken.platform == PLATFORM, PlatformToken.account_id == team_id
    )
