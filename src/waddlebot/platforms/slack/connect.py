"""Installing the app into a workspace with Slack's OAuth v2 flow, bound to a community by a
one-time ticket (:mod:`waddlebot.platforms.oauth_tickets`): ``/collectors/slack/oauth/start``
sends the browser to Slack; on the way back the code is exchanged (``oauth.v2.access``), the
installer checked (an owner or admin of the workspace), the bot token kept encrypted, and the
workspace (with every channel of it) joins the community the ticket named."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import structlog
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from waddlebot.core.settings import CoreSettings
from waddlebot.infra.audit import AuditLog
from waddlebot.infra.ports import Cache
from waddlebot.infra.secretbox import SecretBox
from waddlebot.platforms.oauth_tickets import ConnectError, OAuthTickets
from waddlebot.platforms.platform import Communities
from waddlebot.platforms.slack.settings import SlackSettings
from waddlebot.platforms.slack.translate import PLATFORM, Person, workspace_entity
from waddlebot.platforms.slack.workspaces import Workspaces, web_client

log = structlog.get_logger("waddlebot.slack.connect")

START_PATH = "/collectors/slack/oauth/start"
CALLBACK_PATH = "/collectors/slack/oauth/callback"
BOT_SCOPES = (
    "app_mentions:read",
    "channels:history",
    "groups:history",
    "im:history",
    "mpim:history",
    "chat:write",
    "commands",
    "im:write",
    "users:read",
)


class SlackConnect:
    def __init__(
        self,
        settings: CoreSettings,
        *,
        box: SecretBox,
        cache: Cache,
        workspaces: Workspaces,
        community: Communities,
        audit: AuditLog,
    ) -> None:
        slack = self._slack = settings.section(SlackSettings)
        self._tickets = OAuthTickets(box, cache, "slack")
        self._workspaces = workspaces
        self._community = community
        self._audit = audit
        self._public = settings.public_base_url(slack.slack_public_url)

    @property
    def redirect_uri(self) -> str:
        return f"{self._public}{CALLBACK_PATH}"

    def ticket_url(self, *, community_id: int, actor: str) -> str:
        """The link that installs the app into a workspace for ``community_id``."""
        ticket = self._tickets.ticket({"c": community_id, "a": actor})
        return f"{self._public}{START_PATH}?{urlencode({'ticket': ticket})}"

    async def authorize_url(self, ticket: str, browser: str) -> str:
        state, _ = self._tickets.state_for(ticket, browser)
        query = {
            "client_id": self._slack.slack_client_id,
            "scope": ",".join(BOT_SCOPES),
            "redirect_uri": self.redirect_uri,
            "state": state,
        }
        return f"{self._slack.slack_authorize_url}?{urlencode(query)}"

    async def complete(self, code: str, state: str, browser: str) -> tuple[str, int]:
        """Exchange the code; returns (team id, community id)."""
        grant = await self._tickets.redeem(state, browser)
        community_id, actor = int(grant["c"]), str(grant.get("a", ""))
        client = AsyncWebClient(base_url=self._slack.slack_api_url)
        try:
            answer = await client.oauth_v2_access(
                client_id=self._slack.slack_client_id,
                client_secret=self._slack.slack_client_secret.get_secret_value(),
                code=code,
                redirect_uri=self.redirect_uri,
            )
        except SlackApiError as exc:
            log.warning("slack oauth exchange refused", error=exc.response.get("error"))
            raise ConnectError("Slack did not accept the sign-in; start again") from exc
        team = answer.get("team") or {}
        team_id, token = str(team.get("id") or ""), str(answer.get("access_token") or "")
        if not team_id or not token.startswith("xoxb-"):
            raise ConnectError("Slack did not give a bot token for a workspace; start again")
        await self._check_installer(token, team_id, answer.get("authed_user") or {})
        await self._workspaces.save(
            team_id=team_id,
            bot_user_id=str(answer.get("bot_user_id") or ""),
            bot_token=token,
            scopes=str(answer.get("scope") or "").split(","),
            community_id=community_id,
        )
        await self._community.attach(
            community_id,
            workspace_entity(team_id),
            PLATFORM,
            server_id=team_id,
            name=str(team.get("name") or team_id),
            actor=actor,
        )
        self._audit.record(
            "slack.install",
            decision="change",
            actor=actor,
            target=f"slack:{team_id}",
            community_id=community_id,
            detail={"team": str(team.get("name") or "")},
        )
        return team_id, community_id

    async def _check_installer(self, token: str, team_id: str, authed: Any) -> None:
        """Installing moves the whole workspace into the community: only the workspace's
        owners and admins may (as only a broadcaster connects a Twitch channel)."""
        user_id = str(authed.get("id") or "") if isinstance(authed, dict) else ""
        try:
            found = await web_client(token, self._slack.slack_api_url).users_info(user=user_id)
        except SlackApiError as exc:
            raise ConnectError("Slack did not say who installed the app; start again") from exc
        person = Person.from_user(found["user"], team_id)
        if not (person.is_owner or person.is_admin):
            log.warning("slack install refused: not an owner or admin", team=team_id, user=user_id)
            raise ConnectError("only an owner or admin of the workspace can add it to a community")
