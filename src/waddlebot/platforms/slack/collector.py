"""The Slack collector of one process: Events API deliveries and slash commands in (over HTTP,
or over Socket Mode for a workspace without a public URL), canonical events on the bus, and
the replies out through the Web API from one leading process.

A delivery is acknowledged once its event is on the bus; Slack's retries of it (the same
``event_id``) are acknowledged without publishing it again. A slash command is answered in
its response when the router answers within ``WADDLEBOT_SLACK_INLINE_WAIT_SECONDS`` as one
message, else acknowledged and answered through its ``response_url``
(:mod:`waddlebot.platforms.answering`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog

from waddlebot.core.contract import Visibility
from waddlebot.core.events import Event
from waddlebot.core.settings import CoreSettings
from waddlebot.infra.audit import AuditLog
from waddlebot.infra.changes import ChangeFeed
from waddlebot.infra.completion import CompletionHub
from waddlebot.infra.connections import Changed, Link, Watch
from waddlebot.infra.db import Database
from waddlebot.infra.leadership import Leadership
from waddlebot.infra.ports import Ports
from waddlebot.infra.secretbox import SecretBox
from waddlebot.platforms.answering import (
    AnswerStates,
    answer_in_time,
    answers_to,
    publish_event,
)
from waddlebot.platforms.platform import Communities
from waddlebot.platforms.slack import translate
from waddlebot.platforms.slack.connect import SlackConnect
from waddlebot.platforms.slack.outbound import MAX_LENGTH, SlackOutbound, escape
from waddlebot.platforms.slack.people import People
from waddlebot.platforms.slack.settings import SlackSettings
from waddlebot.platforms.slack.socket_mode import SocketModeReceiver
from waddlebot.platforms.slack.workspaces import Workspaces

log = structlog.get_logger("waddlebot.slack")

PLATFORM = "slack"
SEEN_SECONDS = 3600  # Slack's last retry comes 5 minutes after the first delivery
RESPONSE_URL_TTL = 30 * 60  # a response_url works this long
NOTHING_TO_SAY = "Done."


class SlackCollector:
    def __init__(
        self,
        settings: CoreSettings,
        *,
        ports: Ports,
        db: Database,
        community: Communities,
        audit: AuditLog,
        consumer: str,
        completions: CompletionHub | None = None,
        feed: ChangeFeed | None = None,
    ) -> None:
        slack = self._slack = settings.section(SlackSettings)
        self._ports = ports
        self._completions = completions
        self.inline_wait = slack.slack_inline_wait_seconds
        box = SecretBox.from_settings(settings)
        self.workspaces = Workspaces(
            db,
            box,
            api_url=slack.slack_api_url,
            single_token=slack.slack_bot_token.get_secret_value(),
            feed=feed,
        )
        self.people = People(ports.cache)
        self.states = AnswerStates(ports.cache, PLATFORM, ttl=RESPONSE_URL_TTL)
        self.outbound = SlackOutbound(
            ports.bus,
            self.workspaces,
            self.states,
            consumer=consumer,
            settle_wait=self.inline_wait + 1.0,
        )
        self._leadership = Leadership(
            ports.lease,
            PLATFORM,
            consumer,
            on_gain=self.outbound.start,
            on_loss=self.outbound.stop,
        )
        self.connect = (
            SlackConnect(
                settings,
                box=box,
                cache=ports.cache,
                workspaces=self.workspaces,
                community=community,
                audit=audit,
            )
            if slack.slack_client_id
            else None
        )
        app_token = slack.slack_app_token.get_secret_value()
        self.changed = Changed()
        self.watch = (
            Watch("Socket Mode", self.changed)
            if app_token
            else Watch("webhook (HTTP events)", self.changed, "webhook")
        )
        self.socket = (
            SocketModeReceiver(app_token, slack.slack_api_url, self, self.watch)
            if app_token
            else None
        )

    @property
    def signing_secret(self) -> str:
        return self._slack.slack_signing_secret.get_secret_value()

    @property
    def leading(self) -> bool:
        return self._leadership.leading

    async def try_lead(self) -> bool:
        return await self._leadership.try_lead()

    async def connections(self) -> list[Link]:
        return [self.watch.link() if self.socket is None else self.socket.link()]

    async def start(self) -> None:
        await self._leadership.start()
        if self.socket is not None:
            await self.socket.start()

    async def stop(self) -> None:
        if self.socket is not None:
            await self.socket.stop()
        await self._leadership.stop()
        await self.outbound.close()

    # ----- Events API ----------------------------------------------------------------------

    async def accept_event(self, envelope: Mapping[str, Any]) -> None:
        """An ``event_callback``: on the bus (once, however often Slack retries it).
        Raises :class:`~waddlebot.platforms.slack.translate.MalformedPayload`."""
        event_id, team_id, inner = translate.checked_delivery(envelope)
        self.watch.heard()
        event = await self._translate(team_id, inner)
        if event is not None:  # else nothing to publish, nor to remember for a retry
            once = (f"slack:seen:{event_id}", SEEN_SECONDS)
            await publish_event(self._ports.bus, event, once=once)

    async def _translate(self, team_id: str, inner: Mapping[str, Any]) -> Event | None:
        kind = inner.get("type")
        if kind not in ("message", "app_mention", "member_joined_channel"):
            return None
        workspace = await self.workspaces.get(team_id)
        if workspace is None:
            log.warning("slack event from a workspace the bot is not installed in", team=team_id)
            return None
        if kind == "member_joined_channel":
            user = translate.joined_user(inner)
            if user == workspace.bot_user_id:
                return None
            person = await self.people.get(workspace, user)
            return translate.member_joined(team_id, inner, person)
        speaker = translate.speaker(inner, workspace.bot_user_id)
        if speaker is None:
            return None  # the bot itself, another bot, an edit or a deletion
        person = await self.people.get(workspace, speaker)
        return translate.message(team_id, inner, person, bot_user_id=workspace.bot_user_id)

    # ----- slash commands ------------------------------------------------------------------

    async def answer_command(self, fields: Mapping[str, Any]) -> dict[str, Any] | None:
        """A slash command on the bus; returns the command's response (the answer when the
        router gives it in time as one message), or None for an empty acknowledgement (the
        answer follows through ``response_url``)."""
        translate.check_command(fields)
        self.watch.heard()
        team_id, user_id = fields["team_id"], fields["user_id"]
        workspace = await self.workspaces.get(team_id)
        if workspace is None:
            return _reply("This workspace has not installed WaddleBot.", private=True)
        person = await self.people.get(workspace, user_id)
        event = translate.slash_command(fields, person)
        return await answer_in_time(
            self.states,
            event.message_id,
            {"response_url": fields["response_url"]},
            event,
            bus=self._ports.bus,
            completions=self._completions,
            wait=self.inline_wait,
            inline=lambda replies: _inline(replies, event.message_id),
        )


def _inline(replies: list[dict[str, Any]], command_id: str) -> dict[str, Any] | None:
    mine = answers_to(replies, command_id)
    if not mine:
        return _reply(NOTHING_TO_SAY, private=True)
    if len(mine) > 1 or len(escape(mine[0].text)) > MAX_LENGTH:
        return None
    (answer,) = mine
    return _reply(answer.text, private=answer.visibility is not Visibility.CHANNEL)


def _reply(text: str, *, private: bool) -> dict[str, Any]:
    return {"response_type": "ephemeral" if private else "in_channel", "text": escape(text)}
